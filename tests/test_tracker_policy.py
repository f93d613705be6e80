"""Tracker and temperature policy: unit and property tests (pure Python, no verl)."""

import copy
import json
import pickle
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from erpo.config_builder import require
from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.erpo.temperature import SCHEDULES, Schedule, TemperatureConfig, TemperaturePolicy, register_schedule
from erpo.erpo.tracker import Outcome, PromptTracker, classify
from erpo.errors import ConfigError
from erpo.state_files import read_state, write_state
from recipe.conf import CONF_DIR


def test_classify():
    assert classify(np.array([4, 0, 2]), np.array([4, 4, 4])).tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        classify(np.array([0]), np.array([0]))


def test_record_history_window_and_streak():
    tr = PromptTracker(history_length=2)
    for step, correct in enumerate([4, 4, 2]):
        res = tr.record(step, ["a"], [5], [4], [correct], [correct / 4], [1.0 + step / 10])
    assert res.outcome.tolist() == [Outcome.MIXED] and res.previous_outcome.tolist() == [Outcome.ALL_CORRECT]
    assert res.all_correct_streak.tolist() == [0] and res.visits.tolist() == [3]
    hist = tr.history("a", 5)
    assert [v.step for v in hist] == [1, 2] and [v.n_correct for v in hist] == [4, 2]
    assert len(tr) == 1 and tr.history("a", 4) == [] and tr.history("b", 0) == []


def test_keys_are_per_data_source_and_index_must_be_valid():
    ctl = ERPOController(ERPOConfig.from_dict({"temperature": {"step": 0.3, "t_max": 2.0}}))
    ctl.update(0, ["a", "b"], [0, 0], [4, 4], [4, 2], [1.0, 0.5], [1.0, 1.0])
    assert ctl.assign(["a", "b", "c"], [0, 0, 0]).tolist() == pytest.approx([1.3, 1.0, 1.0])
    with pytest.raises(ValueError, match="extra_info.index"):
        ctl.assign(["a"], [-1])
    with pytest.raises(ValueError, match="extra_info.index"):
        ctl.assign(["a"], [1.5])


def test_duplicate_prompt_in_one_batch_moves_from_the_state_the_first_left():
    """Both occurrences were sampled at 1.0 (assigned before the batch); each all-correct visit moves the
    stored temperature one step, so the prompt ends at 1.2, not at 1.0 + 0.1 twice from temperature_used."""
    ctl = ERPOController(ERPOConfig.from_dict({"temperature": {"step": 0.1, "t_max": 2.0}}))
    result = ctl.tracker.record(
        0, ["a", "a"], [3, 3], [2, 2], [2, 2], [1.0, 1.0], [1.0, 1.0], move_temperature=ctl.policy.next_temperature
    )
    assert result.all_correct_streak.tolist() == [1, 2] and result.visits.tolist() == [1, 2]
    assert result.previous_outcome.tolist() == [Outcome.UNSEEN, Outcome.ALL_CORRECT]
    assert [v.temperature for v in ctl.tracker.history("a", 3)] == pytest.approx([1.0, 1.0], abs=1e-3)
    assert ctl.assign(["a"], [3])[0] == pytest.approx(1.2, abs=1e-5)


def test_state_dict_json_round_trip_and_errors(tmp_path):
    ctl = ERPOController(ERPOConfig())
    ctl.update(1, ["x", "y"], [7, 70000], [4, 4], [4, 1], [1.0, 0.25], [1.0, 1.0])
    path = str(tmp_path / "erpo_state.json")
    write_state(path, ctl.state_dict())
    other = ERPOController(ERPOConfig())
    other.load_state_dict(read_state(path, what="ERPO tracker state", fix="-"))
    assert other.assign(["x", "y"], [7, 70000]).tolist() == ctl.assign(["x", "y"], [7, 70000]).tolist()
    assert other.tracker.history("y", 70000) == ctl.tracker.history("y", 70000)
    assert json.dumps(other.state_dict(), sort_keys=True) == json.dumps(ctl.state_dict(), sort_keys=True)
    state = json.loads(json.dumps(ctl.state_dict()))
    with pytest.raises(ConfigError, match="history window"):
        ERPOController(ERPOConfig(history_length=3)).load_state_dict(state)


def test_memory_per_prompt_under_200_bytes():
    tr = PromptTracker(history_length=8)
    n = 100_000
    tr.record(0, ["s"] * n, np.arange(n), np.full(n, 8), np.full(n, 8), np.ones(n), np.ones(n))
    assert tr.nbytes() / n < 200


SCHEDULE_CFGS = {
    "constant": {},
    "additive": {"step": 0.1},
    "multiplicative": {"factor": 1.1},
    "table": {"table": (1.1, 1.2, 1.3)},
}


@settings(max_examples=60, deadline=None)
@given(
    schedule=st.sampled_from(sorted(SCHEDULE_CFGS)),
    outcomes=st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=30),
    on_mixed=st.sampled_from(["reset", "hold", "decay"]),
    all_wrong=st.sampled_from(["off", "lower", "raise"]),
)
def test_temperature_stays_in_bounds(schedule, outcomes, on_mixed, all_wrong):
    cfg = TemperatureConfig(
        schedule=schedule, on_mixed=on_mixed, all_wrong=all_wrong, t_max=1.4, **SCHEDULE_CFGS[schedule]
    )
    policy = TemperaturePolicy(cfg)
    t, streak = np.array([1.0]), 0
    for o in outcomes:
        streak = streak + 1 if o == Outcome.ALL_CORRECT else 0
        t = policy.next_temperature(t, np.array([o]), np.array([streak]))
        floor = cfg.t_min if all_wrong == "lower" else 0
        assert floor <= t[0] <= cfg.t_max + 1e-9


@pytest.mark.parametrize("schedule", sorted(SCHEDULE_CFGS))
def test_repeated_all_correct_is_monotone_to_cap(schedule):
    policy = TemperaturePolicy(TemperatureConfig(schedule=schedule, **SCHEDULE_CFGS[schedule]))
    t, seen = np.array([1.0]), []
    for streak in range(1, 30):
        t = policy.next_temperature(t, np.array([Outcome.ALL_CORRECT]), np.array([streak]))
        seen.append(t[0])
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False)) and seen[-1] <= 1.4 and seen[0] > 1.0


def test_on_mixed_rules():
    mixed = np.array([Outcome.MIXED])
    for rule, expected in [("reset", 1.0), ("hold", 1.3), ("decay", 1.15)]:
        policy = TemperaturePolicy(TemperatureConfig(on_mixed=rule, decay=0.5))
        assert policy.next_temperature(np.array([1.3]), mixed, np.array([0]))[0] == pytest.approx(expected)


def test_all_wrong_off_by_default():
    policy = TemperaturePolicy(TemperatureConfig())
    wrong = np.array([Outcome.ALL_WRONG])
    assert policy.next_temperature(np.array([1.2]), wrong, np.array([0]))[0] == pytest.approx(1.2)


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"temperature": {"t_max": 0.5}}, "erpo.temperature.t_max"),
        ({"temperature": {"base": 0}}, "erpo.temperature.base"),
        ({"temperature": {"schedule": "cosine"}}, "erpo.temperature.schedule"),
        ({"temperature": {"on_mixed": "forget"}}, "erpo.temperature.on_mixed"),
        ({"temperature": {"all_wrong": False}}, "erpo.temperature.all_wrong"),
        ({"temperature": {"schedule": "table"}}, "erpo.temperature.table"),
        ({"temperature": {"schedule": "multiplicative", "factor": 0.9}}, "erpo.temperature.factor"),
        ({"history_length": 0}, "erpo.history_length"),
        ({"correct_threshold": 0}, "erpo.correct_threshold"),
        ({"windw": 4}, "erpo.windw"),
    ],
)
def test_invalid_config_names_the_field(bad, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        ERPOConfig.from_dict(bad)


@contextmanager
def _registry_restored():
    """The schedule registry, given back as it was: other tests of this process share it."""
    saved = dict(SCHEDULES)
    try:
        yield SCHEDULES
    finally:
        SCHEDULES.clear()
        SCHEDULES.update(saved)


@pytest.fixture
def schedule_registry():
    with _registry_restored() as registry:
        yield registry


def test_the_registry_is_restored_after_a_registration_even_a_failed_one():
    before = dict(SCHEDULES)
    with pytest.raises(RuntimeError, match="test ends here"), _registry_restored():

        @register_schedule("additive")
        class Replaced(Schedule):
            def check(self, cfg, prefix):
                pass

            def raise_(self, current, streak, cfg):
                return current

        assert SCHEDULES["additive"] is not before["additive"]
        raise RuntimeError("test ends here")
    assert SCHEDULES == before and all(SCHEDULES[k] is v for k, v in before.items())


def test_a_schedule_registered_outside_temperature_config_checks_its_knob_and_runs(schedule_registry):
    """A schedule written in a test: its own check names its field, and the controller's policy runs it."""

    @register_schedule("streak_step")
    class StreakStep(Schedule):
        """T <- T + step * streak: larger steps the longer a prompt stays all correct."""

        params = ("step",)

        def check(self, cfg, prefix):
            require(0 < cfg.step <= 0.2, prefix, "step", cfg.step, "must be in (0, 0.2] for streak_step.")

        def raise_(self, current, streak, cfg):
            return current + cfg.step * streak

    with pytest.raises(ConfigError, match=r"erpo\.temperature\.step=0\.3 must be in \(0, 0\.2\] for streak_step"):
        ERPOConfig.from_dict({"temperature": {"schedule": "streak_step", "step": 0.3}})
    ctl = ERPOController(ERPOConfig.from_dict({"temperature": {"schedule": "streak_step", "t_max": 2.0}}))
    seen = []
    for step in range(4):
        ctl.update(step, ["a"], [0], [4], [4], [1.0], ctl.assign(["a"], [0]))
        seen.append(float(ctl.assign(["a"], [0])[0]))
    # streaks 1, 2, 3, 4: 1.0 + 0.1, + 0.2, + 0.3, then capped at t_max
    assert seen == pytest.approx([1.1, 1.3, 1.6, 2.0], abs=1e-5)
    assert "streak_step" in SCHEDULES


def test_a_schedule_reads_only_its_params(schedule_registry):
    @register_schedule("to_cap")
    class ToCap(Schedule):
        params = ("high",)  # but raise_ reads t_max

        def check(self, cfg, prefix):
            pass

        def raise_(self, current, streak, cfg):
            return np.full_like(current, cfg.t_max)

    policy = TemperaturePolicy(TemperatureConfig(schedule="to_cap"))
    with pytest.raises(AttributeError, match=r"'to_cap' read erpo\.temperature\.t_max, which is not in its params"):
        policy.next_temperature(np.array([1.0]), np.array([Outcome.ALL_CORRECT]), np.array([1]))


def test_a_function_still_registers_as_a_schedule_and_other_things_are_refused(schedule_registry):
    """The short form fn(current, streak, cfg) (how schedules were written before they owned their params) runs
    through the policy and is callable from the registry as before; what is neither is refused with the fix."""

    @register_schedule("jump_to_cap")
    def _jump(current, streak, cfg):
        return np.full_like(current, cfg.t_max)

    policy = TemperaturePolicy(TemperatureConfig(schedule="jump_to_cap", t_max=1.7))
    moved = policy.next_temperature(np.array([1.0, 1.0]), np.array([Outcome.ALL_CORRECT, Outcome.MIXED]), [1, 0])
    assert moved.tolist() == [1.7, 1.0]
    assert SCHEDULES["additive"](np.array([1.0]), np.array([1]), TemperatureConfig(step=0.25)).tolist() == [1.25]
    with pytest.raises(TypeError, match=r"subclass of erpo\.erpo\.temperature\.Schedule.*raise_"):
        register_schedule("not_a_schedule")(42)

    with pytest.raises(TypeError, match=r"'power'.*TemperatureConfig field names"):

        @register_schedule("power")
        class Power(Schedule):
            params = ("power",)

            def check(self, cfg, prefix):
                pass

            def raise_(self, current, streak, cfg):
                return current**cfg.power

    assert "not_a_schedule" not in SCHEDULES and "power" not in SCHEDULES


@pytest.mark.parametrize("schedule", sorted(SCHEDULE_CFGS))
def test_a_policy_survives_pickle_and_deepcopy(schedule):
    """The schedule's view of its params copies with the policy (a checkpointing or multiprocess caller)."""
    policy = TemperaturePolicy(TemperatureConfig(schedule=schedule, **SCHEDULE_CFGS[schedule]))
    args = (np.array([1.0, 1.2]), np.array([Outcome.ALL_CORRECT, Outcome.ALL_CORRECT]), np.array([1, 3]))
    expected = policy.next_temperature(*args)
    for other in (pickle.loads(pickle.dumps(policy)), copy.deepcopy(policy)):
        assert np.array_equal(other.next_temperature(*args), expected)


def _another(value):
    """A different value of a TemperatureConfig field's type (validity does not matter: raise_ is called bare)."""
    if value is None:
        return 1.23
    if isinstance(value, tuple):
        return tuple(t + 0.05 for t in value) or (1.17,)
    if isinstance(value, str):
        return value + "_other"
    return value + 0.37


@pytest.mark.parametrize("schedule", sorted(SCHEDULE_CFGS))
def test_builtin_params_are_exactly_the_fields_raise_reads(schedule):
    """Changing a field outside a schedule's params leaves its output alone; changing one inside moves it."""
    assert sorted(SCHEDULE_CFGS) == sorted(SCHEDULES)
    cfg = TemperatureConfig(schedule=schedule, **SCHEDULE_CFGS[schedule])
    current, streak = np.array([0.9, 1.0, 1.25, 1.3]), np.array([1, 2, 3, 5])
    raise_ = SCHEDULES[schedule].raise_
    expected = raise_(current, streak, cfg)
    moved = {
        f.name
        for f in fields(TemperatureConfig)
        if not np.array_equal(
            raise_(current, streak, replace(cfg, **{f.name: _another(getattr(cfg, f.name))})), expected
        )
    }
    assert moved == set(SCHEDULES[schedule].params)


def test_each_schedule_file_sets_only_fields_its_schedule_reads():
    for path in sorted((Path(CONF_DIR) / "temperature_schedule").glob("*.yaml")):
        knobs = OmegaConf.to_container(OmegaConf.load(path))
        name = knobs.pop("schedule")
        assert set(knobs) <= set(SCHEDULES[name].params), path.name


def test_disabled_controller_keeps_base_but_tracks():
    ctl = ERPOController(ERPOConfig(enabled=False))
    metrics = ctl.update(0, ["a"], [0], [4], [4], [1.0], [1.0])
    assert metrics["erpo/frac_all_correct"] == 1.0 and metrics["erpo/prompts_tracked"] == 1.0
    assert ctl.assign(["a"], [0]).tolist() == [1.0]


def test_metrics_revival():
    ctl = ERPOController(ERPOConfig())
    ctl.update(0, ["a", "a"], [0, 1], [4, 4], [4, 4], [1, 1], [1, 1])
    m = ctl.update(1, ["a", "a"], [0, 1], [4, 4], [2, 4], [0.5, 1], ctl.assign(["a", "a"], [0, 1]))
    assert m["erpo/revival_candidates"] == 2 and m["erpo/revived_frac"] == 0.5
    assert m["erpo/temperature_mean"] == pytest.approx(1.1, abs=1e-5) and m["erpo/frac_raised_temperature"] == 1.0
