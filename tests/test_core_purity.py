"""The core stays pure, provably: no module of the algorithm core imports torch, Ray, verl, vLLM or transformers,
directly or through another module, and every module under erpo/ is classified as core or as a tool.

The core is the algorithm itself, what the verl glue (recipe/) and the simulator call: the tracker and its state,
the temperature schedules, the controller, the one definition of correct, GRESO's and PREPO's pure parts, the
rollout accounting, the configs and their builder, the run plan, the rewards, the error types, the metrics and
the checkpoint-file helpers. The tools beside it (data preparation, evaluation, the probe, the simulator, the paper
tables, the analysis and the tiny test model) may load heavy libraries when they run.
"""

import json
import os
import pkgutil
import subprocess
import sys

import erpo

CORE_MODULES = frozenset(
    {
        "erpo",
        "erpo.components",
        "erpo.config_builder",
        "erpo.errors",
        "erpo.inputs",
        "erpo.plan",
        "erpo.state_files",
    }
)
# Core packages: every module inside them is core, so a new GRESO, PREPO or reward module is checked too.
CORE_PACKAGES = ("erpo.erpo", "erpo.greso", "erpo.prepo", "erpo.rewards", "erpo.rollouts")
# Not core: each runs around the algorithm, not inside a training step.
TOOLS = ("erpo.analysis", "erpo.data", "erpo.eval", "erpo.probe", "erpo.sim", "erpo.tables", "erpo.tiny")
HEAVY = ("torch", "ray", "verl", "vllm", "transformers")

# Imports each module in turn in a fresh interpreter and reports what each one newly loaded.
_PROBE = """
import importlib, json, sys
loaded = {}
for name in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(name)
    loaded[name] = sorted(set(sys.modules) - before)
print(json.dumps(loaded))
"""


def _under(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _all_modules() -> list[str]:
    return ["erpo", *sorted(m.name for m in pkgutil.walk_packages(erpo.__path__, "erpo."))]


def _core() -> list[str]:
    return [m for m in _all_modules() if m in CORE_MODULES or _under(m, CORE_PACKAGES)]


def _loaded_by(modules: list[str], path_first: str | None = None) -> dict[str, list[str]]:
    env = dict(os.environ)
    if path_first:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path_first, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _PROBE, *modules], capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _heavy(loaded: dict[str, list[str]]) -> dict[str, list[str]]:
    found = {m: sorted({x.split(".")[0] for x in new} & set(HEAVY)) for m, new in loaded.items()}
    return {m: h for m, h in found.items() if h}


def test_every_erpo_module_is_core_or_a_named_tool():
    unclassified = [m for m in _all_modules() if not (m in CORE_MODULES or _under(m, CORE_PACKAGES + TOOLS))]
    assert not unclassified, f"add each to CORE_MODULES or TOOLS in {__file__}: {unclassified}"
    assert all(m in _all_modules() for m in CORE_MODULES), "a core module listed here no longer exists"


def test_no_core_module_imports_a_heavy_library_or_a_tool():
    loaded = _loaded_by(_core())
    assert set(loaded) == set(_core())
    assert _heavy(loaded) == {}
    tools = {m: [x for x in new if _under(x, TOOLS)] for m, new in loaded.items()}
    assert not {m: t for m, t in tools.items() if t}, tools


def test_the_check_names_a_module_that_imports_a_heavy_library_through_another(tmp_path):
    """The check can fail: a module importing a stand-in ``verl`` through a helper is named with it."""
    (tmp_path / "verl").mkdir()
    (tmp_path / "verl" / "__init__.py").write_text("")
    (tmp_path / "helper_mod.py").write_text("import verl\n")
    (tmp_path / "impure_mod.py").write_text("import helper_mod\n")
    assert _heavy(_loaded_by(["json", "impure_mod"], path_first=str(tmp_path))) == {"impure_mod": ["verl"]}


def test_the_old_names_of_erpos_core_modules_are_the_moved_modules_themselves():
    """Code written before erpo/erpo/ existed imports ``erpo.tracker`` and friends: the same module objects."""
    import importlib

    for old, new in erpo.MOVED_MODULES.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
        assert importlib.import_module(new).__spec__.name == new, f"{new} lost its own __spec__"
    from erpo.tracker import PromptTracker as old_name

    from erpo.erpo.tracker import PromptTracker

    assert old_name is PromptTracker
