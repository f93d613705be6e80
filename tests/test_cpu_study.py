"""CPU study (benchmarks/cpu_study): task, held-out results, deltas with intervals, runner bookkeeping, revival."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cpu_study.run import Plan, _groups, _job_of, environment, is_done, run_name
from benchmarks.cpu_study.task import LEVELS, SOURCE, all_problems, make_split, verl_rows
from erpo.analysis.revival import revival
from erpo.erpo.tracker import PromptTracker
from erpo.errors import InputError
from erpo.rewards import compute_score
from erpo.tables.deltas import by_variant, delta_rows, paired_delta, render_markdown


def test_levels_keep_their_promises():
    for level in LEVELS:
        problems = all_problems(level)
        assert problems and len({p.expr for p in problems}) == len(problems)
        for p in problems:
            assert str(eval(p.expr.replace("*", "*"))) == p.answer and int(p.answer) >= 0  # noqa: S307 - our own digits
    assert all(int(p.answer) >= 10 for p in all_problems(2))  # carry
    assert all(
        "-" in p.expr and int(p.expr.split("-")[0]) % 10 < int(p.expr.split("-")[1]) % 10 for p in all_problems(6)
    )  # borrow in the units
    assert all(p.expr.count("+") + p.expr.count("-") == 2 for p in all_problems(8))


def test_split_is_deterministic_disjoint_and_graded():
    a, b, c = make_split(0, 8, 16), make_split(0, 8, 16), make_split(1, 8, 16)
    assert [p.expr for p in a.train] == [p.expr for p in b.train] != [p.expr for p in c.train]
    train, held, warm = ({(p.level, p.expr) for p in pool} for pool in (a.train, a.heldout, a.warm))
    assert not train & held and not train & warm and not held & warm
    assert [sum(p.level == lv for p in a.train) for lv in LEVELS] == [8] * 9
    assert len(a.heldout) == 144
    with pytest.raises(ValueError, match="level 2 has 45 problems"):
        make_split(0, 30, 20)


def test_rows_are_verl_rows_the_real_reward_grades():
    rows = verl_rows(make_split(0, 8, 16).train, "train")
    assert [r["extra_info"]["index"] for r in rows] == list(range(72))
    row = rows[5]
    assert row["data_source"] == SOURCE and "\\boxed{}" in row["prompt"][0]["content"]
    answer = row["reward_model"]["ground_truth"]
    assert compute_score(SOURCE, f"\\boxed{{{answer}}}", answer)["acc"]
    assert not compute_score(SOURCE, f"\\boxed{{{int(answer) + 1}}}", answer)["acc"]


def _result(variant, seed, per_problem, benchmark="heldout"):
    return {
        "benchmark": benchmark,
        "variant": variant,
        "seed": seed,
        "run_name": f"{variant}-{seed}",
        "problems": [{"index": str(i), "correct": flags} for i, flags in enumerate(per_problem)],
    }


def test_paired_delta_recovers_a_known_shift_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    results = []
    for seed in (1, 2, 3):
        base = rng.random(60) < 0.5
        better = base | (rng.random(60) < 0.3)
        results += [
            _result("grpo", seed, [[bool(x)] for x in base]),
            _result("erpo", seed, [[bool(x)] for x in better]),
        ]
    runs = by_variant(results, "heldout")
    d = paired_delta(runs["erpo"], runs["grpo"])
    true = np.mean(
        [np.mean(list(runs["erpo"][s].values())) - np.mean(list(runs["grpo"][s].values())) for s in (1, 2, 3)]
    )
    assert d["delta"] == pytest.approx(true) and d["ci_low"] <= true <= d["ci_high"] and d["ci_low"] > 0
    same = paired_delta(runs["grpo"], runs["grpo"])
    assert same["delta"] == same["ci_low"] == same["ci_high"] == 0.0
    rows = delta_rows(results, "heldout", ["grpo"], ["grpo", "erpo"])
    assert [r["variant"] for r in rows] == ["grpo", "erpo"] and rows[0]["deltas"] == {}
    table = render_markdown(rows, ["grpo"], "avg@1")
    assert "| erpo | 3 |" in table and "vs grpo [95% CI]" in table


def test_deltas_refuse_what_cannot_be_paired():
    with pytest.raises(InputError, match="no seed in common"):
        paired_delta({1: {"a": 1.0}}, {2: {"a": 0.0}})
    with pytest.raises(InputError, match="two results"):
        by_variant([_result("a", 1, [[True]]), _result("a", 1, [[False]])], "heldout")
    with pytest.raises(InputError, match="baseline"):
        delta_rows([_result("a", 1, [[True]])], "heldout", ["dapo"])


def test_heldout_curve_from_validation_dumps(tmp_path):
    from benchmarks.cpu_study.heldout import write_heldout_curve
    from benchmarks.cpu_study.model import SPEC

    held = make_split(SPEC["task_seed"], SPEC["train_per_level"], SPEC["heldout_per_level"]).heldout
    dump = tmp_path / "validation"
    dump.mkdir()
    for step, right in ((0, 1), (20, 3)):  # 1 then 3 of 4 samples right for level-1 problems, 0 otherwise
        lines = []
        for p in held:
            for j in range(4):
                acc = p.level == 1 and j < right
                lines.append(json.dumps({"input": p.prompt, "output": "x", "score": float(acc), "acc": acc}))
        (dump / f"{step}.jsonl").write_text("\n".join(lines))
    out = tmp_path / "run"
    out.mkdir()
    steps = write_heldout_curve(dump, out)
    assert steps[20]["heldout"] == pytest.approx(0.75 / 9)
    saved = json.loads((out / "heldout_steps.json").read_text())
    assert saved["0"]["heldout_easy"] == pytest.approx(0.25 / 3) and saved["20"]["heldout_hard"] == 0.0
    assert not (out / "eval").exists()  # the comparison is the offline evaluation's, with measured lengths
    assert write_heldout_curve(tmp_path / "none", out) == {}


def test_runner_bookkeeping(tmp_path):
    assert _job_of("experiment=cpu_study/erpo_dapo seed=3 trainer.total_training_steps=10") == ("erpo_dapo", 3)
    with pytest.raises(ValueError):
        _job_of("algorithm=erpo")
    assert _groups([("grpo", 1), ("grpo", 2), ("erpo", 1), ("erpo", 2), ("erpo_ra", 1)]) == [
        (["grpo", "erpo"], [1]),
        (["erpo_ra"], [1]),
        (["grpo", "erpo"], [2]),
    ]
    assert _groups([("erpo_ra", 1)]) == [(["erpo_ra"], [1])]
    plan = Plan(results=str(tmp_path), work=str(tmp_path / "w"), steps=10, seeds=(1,), variants=("grpo",), ra_seeds=())
    assert plan.jobs() == [("grpo", 1)] and not is_done(plan, "grpo", 1)
    done = tmp_path / "runs" / run_name("grpo", 1)
    done.mkdir(parents=True)
    (done / "result.json").write_text(json.dumps({"status": "ok", "steps": 10}))
    assert is_done(plan, "grpo", 1)
    (done / "result.json").write_text(json.dumps({"status": "ok", "steps": 99}))
    with pytest.raises(ValueError, match="same --steps"):
        is_done(plan, "grpo", 1)


def test_study_jobs_do_not_inherit_a_wandb_run_identity(monkeypatch, tmp_path):
    """A WANDB_RUN_ID left in the launching environment would win over each job's own (a user's choice for a
    single run) and log every run of the study into one W&B run; the study's environment drops it."""
    monkeypatch.setenv("WANDB_RUN_ID", "leftover")
    monkeypatch.setenv("WANDB_RUN_GROUP", "leftover")
    monkeypatch.setenv("WANDB_ENTITY", "mine")
    env = environment(Plan(results=str(tmp_path / "r"), work=str(tmp_path / "w")))
    assert "WANDB_RUN_ID" not in env and "WANDB_RUN_GROUP" not in env
    assert env["WANDB_ENTITY"] == "mine" and env["WANDB_MODE"] == "offline"


def test_revival_from_a_tracker_history():
    tracker = PromptTracker(history_length=8)
    # prompt 0: all-correct, mixed, all-correct, all-wrong, mixed -> revived within 1 once of 2; within 2: both
    for step, correct in enumerate([4, 2, 4, 0, 2]):
        tracker.record(step, ["s"], [0], [4], [correct], [correct / 4], [1.0])
    out = revival(tracker)
    assert out["all_correct_visits_with_a_revisit"] == 2 and out["revived_within_1"] == 0.5
    assert out["all_correct_visits_with_two_revisits"] == 2 and out["revived_within_2"] == 1.0
    short = PromptTracker(history_length=2)
    for step in range(3):
        short.record(step, ["s"], [0], [4], [4], [1.0], [1.0])
    with pytest.raises(ValueError, match="history too short"):
        revival(short)


def _jsonl_erpo_series(path):
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return {
        r["step"]: {k: v for k, v in r["data"].items() if k.startswith("erpo/")}
        for r in rows
        if any(k.startswith("erpo/") for k in r["data"])
    }


def assert_wandb_matches_jsonl(wandb_file, jsonl, variant):
    """The W&B offline run holds the JSONL's erpo/* series, step by step, in the variant's group."""
    from erpo.analysis.wandb_offline import read_wandb_file

    run = read_wandb_file(wandb_file)
    assert run["group"] == variant
    expected = _jsonl_erpo_series(jsonl)
    assert expected, f"{jsonl} holds no erpo/* metrics"
    logged = {step: {k: v for k, v in item.items() if k.startswith("erpo/")} for step, item in run["history"].items()}
    logged = {step: item for step, item in logged.items() if item}
    assert sorted(logged) == sorted(expected)
    for step, values in expected.items():
        assert set(logged[step]) == set(values), step
        for key, value in values.items():
            assert logged[step][key] == pytest.approx(value, rel=1e-5, abs=1e-9), (step, key)


STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "cpu_study"


@pytest.mark.skipif(not list(STUDY.glob("runs/*/*.wandb")), reason="no committed study runs with a W&B file yet")
def test_committed_wandb_runs_hold_the_jsonl_series_grouped_by_variant():
    files = sorted(STUDY.glob("runs/*/*.wandb"))
    variants = set()
    for wandb_file in files:
        result = json.loads((wandb_file.parent / "result.json").read_text())
        jsonl = STUDY / "logs" / "erpo" / f"{result['run_name']}.jsonl"
        assert_wandb_matches_jsonl(wandb_file, jsonl, result["variant"])
        variants.add(result["variant"])
    assert len(variants) >= 2, "the committed W&B runs should show grouping by more than one variant"


@pytest.mark.slow
def test_reduced_study_through_verl(tmp_path):
    """The whole pipeline at its smallest: GRPO, ERPO and grpo_hot (at ERPO's measured temperature), 1 seed,
    4 steps through verl's trainer on CPU, the offline evaluation of the base and of each final checkpoint, then
    the analysis, the table, the notebook's figures; the W&B offline runs hold the JSONL's erpo/* series by
    variant; every run records its code; a second `run` skips the finished runs."""
    import subprocess
    import sys

    from metric_docs import undocumented

    results, work = tmp_path / "results", tmp_path / "work"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.cpu_study",
        "run",
        "--results",
        str(results),
        "--work",
        str(work),
        "--steps",
        "4",
        "--seeds",
        "1",
        "--variants",
        "grpo,erpo,grpo_hot",
        "--eval-k",
        "4",
    ]
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=2400)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "[1/3] cpu_study-grpo-s1: started" in out.stdout and "[3/3] cpu_study-grpo_hot-s1: ok" in out.stdout
    analysis = json.loads((results / "analysis.json").read_text())
    by_run = {r["run"]: r for r in analysis["per_run"]}
    assert set(by_run) == {"cpu_study-grpo-s1", "cpu_study-erpo-s1", "cpu_study-grpo_hot-s1"}
    assert analysis["code"] is not None and len(analysis["code"]["commit"]) == 40
    hot = json.loads((results / "runs" / "cpu_study-grpo_hot-s1" / "result.json").read_text())
    expected = round(by_run["cpu_study-erpo-s1"]["mean_temperature"], 4)
    assert f"study_hot_temperature={expected}" in hot["overrides"]
    assert by_run["cpu_study-grpo_hot-s1"]["mean_temperature"] == pytest.approx(expected, abs=1e-3)
    for name, row in by_run.items():
        assert row["steps"] == 4 and 0 <= row["heldout_final"] <= 1 and row["k"] == 4
        assert row["effective_prompts_per_step"] is not None
        full = [json.loads(x) for x in (work / "logs" / "erpo" / f"{name}.jsonl").read_text().splitlines()]
        assert undocumented({k for r in full for k in r["data"]}) == []
        if row["variant"] in ("grpo", "erpo"):
            assert_wandb_matches_jsonl(
                results / "runs" / name / f"{name}.wandb", work / "logs" / "erpo" / f"{name}.jsonl", row["variant"]
            )
        evaluated = json.loads((results / "runs" / name / "eval" / f"{name}__heldout.json").read_text())
        assert evaluated["metrics"]["mean_response_tokens"] > 1.0
    assert by_run["cpu_study-grpo-s1"]["share_raised"] == 0.0
    table = (results / "table.md").read_text()
    assert "vs base [95% CI]" in table and "| erpo vs grpo | revived within 1 |" in table
    assert {p.name for p in (results / "figures").glob("*.png")} >= {"shares.png", "heldout.png", "revival.png"}
    again = subprocess.run(cmd + ["--no-figures"], cwd=root, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "3 finished, 0 to run" in again.stdout, again.stdout[-2000:]
