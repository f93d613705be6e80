"""Multirun sub-directory named by the overrides that vary across the sweep (seed excluded).

Hydra's ``override_dirname`` lists every command-line override, so fixed ones
(``trainer.save_freq=-1``) end up in every directory name. This resolver keeps only the keys
that are swept, on the command line (``a=1,2``, ``range(...)``, ``glob(...)``) or in
``hydra.sweeper.params`` (a sweep config file), and writes this job's values for them.
"""

from __future__ import annotations

import sys

from omegaconf import OmegaConf

RESOLVER = "erpo_sweep_dirname"
# Never part of a directory name: seeds of one setting land side by side under seed=<n>.
EXCLUDED = frozenset({"seed", "sweep", "experiment"})


def swept_keys(argv: list[str], sweeper_params: dict | None) -> set[str]:
    """Keys that take more than one value in this multirun."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    keys = {o.get_key_element() for o in parser.parse_overrides([a for a in argv if "=" in a]) if o.is_sweep_override()}
    for key, value in (sweeper_params or {}).items():
        parsed = parser.parse_overrides([f"{key}={value}"])[0]
        if parsed.is_sweep_override():
            keys.add(parsed.get_key_element())
    return keys


def sweep_dirname(task_overrides: list[str], argv: list[str], sweeper_params: dict | None) -> str:
    """``key=value,...`` of this job for the swept keys, sorted; ``default`` when none vary."""
    swept = swept_keys(argv, sweeper_params) - EXCLUDED
    parts = []
    for item in task_overrides:
        key = item.split("=", 1)[0]
        if key.lstrip("+~") in swept:
            parts.append(item.lstrip("+~"))
    return ",".join(sorted(parts)) or "default"


def _resolve(task_overrides) -> str:
    from hydra.core.hydra_config import HydraConfig

    params = HydraConfig.get().sweeper.get("params")
    params = OmegaConf.to_container(params) if params is not None else None
    return sweep_dirname(list(task_overrides), sys.argv[1:], params)


def register() -> None:
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, _resolve)
