"""The core's input contract: property tests against a one-visit-at-a-time reference,
refused calls that change nothing, sparse keys, and resume rules."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.erpo.temperature import TemperaturePolicy
from erpo.erpo.tracker import VISITS_MAX, Outcome, PromptTracker
from erpo.errors import ConfigError, InputError

CFG = {"history_length": 3, "temperature": {"step": 0.1, "t_max": 1.6, "on_mixed": "decay", "all_wrong": "lower"}}
SOURCES = ["math", "gsm8k"]
INDICES = [0, 1, 7, 10**6, 2**40, 2**63 - 1]  # sparse, up to the largest int64


def _digest(controller) -> str:
    return json.dumps(controller.state_dict(), sort_keys=True)


class Reference:
    """One visit at a time with plain Python containers: what a batch update must equal."""

    def __init__(self, cfg: ERPOConfig):
        self.policy, self.base = TemperaturePolicy(cfg.temperature), cfg.temperature.base
        self.length = cfg.history_length
        self.prompts = {}

    def visit(self, step, key, n, correct, reward, used):
        p = self.prompts.setdefault(key, {"T": self.base, "streak": 0, "last": Outcome.UNSEEN, "visits": 0, "h": []})
        outcome = Outcome.ALL_CORRECT if correct == n else Outcome.ALL_WRONG if correct == 0 else Outcome.MIXED
        zero_variance = outcome != Outcome.MIXED
        p["streak"] = p["streak"] + 1 if zero_variance and outcome == p["last"] else int(zero_variance)
        p["last"], p["visits"] = outcome, p["visits"] + 1
        p["h"] = (p["h"] + [(step, n, correct)])[-self.length :]
        all_correct = p["streak"] if outcome == Outcome.ALL_CORRECT else 0
        moved = self.policy.next_temperature(np.array([p["T"]]), np.array([outcome]), np.array([all_correct]))
        p["T"] = float(moved[0])


visit = st.tuples(
    st.sampled_from(SOURCES), st.sampled_from(INDICES), st.integers(1, 8), st.floats(0, 1), st.floats(0.5, 2.0)
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.lists(visit, min_size=0, max_size=12), min_size=1, max_size=6))
def test_batch_updates_equal_one_visit_at_a_time(batches):
    """Duplicates within a batch, several sources, sparse indices: the same state as sequential visits."""
    cfg = ERPOConfig.from_dict(CFG)
    controller, reference = ERPOController(cfg), Reference(cfg)
    for step, batch in enumerate(batches):
        rows = [(s, i, n, round(f * n), f, t) for s, i, n, f, t in batch]
        if rows:
            sources, indices, n, correct, _, used = map(list, zip(*rows, strict=True))
            as_uint = np.array(indices, dtype=np.uint64)  # unsigned indices are fine while they fit in int64
            controller.update(step, sources, as_uint, n, correct, np.array(correct) / n, used)
        for s, i, n_, c, f, t in rows:
            reference.visit(step, (s, i), n_, c, f, t)
    keys = list(reference.prompts)
    assert len(controller.tracker) == len(keys)
    if not keys:
        return
    sources, indices = [k[0] for k in keys], [k[1] for k in keys]
    expected = reference.prompts
    assert controller.assign(sources, indices).tolist() == pytest.approx([expected[k]["T"] for k in keys], abs=1e-6)
    streak, kind = controller.tracker.zero_variance_streaks(sources, indices)
    assert streak.tolist() == [expected[k]["streak"] for k in keys]
    assert kind.tolist() == [expected[k]["last"] for k in keys]
    for key in keys:
        kept = [(v.step, v.n, v.n_correct) for v in controller.tracker.history(*key)]
        assert kept == expected[key]["h"]


GOOD = dict(
    step=3,
    sources=["math", "math"],
    indices=[5, 9],
    n=[4, 4],
    n_correct=[4, 1],
    mean_reward=[1.0, 0.25],
    temperature_used=[1.0, 1.1],
)
BAD = [
    ("indices", {"indices": [5]}),  # another length
    ("indices", {"indices": [5, -1]}),
    ("indices", {"indices": np.array([5, 2**64 - 1], dtype=np.uint64)}),  # wraps to -1 in a cast
    ("indices", {"indices": [5, 2**64]}),  # beyond int64
    ("indices", {"indices": [5, 1.5]}),
    ("indices", {"indices": [5, float("nan")]}),
    ("indices", {"indices": [True, False]}),
    ("indices", {"indices": "59"}),
    ("sources", {"sources": "ma"}),
    ("sources", {"sources": ["math", 3]}),
    ("n_correct", {"n_correct": [4, 1.5]}),
    ("n_correct", {"n_correct": [4, -1]}),
    ("n_correct", {"n_correct": [5, 1]}),  # more than n
    ("n", {"n": [0, 4]}),
    ("n", {"n": [4, 70_000]}),  # beyond uint16
    ("n", {"n": [4, 4, 4]}),
    ("mean_reward", {"mean_reward": [1.0, float("inf")]}),
    ("mean_reward", {"mean_reward": [1.0, 1e6]}),  # beyond float16
    ("temperature_used", {"temperature_used": [1.0, float("nan")]}),
    ("temperature_used", {"temperature_used": [1.0, float("inf")]}),
    ("temperature_used", {"temperature_used": [1.0, 0.0]}),
    ("temperature_used", {"temperature_used": [1.0, -1.0]}),
    ("step", {"step": -1}),
    ("step", {"step": 2**31}),  # beyond int32
    ("step", {"step": 2.5}),
    ("step", {"step": True}),
]


@pytest.mark.parametrize("field, change", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_update_is_refused_naming_the_argument_and_changes_nothing(field, change):
    controller = ERPOController(ERPOConfig.from_dict(CFG))
    controller.update(**GOOD)
    before = _digest(controller)
    with pytest.raises(InputError, match=rf"^{field}\b"):
        controller.update(**{**GOOD, **change})
    assert _digest(controller) == before


BAD_VALUES = {
    "indices": [-1, 2.5, float("nan"), float("inf"), 2**70],
    "n": [-1, 0, 2.5, float("nan"), 2**70],
    "n_correct": [-1, 2.5, float("nan"), 9, 2**70],  # 9 > n = 8
    "temperature_used": [-1.0, 0.0, float("nan"), float("inf"), 1e6],
    "mean_reward": [float("nan"), float("inf"), -float("inf"), 1e6],
}


@settings(max_examples=40, deadline=None)
@given(bad=st.sampled_from([(f, v) for f, values in BAD_VALUES.items() for v in values]), position=st.integers(0, 5))
def test_any_single_bad_value_is_refused_and_changes_nothing(bad, position):
    field, value = bad
    controller = ERPOController(ERPOConfig.from_dict(CFG))
    args = dict(
        step=1,
        sources=["a"] * 6,
        indices=list(range(6)),
        n=[8] * 6,
        n_correct=[8, 0, 4, 8, 8, 2],
        mean_reward=[1.0] * 6,
        temperature_used=[1.0] * 6,
    )
    controller.update(**args)
    before = _digest(controller)
    values = list(args[field])
    values[position] = value
    with pytest.raises(InputError, match=rf"^{field}\b"):
        controller.update(**{**args, "step": 2, field: values})
    assert _digest(controller) == before


def test_lookups_check_their_arguments_too():
    controller = ERPOController(ERPOConfig())
    for call in (
        lambda: controller.assign(["a", "b"], [1]),
        lambda: controller.assign(["a"], [-3]),
        lambda: controller.tracker.history("a", -1),
        lambda: controller.tracker.history(3, 1),
        lambda: controller.tracker.zero_variance_streaks(["a"], [0.5]),
    ):
        with pytest.raises(InputError):
            call()


def test_a_failure_half_way_restores_every_row():
    """A move_temperature that fails on the second occurrence: the first round is rolled back too."""
    tracker = PromptTracker(history_length=2)
    tracker.record(0, ["a"], [1], [4], [4], [1.0], [1.0])
    before = json.dumps(tracker.state_dict(), sort_keys=True)
    calls = []

    def fail_second(current, outcome, streak):
        calls.append(len(current))
        if len(calls) == 2:
            raise RuntimeError("boom")
        return current + 0.1

    with pytest.raises(RuntimeError, match="boom"):
        tracker.record(
            1, ["a", "a", "b"], [1, 1, 5], [4, 4, 4], [4, 4, 2], [1, 1, 0.5], [1, 1, 1], move_temperature=fail_second
        )
    assert json.dumps(tracker.state_dict(), sort_keys=True) == before and len(tracker) == 1
    calls.clear()  # one source: the known prompt 1 is written in round 1, the new prompt 5's repeat fails
    with pytest.raises(RuntimeError, match="boom"):
        tracker.record(
            1, ["a", "a", "a"], [1, 5, 5], [4, 4, 4], [4, 4, 2], [1, 1, 0.5], [1, 1, 1], move_temperature=fail_second
        )
    assert json.dumps(tracker.state_dict(), sort_keys=True) == before and len(tracker) == 1
    with pytest.raises(InputError, match="move_temperature"):
        tracker.record(1, ["a"], [1], [4], [4], [1], [1], move_temperature=lambda c, o, s: c * np.nan)
    assert json.dumps(tracker.state_dict(), sort_keys=True) == before


def test_a_visit_counter_that_would_overflow_is_refused():
    tracker = PromptTracker()
    tracker.record(0, ["a"], [2], [4], [4], [1.0], [1.0])
    tracker._tables["a"].arrays["visits"][0] = VISITS_MAX - 1  # one visit of room left
    tracker.record(1, ["a"], [2], [4], [4], [1.0], [1.0])
    before = json.dumps(tracker.state_dict(), sort_keys=True)
    with pytest.raises(InputError, match="int32"):
        tracker.record(2, ["a"], [2], [4], [4], [1.0], [1.0])
    assert json.dumps(tracker.state_dict(), sort_keys=True) == before


def test_a_huge_index_costs_one_row_not_memory_proportional_to_it():
    tracker = PromptTracker()
    tracker.record(0, ["a", "a"], [0, 10**15], [4, 4], [4, 2], [1, 0.5], [1, 1])
    assert len(tracker) == 2 and tracker.nbytes() < 200_000  # the first block of 1024 rows, whatever the index
    assert tracker.history("a", 10**15)[0].n_correct == 2 and tracker.history("a", 10**15 - 1) == []


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(visit, min_size=1, max_size=8), min_size=1, max_size=4))
def test_state_round_trip_is_exact(batches):
    controller = ERPOController(ERPOConfig.from_dict(CFG))
    for step, batch in enumerate(batches):
        s, i, n, f, t = map(list, zip(*batch, strict=True))
        correct = [round(a * b) for a, b in zip(f, n, strict=True)]
        controller.update(step, s, i, n, correct, f, t)
    restored = ERPOController(ERPOConfig.from_dict(CFG))
    restored.load_state_dict(json.loads(json.dumps(controller.state_dict())))
    assert _digest(restored) == _digest(controller)
    keys = [(s, i) for s in SOURCES for i in INDICES]
    sources, indices = [k[0] for k in keys], [k[1] for k in keys]
    assert restored.assign(sources, indices).tolist() == controller.assign(sources, indices).tolist()
    # and both keep moving identically
    for c in (controller, restored):
        c.update(99, sources, indices, [4] * len(keys), [4] * len(keys), [1.0] * len(keys), [1.0] * len(keys))
    assert _digest(restored) == _digest(controller)


def test_resume_under_another_base_or_history_length_is_refused_and_changes_nothing():
    controller = ERPOController(ERPOConfig.from_dict(CFG))
    controller.update(0, ["a"], [1], [4], [4], [1.0], [1.0])
    state = json.loads(json.dumps(controller.state_dict()))
    other = ERPOController(ERPOConfig.from_dict({**CFG, "temperature": {**CFG["temperature"], "base": 0.9}}))
    other.update(0, ["b"], [2], [4], [2], [0.5], [0.9])
    before = _digest(other)
    with pytest.raises(ConfigError, match=r"erpo\.temperature\.base=1\.0"):
        other.load_state_dict(state)
    assert _digest(other) == before
    with pytest.raises(ConfigError, match=r"erpo\.history_length=3"):
        ERPOController(ERPOConfig.from_dict({**CFG, "history_length": 4})).load_state_dict(state)


def test_a_version_1_state_with_the_old_window_key_is_refused_with_the_way_out():
    old = {"format": "erpo.tracker", "version": 1, "window": 8, "base_temperature": 1.0, "tables": {}}
    with pytest.raises(InputError, match=r"version 1.*erpo\.allow_fresh_tracker=true"):
        ERPOController(ERPOConfig()).load_state_dict({"tracker": old})


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda s: s["sources"]["a"]["keys"].update(b64="!!"),
        lambda s: s["sources"]["a"]["visits"].update(dtype="<f8"),
        lambda s: s["sources"]["a"].pop("h_n"),
        lambda s: s["sources"]["a"]["keys"].update(shape=[5]),
        lambda s: s.update(sources=[]),
    ],
)
def test_a_corrupt_tracker_state_is_refused_and_changes_nothing(corrupt):
    controller = ERPOController(ERPOConfig())
    controller.update(0, ["a", "a"], [1, 4], [4, 4], [4, 2], [1.0, 0.5], [1.0, 1.0])
    state = json.loads(json.dumps(controller.state_dict()))
    corrupt(state["tracker"])
    target = ERPOController(ERPOConfig())
    target.update(0, ["z"], [9], [4], [1], [0.25], [1.0])
    before = _digest(target)
    with pytest.raises(InputError):
        target.load_state_dict(state)
    assert _digest(target) == before


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**63 - 1)), max_size=30), max_size=6),
    queries=st.lists(st.integers(0, 50), max_size=30),
)
def test_key_index_finds_every_row_whether_keys_are_dense_or_sparse(batches, queries):
    from erpo.erpo.prompt_table import PromptTable

    table, rows_of = PromptTable(2, 1.0), {}
    for batch in batches:
        keys = np.array(sorted(set(batch) - set(rows_of)), dtype=np.int64)
        for key, row in zip(keys.tolist(), table.add(keys).tolist(), strict=True):
            rows_of[key] = row
        assert table.dense_prefix == next(m for m in range(len(rows_of) + 1) if m not in rows_of)
    probe = np.array(queries + list(rows_of), dtype=np.int64)
    assert table.find(probe).tolist() == [rows_of.get(k, -1) for k in probe.tolist()]


@settings(max_examples=40, deadline=None)
@given(
    first=st.lists(visit, min_size=1, max_size=8),
    second=st.lists(visit, min_size=1, max_size=10),
    fail_at=st.integers(1, 4),
)
def test_any_failure_inside_record_leaves_the_tracker_as_it_was(first, second, fail_at):
    """Whatever the batch (repeats, several sources, new and known prompts) and whichever write fails."""
    cfg = ERPOConfig.from_dict(CFG)
    controller = ERPOController(cfg)
    s, i, n, f, t = map(list, zip(*first, strict=True))
    controller.update(0, s, i, n, [round(a * b) for a, b in zip(f, n, strict=True)], f, t)
    before = _digest(controller)
    calls = []

    def failing(current, outcome, streak):
        calls.append(1)
        if len(calls) == fail_at:
            raise RuntimeError("fail")
        return controller.policy.next_temperature(current, outcome, streak)

    s, i, n, f, t = map(list, zip(*second, strict=True))
    try:
        controller.tracker.record(
            5, s, i, n, [round(a * b) for a, b in zip(f, n, strict=True)], f, t, move_temperature=failing
        )
    except RuntimeError:
        assert _digest(controller) == before
    else:
        assert len(calls) < fail_at  # fewer writes than the failing one: the record went through
