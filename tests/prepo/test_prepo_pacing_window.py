import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erpo.prepo.pacing import get_pacing, known_pacings, register_pacing
from erpo.prepo.window import select_window, window_start

PACINGS = ["linear", "quadratic", "exponential"]


@pytest.mark.parametrize("name", PACINGS)
def test_pacing_endpoints(name):
    f = get_pacing(name)
    assert f(0.0) == 0.0 and f(1.0) == 1.0


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(PACINGS), a=st.floats(0, 1), b=st.floats(0, 1))
def test_pacing_monotone_and_in_range(name, a, b):
    f = get_pacing(name)
    lo, hi = min(a, b), max(a, b)
    assert 0.0 <= f(lo) <= f(hi) <= 1.0


def test_unknown_pacing_names_field_and_choices():
    with pytest.raises(ValueError, match=r"prepo\.pacing.*exponential.*linear.*quadratic"):
        get_pacing("cubic")


def test_register_pacing_adds_and_validates():
    register_pacing("test_sqrt")(math.sqrt)
    assert "test_sqrt" in known_pacings()
    assert window_start(12, 2, 0.25, "test_sqrt") == 5  # floor(0.5 * 10)
    with pytest.raises(ValueError, match="must map 0 -> 0 and 1 -> 1"):
        register_pacing("test_bad")(lambda r: 0.5 * r)


@pytest.mark.parametrize(
    "num_candidates,k,progress,pacing,expected",
    [
        (10, 2, 0.0, "linear", 0),
        (10, 2, 1.0, "linear", 8),
        (10, 2, 0.5, "linear", 4),
        (10, 2, 0.3, "linear", 2),  # floor(2.4)
        (10, 2, 0.5, "quadratic", 2),  # floor(0.25 * 8)
        (10, 10, 0.7, "linear", 0),  # nothing to choose
        (640, 128, 0.5, "linear", 256),  # paper ratio 20%
    ],
)
def test_window_start_hand_computed(num_candidates, k, progress, pacing, expected):
    assert window_start(num_candidates, k, progress, pacing) == expected


def test_window_start_clips_overshooting_pacing():
    assert window_start(10, 2, 0.9, lambda r: 1.2) == 8
    assert window_start(10, 2, 0.1, lambda r: -0.3) == 0


@pytest.mark.parametrize(
    "k,progress,message",
    [
        (0, 0.5, "k must be"),
        (11, 0.5, "k must be"),
        (2, -0.1, "progress"),
        (2, 1.1, "progress"),
        (2, float("nan"), "progress"),
    ],
)
def test_window_start_rejects_bad_input(k, progress, message):
    with pytest.raises(ValueError, match=message):
        window_start(10, k, progress)


def test_selection_lowest_early_highest_late():
    ppl = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0])
    assert sorted(select_window(ppl, 2, 0.0)[0].tolist()) == [1, 5]  # ppl 1, 2
    assert sorted(select_window(ppl, 2, 1.0)[0].tolist()) == [2, 4]  # ppl 9, 7
    assert sorted(select_window(ppl, 2, 0.5)[0].tolist()) == [0, 3]  # start 2 -> ppl 3, 5


@settings(max_examples=100, deadline=None)
@given(ppl=st.lists(st.floats(0.5, 1e4), min_size=1, max_size=40), data=st.data())
def test_selection_is_contiguous_window_of_sorted_order(ppl, data):
    k = data.draw(st.integers(1, len(ppl)))
    progress = data.draw(st.floats(0, 1))
    chosen, start = select_window(ppl, k, progress)
    assert len(chosen) == k == len(set(chosen.tolist()))
    assert start == window_start(len(ppl), k, progress)
    assert sorted(np.asarray(ppl)[chosen]) == sorted(ppl)[start : start + k]


def test_selection_ties_are_stable():
    assert select_window([2.0, 1.0, 1.0, 1.0], 2, 0.0)[0].tolist() == [1, 2]


def test_selection_rejects_nan_and_bad_shape():
    with pytest.raises(ValueError, match=r"NaN at candidates \[1\]"):
        select_window([1.0, float("nan"), 3.0], 1, 0.0)
    with pytest.raises(ValueError, match="1-D"):
        select_window([[1.0, 2.0]], 1, 0.0)
