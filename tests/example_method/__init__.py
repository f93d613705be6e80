"""A data-side method added as one folder (docs/adding-a-method.md): a random-skip baseline.

Importing this package registers the method ``random_skip`` (random_skip.py); the config selects it with
``algorithm=random_skip`` (conf/algorithm/random_skip.yaml here, found through ``hydra.searchpath``), which
names this package in ``method_modules`` so the trainer's process imports it. Test-only: no file outside
this folder was edited to add it.
"""

from example_method import random_skip  # noqa: F401  (registers "random_skip")
