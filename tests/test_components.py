"""The data-side component protocol (erpo/components.py): the registry, the pure core's imports, a checkpoint
of the layout before components, and a method added as one folder (tests/example_method)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.components import StepContext, build_components, choose_batch, close_step, registered
from erpo.errors import ConfigError, InputError
from recipe.common.components import load_component_states, save_component_states
from recipe.conf import CONF_DIR
from recipe.erpo.refusals import ConfigRefused, refuse_bad_fields

ROOT = Path(__file__).resolve().parents[1]
CONF = CONF_DIR
EXAMPLE = Path(__file__).resolve().parent / "example_method"
OLD_CHECKPOINT = Path(__file__).resolve().parent / "fixtures" / "checkpoint_before_components"


def _compose(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("train", overrides=list(overrides))


# verl's config tree (recipe/conf/train.yaml's own search path) and the example's conf/ folder.
SEARCHPATH = f"hydra.searchpath=[pkg://verl.trainer.config,file://{EXAMPLE / 'conf'}]"


def _with_example(*overrides):
    return _compose(SEARCHPATH, "algorithm=random_skip", *overrides)


@pytest.fixture(autouse=True)
def _example_method_stays_in_its_test():
    """The example registers itself at import, into the process-wide registry: later tests of this worker must
    not find it there (its refusals run for every registered method), so it leaves with the modules it loaded."""
    from erpo import components

    before = dict(components._REGISTRY)
    yield
    components._REGISTRY.clear()
    components._REGISTRY.update(before)
    for name in [m for m in sys.modules if m == "example_method" or m.startswith("example_method.")]:
        del sys.modules[name]


def test_the_protocol_module_imports_without_torch_ray_or_verl():
    code = (
        "import sys, erpo.components; bad = [m for m in ('torch', 'verl', 'ray') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---- a checkpoint written before the components -------------------------------------------
def _trainer_cfg(folder: Path):
    return OmegaConf.create({"default_local_dir": str(folder), "resume_mode": "auto"})


def test_a_checkpoint_of_the_layout_before_components_loads_greso_from_the_tracker_file(tmp_path, capsys):
    shutil.copytree(OLD_CHECKPOINT, tmp_path, dirs_exist_ok=True)
    old = json.loads((tmp_path / "global_step_2" / "erpo_state.json").read_text())
    components = build_components(_compose("algorithm=greso", "experiment=smoke"))
    assert [c.name for c in components] == ["rollouts", "greso", "erpo"]
    load_component_states(components, _trainer_cfg(tmp_path), 2)
    rollouts, greso, erpo = components
    assert greso.selector.state_dict() == old["greso"]  # GRESO's state came out of erpo_state.json
    assert erpo.controller.tracker.state_dict() == old["tracker"]
    assert rollouts.counter.state_dict() == json.loads((tmp_path / "global_step_2" / "rollouts_state.json").read_text())
    printed = capsys.readouterr().out
    assert "GRESO state restored from" in printed and "candidates_total=16, skipped_total=1" in printed
    # saved again, each component has a file of its own and the tracker file no longer carries GRESO
    save_component_states(components, _trainer_cfg(tmp_path), 3)
    step3 = tmp_path / "global_step_3"
    assert json.loads((step3 / "greso_state.json").read_text()) == old["greso"]
    assert json.loads((step3 / "erpo_state.json").read_text())["greso"] is None


def test_an_old_checkpoint_loads_prepo_and_a_missing_file_names_the_fix(tmp_path):
    shutil.copytree(OLD_CHECKPOINT, tmp_path, dirs_exist_ok=True)
    components = build_components(_compose("algorithm=prepo", "experiment=smoke"))
    load_component_states(components, _trainer_cfg(tmp_path), 2)
    assert components[1].state.rollouts_used == 8
    (tmp_path / "global_step_2" / "prepo_state.json").unlink()
    with pytest.raises(RuntimeError, match=r"prepo_state\.json.*prepo\.enabled=true"):
        load_component_states(
            build_components(_compose("algorithm=prepo", "experiment=smoke")), _trainer_cfg(tmp_path), 2
        )


def test_greso_without_its_file_nor_an_entry_in_the_tracker_file_is_refused(tmp_path):
    shutil.copytree(OLD_CHECKPOINT, tmp_path, dirs_exist_ok=True)
    tracker_file = tmp_path / "global_step_2" / "erpo_state.json"
    state = json.loads(tracker_file.read_text())
    del state["greso"]
    tracker_file.write_text(json.dumps(state))
    with pytest.raises(RuntimeError, match=r"greso_state\.json.*greso\.enabled=true"):
        load_component_states(
            build_components(_compose("algorithm=greso", "experiment=smoke")), _trainer_cfg(tmp_path), 2
        )


# ---- a method added as one folder: tests/example_method --------------------------------------
def _loader(num_prompts: int, chunk: int):
    position = {"next": 0, "requests": []}

    def draw(num=None):
        num = num or chunk
        assert num % chunk == 0
        position["requests"].append(num)
        index = list(range(position["next"], position["next"] + num))
        position["next"] += num
        return tu.get_tensordict(
            {
                "input_ids": torch.tensor(index).unsqueeze(1),
                "data_source": np.array(["toy"] * num, dtype=object),
                "index": np.array(index, dtype=object),
            }
        )

    return draw, position


def test_the_example_composes_from_its_own_folder_and_builds_through_the_registry():
    cfg = _with_example("experiment=smoke")
    assert cfg.variant == "random_skip" and cfg.random_skip.p == 0.25
    refuse_bad_fields(cfg)
    assert [c.name for c in build_components(cfg)] == ["rollouts", "random_skip", "erpo"]
    assert "random_skip" in registered()
    with pytest.raises(ConfigRefused, match=r"random_skip\.p=1\.0"):
        refuse_bad_fields(_with_example("experiment=smoke", "random_skip.p=1.0"))
    with pytest.raises(ConfigError, match=r"method_modules: cannot import 'no_such_method'"):
        build_components(_with_example("experiment=smoke", "method_modules=[no_such_method]"))


SCHEDULE_MODULE = """
from erpo.config_builder import require
from erpo.erpo.temperature import Schedule, register_schedule


@register_schedule("streak_step")
class StreakStep(Schedule):
    params = ("step",)

    def check(self, cfg, prefix):
        require(0 < cfg.step <= 0.2, prefix, "step", cfg.step, "must be in (0, 0.2] for streak_step.")

    def raise_(self, current, streak, cfg):
        return current + cfg.step * streak
"""


def test_a_temperature_schedule_from_a_method_module_is_known_before_the_erpo_node_is_checked(tmp_path, monkeypatch):
    """docs/erpo.md "Adding a temperature schedule": the module that registers it is named in method_modules."""
    from erpo.erpo.temperature import SCHEDULES

    (tmp_path / "my_schedule.py").write_text(SCHEDULE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = dict(SCHEDULES)
    try:
        with pytest.raises(ConfigRefused, match=r"erpo\.temperature\.schedule='streak_step' is not a known"):
            refuse_bad_fields(_compose("experiment=smoke", "erpo.temperature.schedule=streak_step"))
        on = ("experiment=smoke", "+method_modules=[my_schedule]", "erpo.temperature.schedule=streak_step")
        assert refuse_bad_fields(_compose(*on)).temperature.schedule == "streak_step"
        with pytest.raises(ConfigRefused, match=r"erpo\.temperature\.step=0\.3 must be in \(0, 0\.2\]"):
            refuse_bad_fields(_compose(*on, "erpo.temperature.step=0.3"))
    finally:
        SCHEDULES.clear()
        SCHEDULES.update(saved)
        sys.modules.pop("my_schedule", None)


def test_random_skip_drops_at_rate_p_seeded_fills_the_batch_and_keeps_its_state(tmp_path):
    from example_method.random_skip import RandomSkip

    def run(seed: int):
        skip = RandomSkip(p=0.25, train_batch_size=8, chunk=4)
        draw, position = _loader(10_000, 4)
        kept, ctx = [], StepContext(step=1, seed=seed)
        for step in range(1, 201):
            ctx.step = step
            batch = choose_batch([skip], draw, None, ctx)
            assert len(batch) == 8
            kept += [int(i) for i in batch["index"]]
            metrics = close_step([skip], [], ctx)
        return skip, kept, position, metrics

    skip, kept, position, metrics = run(seed=3)
    assert len(set(kept)) == len(kept)  # no prompt twice; carried prompts are not lost
    drawn = position["next"]
    rate = skip.skipped_total / drawn
    assert abs(rate - 0.25) < 4 * np.sqrt(0.25 * 0.75 / drawn)  # within 4 standard errors of p
    assert metrics["random_skip/skipped_total"] == skip.skipped_total and set(metrics) == {
        "random_skip/skipped",
        "random_skip/skipped_total",
    }
    assert run(seed=3)[1] == kept and run(seed=4)[1] != kept
    restored = RandomSkip(p=0.25, train_batch_size=8, chunk=4)
    assert restored.load_state_dict(json.loads(json.dumps(skip.state_dict()))) == f"skipped_total={skip.skipped_total}"
    with pytest.raises(InputError, match="random-skip state"):
        restored.load_state_dict({"format": "random_skip", "version": 1, "skipped_total": -1})
