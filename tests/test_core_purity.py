"""The core stays pure, provably: no module of the algorithm core imports torch, Ray, verl, vLLM, transformers or
anything of recipe/, directly or through another module, and every module under erpo/ is classified as core or as
a tool. No module under erpo/, tool or core, imports the driver (recipe.driver) at module level: a tool that
reads configs takes their place from the config package (recipe.conf.CONF_DIR).

The core is the algorithm itself, what the verl glue (recipe/) and the simulator call: the tracker and its state,
the temperature schedules, the controller, the one definition of correct, GRESO's and PREPO's pure parts, the
rollout accounting, the configs and their builder, the run plan, the rewards, the error types, the metrics and
the checkpoint-file helpers. The tools beside it (data preparation, evaluation, the probe, the simulator, the paper
tables, the analysis and the tiny test model) may load heavy libraries when they run.
"""

import ast
import json
import os
import pkgutil
import subprocess
import sys

import erpo

ERPO_DIR = os.path.dirname(os.path.abspath(erpo.__file__))
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
# The verl glue, the driver and the config package: the core is what recipe/ calls, never the other way round.
GLUE = "recipe"
DRIVER = "recipe.driver"

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


def _glue(loaded: dict[str, list[str]]) -> dict[str, list[str]]:
    found = {m: sorted(x for x in new if _under(x, (GLUE,))) for m, new in loaded.items()}
    return {m: g for m, g in found.items() if g}


def _module_level_statements(tree: ast.Module):
    """The statements that run when the module is imported: the body, its if/try/with/class blocks, not the bodies
    of functions (a function may import the driver when it is called)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))


def _driver_imports(path: str) -> list[str]:
    """``path``'s module-level imports of recipe.driver (or of a module inside it), as written."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    found = []
    for node in _module_level_statements(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _under(a.name, (DRIVER,))]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            if _under(node.module, (DRIVER,)) or any(_under(n, (DRIVER,)) for n in names):
                found.append(f"from {node.module} import {', '.join(a.name for a in node.names)}")
    return found


def _erpo_files_importing_the_driver(root: str) -> dict[str, list[str]]:
    """Every .py file under ``root`` (relative path) with its module-level imports of recipe.driver."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                if imports := _driver_imports(path):
                    found[os.path.relpath(path, os.path.dirname(root))] = imports
    return found


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


def test_no_core_module_imports_anything_of_recipe():
    """recipe/ (the verl glue, the driver, the config package) calls the core; the core never loads any of it."""
    assert _glue(_loaded_by(_core())) == {}


def test_no_erpo_module_imports_the_driver_at_module_level():
    found = _erpo_files_importing_the_driver(ERPO_DIR)
    assert not found, f"take CONF_DIR from recipe.conf, or import the driver inside the function that needs it: {found}"


def test_the_check_names_a_module_that_imports_recipe_through_another(tmp_path):
    """The check can fail: a module importing the config package through a helper is named with it."""
    (tmp_path / "helper_mod.py").write_text("import recipe.conf\n")
    (tmp_path / "impure_mod.py").write_text("import helper_mod\n")
    glue = _glue(_loaded_by(["json", "impure_mod"], path_first=str(tmp_path)))
    assert list(glue) == ["impure_mod"] and "recipe.conf" in glue["impure_mod"], glue


def test_the_check_names_the_file_that_imports_the_driver_at_module_level(tmp_path):
    """The check can fail: each way of writing the import is found, in its file; an import inside a function is not."""
    pkg = tmp_path / "erpo"
    (pkg / "tool").mkdir(parents=True)
    (pkg / "tool" / "__main__.py").write_text("from recipe.driver.compose import CONF_DIR\n")
    (pkg / "aliased.py").write_text("import recipe.driver.compose as c\n")
    (pkg / "parent.py").write_text("try:\n    from recipe import driver\nexcept ImportError:\n    pass\n")
    (pkg / "lazy.py").write_text("def f():\n    from recipe.driver.compose import compose\n")
    (pkg / "conf_only.py").write_text("from recipe.conf import CONF_DIR\n")
    assert _erpo_files_importing_the_driver(str(pkg)) == {
        os.path.join("erpo", "tool", "__main__.py"): ["from recipe.driver.compose import CONF_DIR"],
        os.path.join("erpo", "aliased.py"): ["import recipe.driver.compose"],
        os.path.join("erpo", "parent.py"): ["from recipe import driver"],
    }


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
