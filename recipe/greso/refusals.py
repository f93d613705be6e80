"""GRESO's refusals: its fields are valid and GRESO is combined only with what composes with it (docs/greso.md).

Called through the method registry (erpo/components.py) before Ray starts; each raises ConfigError naming the
field and the fix.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from erpo.errors import ConfigError
from erpo.greso import GRESOConfig
from erpo.greso.config import refuse_mean_score_with_erpo


def check_greso_fields(config) -> GRESOConfig:
    greso_cfg = GRESOConfig.from_dict(OmegaConf.to_container(config.get("greso") or {}, resolve=True))
    if not greso_cfg.enabled:
        return greso_cfg
    if (config.get("prepo") or {}).get("enabled", False):
        raise ConfigError(
            "greso.enabled=true with prepo.enabled=true: both choose which prompts are rolled out (GRESO skips "
            "predicted zero-variance prompts, PREPO keeps a perplexity window), and combining them is not defined; "
            "set one of them to false (algorithm=greso or algorithm=prepo)."
        )
    v1 = config.trainer.get("v1") or {}
    mode = v1.get("trainer_mode", "sync")
    sync_step = (v1.get(mode) or {}).get("parameter_sync_step", 1)
    if sync_step != 1:
        raise ConfigError(
            f"trainer.v1.{mode}.parameter_sync_step={sync_step} with greso.enabled=true: GRESO adapts its keep "
            "probabilities once per training step from that step's groups, and this recipe closes a step once per "
            "sampled batch; set parameter_sync_step=1."
        )
    refuse_mean_score_with_erpo(greso_cfg, bool((config.get("erpo") or {}).get("enabled", False)))
    return greso_cfg
