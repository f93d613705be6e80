"""Composing the project's Hydra config tree without Ray, as the launcher does.

Where the tree is, :data:`recipe.conf.CONF_DIR`, is said by the config package itself (recipe/conf/__init__.py),
so the tools that only read configs need not import the driver.
"""

from __future__ import annotations

from omegaconf import DictConfig

from recipe.conf import CONF_DIR


def compose(overrides: list[str], config_name: str = "train") -> DictConfig:
    """``recipe/conf/<config_name>.yaml`` with ``overrides``, as ``python -m recipe.driver.train`` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from recipe.driver import sweep_dir

    sweep_dir.register()
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return hydra_compose(config_name, overrides=overrides)
