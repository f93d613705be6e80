"""ERPO: Explore Residual Prompts in Policy Optimization.

Each data-side method's pure core has a folder of its own (``erpo/erpo/``, ``erpo/greso/``, ``erpo/prepo/``,
``erpo/rollouts/``); beside them the shared pure pieces (the component protocol, configs and their builder, the
run plan, input checks, errors, checkpoint files) and the rewards. None imports torch, Ray, verl, vLLM or
transformers, so the algorithm can be read and tested in isolation; tests/test_core_purity.py lists the modules
and checks it. The tools here (data, eval, probe, sim, tables, analysis, tiny) run around the algorithm. verl
glue lives in ``recipe/``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# ERPO's core modules lived at the top of the package until its folder erpo/erpo/ existed; users' code and
# notebooks import them by the old names, which resolve to the very same module objects (so a class, a
# monkeypatch or an isinstance check is one thing under either name). New code imports the new names.
MOVED_MODULES = {
    f"erpo.{name}": f"erpo.erpo.{name}"
    for name in (
        "config",
        "controller",
        "correctness",
        "metrics",
        "prompt_table",
        "temperature",
        "tracker",
        "tracker_state",
    )
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name in MOVED_MODULES and hands back the module at its new name."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def __init__(self):
        self._own_specs = {}

    def create_module(self, spec):
        module = importlib.import_module(MOVED_MODULES[spec.name])
        self._own_specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        # Already executed under its new name; the import system has just set its __spec__ to the old name's,
        # so give it back its own (reload and tools that read __spec__ see the module where it lives).
        module.__spec__ = self._own_specs[module.__name__]


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
