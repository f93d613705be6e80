"""The project's Hydra config tree, and the one place that knows where it is.

:data:`CONF_DIR` is this package's own directory. It lives here, not in the driver, so that whoever reads the
configs (the launcher, the run plan, the eval, probe and simulator commands, the tests) depends on the config
tree alone: the tools in ``erpo/`` find their yaml files without importing ``recipe.driver`` and what it loads.

The tree is data shipped inside the ``recipe`` package (pyproject's package-data), so a wheel carries the yaml
files with this module and an installed ``erpo-train`` composes the same configs as a checkout. Hydra skips
``__init__.py`` and ``__pycache__`` when it lists a config directory, so neither is a config or a group.
"""

import os

CONF_DIR = os.path.dirname(os.path.abspath(__file__))
