"""Checks and preparation that run in the driver before Ray starts.

Everything a user can get wrong in the config or the data is refused here, with one line
that names the field (or file and row) and the fix, so no Ray cluster or model is started
for a run that cannot work.
"""

from __future__ import annotations

import hashlib
import os

import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf, open_dict

from erpo.config import ConfigError, ERPOConfig
from erpo.prepo.config import PREPO_LOSS_MODE, PREPOConfig
from recipe.erpo.agent_loop import AGENT_NAME
from recipe.erpo.reactivation import ESTIMATOR_NAME

PLUGIN_MODULES = ["recipe.erpo.plugins"]


class ConfigRefused(ValueError):
    """A config or data problem found before Ray starts."""


def preflight(config: DictConfig) -> ERPOConfig:
    """Validate ``config`` and its data, build local assets, set the environment."""
    try:
        erpo_cfg = ERPOConfig.from_dict(OmegaConf.to_container(config.erpo, resolve=True), prefix="erpo")
    except ConfigError as err:
        raise ConfigRefused(str(err)) from None
    check_recipe_fields(config, erpo_cfg)
    check_prepo_fields(config)
    build_local_assets(config)
    for key in ("train_files", "val_files"):
        for path in _as_list(config.data.get(key)):
            check_rl_parquet(path, field=f"data.{key}")
    set_environment(config)
    set_wandb_environment(config)
    write_run_config(config)
    return erpo_cfg


def check_recipe_fields(config: DictConfig, erpo_cfg: ERPOConfig) -> None:
    rollout = config.actor_rollout_ref.rollout
    if rollout.agent.default_agent_loop != AGENT_NAME:
        raise ConfigRefused(
            f"actor_rollout_ref.rollout.agent.default_agent_loop={rollout.agent.default_agent_loop!r}: the ERPO recipe "
            f"needs {AGENT_NAME!r}, the loop that applies per-prompt temperatures; remove the override."
        )
    if config.actor_rollout_ref.model.get("use_fused_kernels", False):
        raise ConfigRefused(
            "actor_rollout_ref.model.use_fused_kernels=true: fused log-prob kernels take one scalar temperature, but "
            "ERPO scores each sample at its own temperature; set actor_rollout_ref.model.use_fused_kernels=false."
        )
    if erpo_cfg.temperature.base != float(rollout.temperature):
        raise ConfigRefused(
            f"erpo.temperature.base={erpo_cfg.temperature.base} differs from actor_rollout_ref.rollout.temperature="
            f"{rollout.temperature}; set both to the same value (the base temperature of a non-residual prompt)."
        )
    if erpo_cfg.ra.enabled and config.algorithm.adv_estimator != ESTIMATOR_NAME:
        raise ConfigRefused(
            f"erpo.ra.enabled=true needs algorithm.adv_estimator={ESTIMATOR_NAME} (got "
            f"{config.algorithm.adv_estimator!r}); use an erpo algorithm preset or set the estimator."
        )


def check_prepo_fields(config: DictConfig) -> PREPOConfig:
    """PREPO's fields, and the verl fields its loss needs, agree (docs/prepo.md)."""
    try:
        prepo_cfg = PREPOConfig.from_dict(OmegaConf.to_container(config.get("prepo") or {}, resolve=True))
    except ValueError as err:
        raise ConfigRefused(str(err)) from None
    actor = config.actor_rollout_ref.actor
    loss_mode = actor.policy_loss.get("loss_mode", "vanilla")
    weighting = prepo_cfg.weighting
    if weighting.enabled and loss_mode != PREPO_LOSS_MODE:
        raise ConfigRefused(
            f"prepo.weighting.enabled=true needs actor_rollout_ref.actor.policy_loss.loss_mode={PREPO_LOSS_MODE} "
            f"(got {loss_mode!r}); use algorithm=prepo or set prepo.weighting.enabled=false."
        )
    if loss_mode == PREPO_LOSS_MODE and not weighting.enabled:
        raise ConfigRefused(
            f"actor_rollout_ref.actor.policy_loss.loss_mode={PREPO_LOSS_MODE} needs prepo.weighting.enabled=true "
            "(the weights come from it); set the loss_mode back to vanilla or enable the weighting."
        )
    if weighting.enabled and weighting.entropy_source == "current" and not actor.get("calculate_entropy", False):
        raise ConfigRefused(
            "prepo.weighting.entropy_source=current needs actor_rollout_ref.actor.calculate_entropy=true "
            "(the loss forward pass must compute token entropies)."
        )
    return prepo_cfg


def check_rl_parquet(path: str, field: str) -> None:
    """Every row needs a data_source and a non-negative integer ``extra_info.index``, unique per source.

    The index is the prompt's stable key in the tracker; verl itself silently uses 0 when it
    is missing, which would merge every prompt's history into one.
    """
    if not os.path.exists(path):
        raise ConfigRefused(f"{field}: file {path!r} does not exist; prepare it with `python -m erpo.data` first.")
    table = pq.read_table(path, columns=["data_source", "extra_info"])
    sources = table.column("data_source").to_pylist()
    extras = table.column("extra_info").to_pylist()
    seen: dict[tuple[str, int], int] = {}
    for row, (source, extra) in enumerate(zip(sources, extras, strict=True)):
        index = (extra or {}).get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigRefused(
                f"{field}: {path} row {row} has extra_info.index={index!r}; every row needs a non-negative integer "
                "dataset index (the prompt's key in the ERPO tracker): re-run `python -m erpo.data`."
            )
        if (source, index) in seen:
            raise ConfigRefused(
                f"{field}: {path} rows {seen[(source, index)]} and {row} share data_source={source!r} and "
                f"extra_info.index={index}; indices must be unique per data source."
            )
        seen[(source, index)] = row


def build_local_assets(config: DictConfig) -> None:
    """Build the tiny model / toy data the CPU configs point at, if they are not there yet."""
    assets = config.get("assets") or {}
    if assets.get("tiny_model_dir"):
        from erpo.tiny import build_tiny_model

        build_tiny_model(assets.tiny_model_dir, seed=int(assets.get("seed", 0)),
                         warm_start_steps=int(assets.get("warm_start_steps", 0)))
    if config.data.get("name") == "toy":
        from erpo.tiny import write_toy_parquet

        write_toy_parquet(assets.toy_train_file, n=int(assets.toy_train_rows), seed=int(assets.get("seed", 0)))
        write_toy_parquet(assets.toy_val_file, n=int(assets.toy_val_rows), seed=int(assets.get("seed", 0)) + 1)
    # Ray workers may not share the driver's working directory: make local paths absolute.
    with open_dict(config):
        model_path = config.actor_rollout_ref.model.path
        if os.path.exists(model_path):
            config.actor_rollout_ref.model.path = os.path.abspath(model_path)
        for key in ("train_files", "val_files"):
            files = _as_list(config.data.get(key))
            if files:
                config.data[key] = [os.path.abspath(p) if os.path.exists(p) else p for p in files]


def set_environment(config: DictConfig) -> None:
    """Environment every Ray process inherits: the platform's own, then our verl plugins."""
    if (config.get("platform") or {}).get("name") == "cpu":
        from recipe.platform.cpu import apply_cpu_environment

        apply_cpu_environment()
    # verl's JSONL logger writes <root>/<project>/<experiment>.jsonl; the default root "." would
    # put it inside the `erpo` package directory.
    os.environ.setdefault("VERL_FILE_LOGGER_ROOT", os.path.abspath("outputs/logs"))
    modules = [m for m in os.environ.get("VERL_USE_EXTERNAL_MODULES", "").split(",") if m]
    modules += [m for m in PLUGIN_MODULES if m not in modules]
    os.environ["VERL_USE_EXTERNAL_MODULES"] = ",".join(modules)


def run_config_path(config: DictConfig) -> str:
    """``<logger root>/<project>/<experiment>.config.json``, beside verl's JSONL metrics file."""
    root = os.environ.get("VERL_FILE_LOGGER_ROOT", os.path.abspath("outputs/logs"))
    return os.path.join(root, str(config.trainer.project_name), f"{config.trainer.experiment_name}.config.json")


def write_run_config(config: DictConfig) -> str:
    """The resolved config of the run beside its JSONL log, so offline analysis (notebooks,
    benchmarks) knows each run's variant, seed, model and schedule without W&B."""
    import json

    path = run_config_path(config)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    resolved = OmegaConf.to_container(config, resolve=True)
    with open(path, "w") as f:
        json.dump(resolved, f, indent=1, default=str)
    return path


def wandb_settings(config: DictConfig) -> dict[str, str]:
    """W&B run identity through its environment variables (verl's wandb.init takes no group/tags).

    group = variant (seeds aggregate), job_type = train, tags = algorithm, model, dataset, schedule;
    the run id derives from the run name, so a resumed run continues the same W&B run.
    """
    name = str(config.trainer.experiment_name)
    run_id = hashlib.sha1(f"{config.trainer.project_name}/{name}".encode()).hexdigest()[:16]
    tags = [str(config.variant), str(config.model_name), str(config.data.name), str(config.erpo.temperature.schedule)]
    return {
        "WANDB_RUN_GROUP": str(config.variant),
        "WANDB_JOB_TYPE": "train",
        "WANDB_TAGS": ",".join(tags),
        "WANDB_RUN_ID": run_id,
        "WANDB_RESUME": "allow",
        "WANDB_MODE": str((config.get("wandb") or {}).get("mode", "online")),
        "WANDB_DIR": os.path.abspath("outputs"),
    }


def set_wandb_environment(config: DictConfig) -> None:
    if "wandb" in _as_list(config.trainer.get("logger")):
        for key, value in wandb_settings(config).items():
            os.environ.setdefault(key, value)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
