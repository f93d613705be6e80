"""benchmarks/reward_bound.py at a tiny size: every class runs and the JSON holds the figures."""

import json

from benchmarks import reward_bound


def test_reward_bound_benchmark_quick(tmp_path):
    out = tmp_path / "rb.json"
    payload = reward_bound.main(["--quick", "--timeout", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["classes"].keys() == payload["classes"].keys() and len(saved["classes"]) >= 10
    for name, row in saved["classes"].items():
        assert row["calls"] == 2 and row["max_ms"] >= row["median_ms"] >= 0, name
    assert saved["classes"]["power tower"]["refused"] == 2 and saved["common_case_median_us"] > 0
