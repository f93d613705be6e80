"""Benchmark scripts run at tiny sizes and write JSON with their figures (no timing assertions)."""

import json

import pytest

from benchmarks import ledger, overhead, scale


def _load(path):
    return json.loads(path.read_text())


def test_overhead_reports_controller_and_run_ratio(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(
        "\n".join(json.dumps({"step": s, "data": {"erpo/timing_s": 0.001, "timing_s/step": 2.0}}) for s in (1, 2, 3))
    )
    overhead.main(["--quick", "--log", str(log), "--out", str(tmp_path / "o.json")])
    out = _load(tmp_path / "o.json")
    assert out["controller"][0]["prompts"] == 64 and out["controller"][0]["median_ms"] > 0
    assert out["run"]["ratio"] == pytest.approx(0.0005) and "prepo_ratio" not in out["run"]
    assert out["machine"]["cores"] >= 1


def test_overhead_reports_prepo_selection_of_a_prepo_run(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(
        "\n".join(
            json.dumps({"step": s, "data": {"erpo/timing_s": 0.001, "prepo/timing_s": 0.05, "timing_s/step": 2.0}})
            for s in (1, 2, 3)
        )
    )
    overhead.main(["--quick", "--log", str(log), "--out", str(tmp_path / "o.json")])
    assert _load(tmp_path / "o.json")["run"]["prepo_ratio"] == pytest.approx(0.025)


def test_overhead_refuses_a_log_without_timings(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text(json.dumps({"step": 1, "data": {"timing_s/step": 2.0}}))
    with pytest.raises(SystemExit, match="erpo/timing_s"):
        overhead.main(["--quick", "--log", str(log), "--out", str(tmp_path / "o.json")])


def test_scale_reports_bytes_and_save_load(tmp_path):
    scale.main(["--quick", "--out", str(tmp_path / "s.json")])
    out = _load(tmp_path / "s.json")
    (row,) = out["results"]
    assert row["prompts"] == 20_000 and 50 < row["bytes_per_prompt"] < 200 and row["save_s"] > 0 and row["load_s"] > 0
    # indices drawn below 2**40 cost what dense ones do: memory follows prompts, not index values
    assert out["sparse_indices"]["bytes_per_prompt"] == pytest.approx(row["bytes_per_prompt"], rel=0.05)


def test_ledger_from_simulator_and_logs(tmp_path):
    log = tmp_path / "run.jsonl"
    rows = [{"erpo/groups": 4, "erpo/frac_mixed": 0.5, "erpo/revival_candidates": 2, "erpo/revived_frac": 0.5}] * 3
    log.write_text("\n".join(json.dumps({"step": i + 1, "data": r}) for i, r in enumerate(rows)))
    ledger.main(["--quick", "--logs", str(log), "--log-n", "4", "--out", str(tmp_path / "l.json")])
    out = _load(tmp_path / "l.json")
    sim = out["simulator"]
    assert set(sim["variants"]) == {"grpo", "dapo", "erpo", "erpo_dapo", "prepo", "greso", "erpo_greso"}
    budget = sim["config"]["rollout_budget"]
    for name, v in sim["variants"].items():
        assert budget <= v["total_rollouts"] < budget + 4 * 32 * 8 * 2, name  # one budget, the last step finishes
        assert v["revived_within_1"] is None or 0 <= v["revived_within_1"] <= 1
    assert sim["variants"]["greso"]["skipped_share_of_candidates"] > 0
    assert sim["variants"]["prepo"]["total_candidates"] == 5 * sim["variants"]["grpo"]["total_candidates"]
    for rows in sim["greso_target_sweep"].values():
        assert list(rows) == ["dapo (no skip)", "greso 0.1", "greso 0.25", "greso 0.4", "greso 0.6"]
    logged = out["logs"]["run.jsonl"]
    assert logged["rollouts_per_effective_prompt"] == pytest.approx(48 / 6) and logged["revived_within_1"] == 0.5


def test_revival_counts_a_mixed_visit_after_an_all_correct_one():
    from erpo.erpo.config import ERPOConfig
    from erpo.erpo.controller import ERPOController

    c = ERPOController(ERPOConfig.from_dict({"history_length": 8}))
    # prompt 0: all-correct, mixed -> revived within 1; prompt 1: all-correct, all-correct, mixed
    visits = [(0, [0, 1], [4, 4]), (1, [0, 1], [2, 4]), (2, [1], [2])]
    for step, idx, correct in visits:
        c.update(step, ["s"] * len(idx), idx, [4] * len(idx), correct, [k / 4 for k in correct], [1.0] * len(idx))
    out = ledger.revival(c)
    # all-correct visits with a revisit: p0@0, p1@0, p1@1; the next one is mixed for p0@0 and p1@1
    assert out["revived_within_1"] == pytest.approx(2 / 3) and out["all_correct_visits_with_a_revisit"] == 3
    # with two revisits: only p1@0, and the second is mixed
    assert out["revived_within_2"] == 1.0 and out["all_correct_visits_with_two_revisits"] == 1
    short = ERPOController(ERPOConfig.from_dict({"history_length": 1}))
    short.update(0, ["s", "s"], [0, 0], [4, 4], [4, 2], [1, 0.5], [1, 1])
    with pytest.raises(ValueError, match="history"):  # a history too short to hold every visit is refused
        ledger.revival(short)
