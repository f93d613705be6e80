"""Where the project's Hydra config tree is, and composing it without Ray.

``recipe/conf/`` is found here and nowhere else (the launcher, the run plan, the eval, probe and simulator
commands and the tests all take :data:`CONF_DIR` from this module).
"""

from __future__ import annotations

import os

from omegaconf import DictConfig

# recipe/conf/: inside the package, so a wheel ships it and an installed ``erpo-train`` finds it.
CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def compose(overrides: list[str], config_name: str = "train") -> DictConfig:
    """``recipe/conf/<config_name>.yaml`` with ``overrides``, as ``python -m recipe.driver.train`` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from recipe.driver import sweep_dir

    sweep_dir.register()
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return hydra_compose(config_name, overrides=overrides)
