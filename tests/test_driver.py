"""The driver (recipe/driver/): no import circle with the refusals, no import of the study, assets built by the
builder the config names."""

import importlib
import inspect
import subprocess
import sys

from omegaconf import OmegaConf

from recipe.driver.compose import compose
from recipe.driver.startup import build_local_assets


def test_the_driver_and_the_plan_load_without_the_study():
    code = (
        "import sys, recipe.driver.startup, recipe.driver.show_plan, recipe.driver.plan_of_config; "
        "print(sorted(m for m in sys.modules if m.startswith('benchmarks.cpu_study')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_plan_module_the_refusals_import_imports_no_refusals():
    """recipe/erpo/refusals.py imports plan_of_config; the CLI that needs the refusals is show_plan, apart."""
    source = inspect.getsource(importlib.import_module("recipe.driver.plan_of_config"))
    assert "refusals" not in source.split('"""', 2)[2]


def test_startup_calls_the_builder_the_config_names(tmp_path, monkeypatch):
    (tmp_path / "fake_assets.py").write_text(
        "from pathlib import Path\n\ndef build(out_dir):\n    Path(out_dir, 'built').write_text('yes')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = OmegaConf.create(
        {
            "assets": {"builder": {"_target_": "fake_assets.build", "out_dir": str(tmp_path)}},
            "data": {"name": "gsm8k", "train_files": None, "val_files": None},
            "actor_rollout_ref": {"model": {"path": str(tmp_path / "no_model")}},
        }
    )
    build_local_assets(config)
    assert (tmp_path / "built").read_text() == "yes"


def test_the_cpu_study_model_names_the_study_builder():
    cfg = compose(["model=cpu_study"])
    builder = cfg.assets.builder
    module, name = builder._target_.rsplit(".", 1)
    assert (module, name) == ("benchmarks.cpu_study.model", "build_assets")
    assert builder.out_dir == cfg.assets.study_dir
    assert "out_dir" in inspect.signature(getattr(importlib.import_module(module), name)).parameters


def test_in_driver_task_runner_answers_run_ppos_two_calls_with_the_recipes_runner(monkeypatch):
    """verl's run_ppo calls ``task_runner_class.remote().run.remote(config)`` and ray.get()s the result; with
    platform.task_runner_in_driver the recipe's runner runs here, on a copy of the config (verl's runner resolves
    it in place, as its actor did on its own copy)."""
    from omegaconf import OmegaConf

    from recipe.driver import train

    seen = []
    monkeypatch.setattr(train.ERPOTaskRunner.__ray_actor_class__, "run", lambda self, config: seen.append(config))
    monkeypatch.setattr(train.ray, "put", lambda value: ("ref", value))
    monkeypatch.delenv("VERL_PLATFORM", raising=False)
    config = OmegaConf.create({"trainer": {"v1": {"trainer_mode": "sync"}}})
    assert train.InDriverTaskRunner.remote().run.remote(config) == ("ref", None)
    assert seen == [config] and seen[0] is not config
