import json
import math

import numpy as np
import pytest

from erpo.prepo.config import PREPOConfig, WeightingConfig
from erpo.prepo.metrics import progress_metrics, selection_metrics, weight_metrics
from erpo.prepo.pacing import schedule_progress
from erpo.prepo.perplexity import sequence_perplexity
from erpo.prepo.schedule_state import PREPOScheduleState


def test_sequence_perplexity_matches_definition():
    logp = np.array([[-1.0, -2.0, -3.0], [-0.5, -9.0, -9.0]])
    mask = np.array([[1, 1, 1], [1, 0, 0]])
    np.testing.assert_allclose(sequence_perplexity(logp, mask), [math.exp(2.0), math.exp(0.5)])


def test_sequence_perplexity_rejects_empty_and_mismatched():
    with pytest.raises(ValueError, match=r"sequences \[0\] have no scored tokens"):
        sequence_perplexity([[-1.0]], [[0]])
    with pytest.raises(ValueError, match=r"\[N, T\]"):
        sequence_perplexity([[-1.0, -1.0]], [[1]])


def test_state_round_trip_through_json():
    state = PREPOScheduleState()
    state.record_step(10, [("gsm8k", 7), ("gsm8k", 3), ("math", 3)], rollouts_per_prompt=8)
    state.record_step(10, [("gsm8k", 7), ("math", 11)], rollouts_per_prompt=8)
    assert (state.steps_taken, state.candidates_drawn, state.rollouts_used) == (2, 20, 40)
    assert state.num_prompts_seen == 4  # ("gsm8k", 7) counted once
    restored = PREPOScheduleState()
    restored.load_state_dict(json.loads(json.dumps(state.state_dict())))
    assert restored.state_dict() == state.state_dict()
    assert restored.has_seen(("math", 11)) and not restored.has_seen(("math", 7))
    assert restored.seen["gsm8k"].dtype == np.int64


def test_state_progress_and_bad_inputs():
    state = PREPOScheduleState()
    assert schedule_progress(1, 5) == 0.0 and schedule_progress(1, 1) == 0.0 and schedule_progress(3, 5) == 0.5
    with pytest.raises(ValueError, match="prepo.total_steps"):
        schedule_progress(1, 0)
    with pytest.raises(ValueError, match="version"):
        state.load_state_dict({**state.state_dict(), "version": 99})
    with pytest.raises(ValueError, match="rollout.n"):
        state.record_step(4, [("d", 0)], 0)


def test_config_defaults_and_nested_from_dict():
    cfg = PREPOConfig.from_dict({"enabled": True, "weighting": {"clip_max": 1.5}})
    assert cfg.candidate_multiplier == 5 and cfg.pacing == "linear" and cfg.perplexity_on == "templated"
    assert cfg.weighting == WeightingConfig(clip_max=1.5)
    assert cfg.weighting.detach and cfg.weighting.entropy_source == "current"


@pytest.mark.parametrize(
    "values,message",
    [
        ({"bogus": 1}, r"prepo\.bogus"),
        ({"weighting": {"detatch": False}}, r"prepo\.weighting\.detatch"),
        ({"pacing": "cubic"}, r"prepo\.pacing"),
        ({"candidate_multiplier": 0}, r"prepo\.candidate_multiplier"),
        ({"candidate_multiplier": 2.5}, r"prepo\.candidate_multiplier"),
        ({"total_steps": 0}, r"prepo\.total_steps"),
        ({"perplexity_on": "answer"}, r"prepo\.perplexity_on"),
        ({"weighting": {"entropy_source": "ref"}}, r"prepo\.weighting\.entropy_source"),
        ({"weighting": {"normaliser_scope": "global_batch"}}, r"prepo\.weighting\.normaliser_scope"),
        ({"weighting": {"clip_min": 2.0, "clip_max": 1.0}}, r"clip_min=2\.0 exceeds"),
    ],
)
def test_config_errors_name_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        PREPOConfig.from_dict(values)


def test_metrics_values_and_namespace():
    sel = selection_metrics([4.0, 1.0, 3.0, 2.0], [2, 0], window_start=2)
    assert sel["prepo/selected_ppl_mean"] == 3.5 and sel["prepo/candidate_ppl_min"] == 1.0
    w = weight_metrics(np.arange(1, 11, dtype=float))
    assert w["prepo/weight_min"] == 1.0 and w["prepo/weight_max"] == 10.0
    assert w["prepo/weight_p10"] == pytest.approx(1.9) and w["prepo/weight_p90"] == pytest.approx(9.1)
    state = PREPOScheduleState()
    state.record_step(5, [("d", 1)], 8)
    expected = {"prepo/rollouts_used": 8.0, "prepo/prompts_seen": 1.0, "prepo/progress": 0.25}
    assert progress_metrics(state, 0.25) == expected
    assert all(key.startswith("prepo/") for key in {**sel, **w})
