"""docs/metrics.md is the one list of logged metrics: every key a run logs is in it."""

import json
from pathlib import Path

import numpy as np
from metric_docs import documented_patterns, undocumented

from erpo.erpo.metrics import visit_metrics
from erpo.erpo.tracker import RecordResult
from erpo.prepo.metrics import progress_metrics, selection_metrics, weight_metrics
from erpo.prepo.schedule_state import PREPOScheduleState
from erpo.rollouts import RolloutCounter

LOGS = Path(__file__).parent / "fixtures" / "logs"


def test_every_key_of_the_fixture_runs_is_documented():
    keys = set()
    for path in LOGS.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            keys |= set(json.loads(line)["data"])
    assert len(keys) > 100  # the fixtures are real runs with verl's own metrics
    assert undocumented(keys) == []


def test_every_key_of_the_metric_modules_is_documented():
    result = RecordResult(*(np.array([1, 3]) for _ in range(4)))
    keys = set(visit_metrics(result, np.array([1.0, 1.3]), 2, 1.0))
    keys |= set(selection_metrics([1.0, 2.0], [0], window_start=0))
    keys |= {f"actor/{k}" for k in weight_metrics(np.array([0.9, 1.1]))}
    keys |= set(progress_metrics(PREPOScheduleState(), 0.5))
    keys |= set(RolloutCounter().metrics()) | {"erpo/ra_groups", "erpo/ra_advantage_mean"}
    assert undocumented(keys) == []


def test_an_unknown_key_is_caught():
    assert undocumented(["erpo/not_a_metric", "critic/score/mean"]) == ["erpo/not_a_metric"]
    assert len(documented_patterns()) > 50
