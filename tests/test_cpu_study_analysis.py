"""CPU study analysis on constructed logs: intervals and tests, the probe's control, the regime check,
grpo_hot's temperature, the code record, the offline evaluation's result files, and the whole analysis."""

import json
import subprocess

import numpy as np
import pytest

from benchmarks.cpu_study.heldout import write_eval_results
from benchmarks.cpu_study.model import REGIME, SPEC, regime
from benchmarks.cpu_study.probe import control, read_probe
from benchmarks.cpu_study.provenance import code_version
from benchmarks.cpu_study.run import HOT_VARIANT, Plan, _groups, hot_temperature, run_name
from benchmarks.cpu_study.stats import fisher_exact, ratio_bootstrap, ratio_diff_bootstrap, wilson
from benchmarks.cpu_study.task import make_split
from erpo.erpo.tracker import PromptTracker
from erpo.errors import InputError
from recipe.conf import CONF_DIR

SOURCE = "cpu_study"


def test_wilson_and_fisher_match_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0
    # Fisher's tea-tasting table (3/4 vs 1/4): two-sided p = 34/70
    assert fisher_exact(3, 4, 1, 4) == pytest.approx(34 / 70)
    # the committed old study's ERPO vs GRPO revival (6/9 vs 3/4): p = 1
    assert fisher_exact(6, 9, 3, 4) == pytest.approx(1.0)
    assert fisher_exact(30, 40, 10, 40) < 1e-4
    with pytest.raises(ValueError, match="hits=5 of n=4"):
        fisher_exact(5, 4, 1, 4)


def _arm(rng, rate, seeds=(1, 2, 3), prompts=40, visits=10):
    return {s: {f"p{i}": (int(rng.binomial(visits, rate)), visits) for i in range(prompts)} for s in seeds}


def test_ratio_bootstrap_covers_the_rate_and_separates_a_real_difference():
    rng = np.random.default_rng(0)
    arm, base = _arm(rng, 0.6), _arm(rng, 0.3)
    out = ratio_bootstrap(arm)
    assert out["n"] == 3 * 40 * 10 and out["ci"][0] <= 0.6 <= out["ci"][1]
    assert out["wilson"][0] < out["rate"] < out["wilson"][1]
    diff = ratio_diff_bootstrap(arm, base)
    assert diff["ci"][0] > 0.15 and diff["fisher_p"] < 1e-6 and diff["arm_counts"] == [out["hits"], out["n"]]
    same = ratio_diff_bootstrap(arm, arm)
    assert same["delta"] == 0.0 and same["ci"] == [0.0, 0.0] and same["fisher_p"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no seed in common"):
        ratio_diff_bootstrap({1: {"a": (1, 2)}}, {2: {"a": (1, 2)}})


def test_probe_is_read_checked_and_gives_the_base_temperature_control(tmp_path):
    good = {
        "temperatures": [
            {"temperature": 1.2, "prompts": 10, "mixed": 6, "all_wrong": 1, "all_correct": 3},
            {"temperature": 1.0, "prompts": 10, "mixed": 4, "all_wrong": 0, "all_correct": 6, "note": "ignored"},
        ]
    }
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(good))
    entries = read_probe(path)
    assert [e["temperature"] for e in entries] == [1.0, 1.2]
    assert control(entries, 1.0)["mixed"] == 4
    with pytest.raises(ValueError, match="no entry at the runs' base temperature 0.9"):
        control(entries, 0.9)
    bad = json.loads(json.dumps(good))
    bad["temperatures"][0]["mixed"] = 7
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"temperatures\[0\]: mixed \+ all_wrong \+ all_correct = 11 != prompts = 10"):
        read_probe(path)
    path.write_text(json.dumps({"temperatures": [{"temperature": 1.0, "prompts": 3}]}))
    with pytest.raises(ValueError, match="lacks"):
        read_probe(path)
    path.write_text(json.dumps({"temps": []}))
    with pytest.raises(ValueError, match="non-empty list 'temperatures'"):
        read_probe(path)


def test_probe_result_json_is_read_as_counts(tmp_path):
    """The probe's own probe.json (grid, selection.n, probed[].groups[t][r].correct) becomes the same counts."""
    result = {
        "grid": [1.0, 1.3],
        "control": 0,
        "selection": {"n": 4},
        "probed": [
            {"index": 0, "groups": [[{"correct": 4}, {"correct": 2}], [{"correct": 0}, {"correct": 3}]]},
            {"index": 1, "groups": [[{"correct": 4}, {"correct": 4}], [{"correct": 1}, {"correct": 4}]]},
        ],
    }
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(result))
    entries = read_probe(path)
    assert entries == [
        {"temperature": 1.0, "prompts": 4, "mixed": 1, "all_wrong": 0, "all_correct": 3},
        {"temperature": 1.3, "prompts": 4, "mixed": 2, "all_wrong": 1, "all_correct": 1},
    ]
    del result["selection"]
    path.write_text(json.dumps(result))
    with pytest.raises(ValueError, match="needs grid, selection.n and probed"):
        read_probe(path)


def test_regime_check_names_what_is_missing():
    def shares(ac, mixed):
        return {"n": REGIME["n"], "temperature": REGIME["temperature"], "train_rl": {"all_correct": ac, "mixed": mixed}}

    assert regime(shares(0.35, 0.45))["ok"]
    out = regime(shares(0.10, 0.70))
    assert not out["ok"] and "all_correct share 0.100 < 0.30" in out["failures"][0]
    assert not regime({**shares(0.4, 0.4), "n": 4})["ok"]
    assert SPEC["rl_levels"] and all(1 <= lv <= 9 for lv in SPEC["rl_levels"])


def test_grpo_hot_runs_after_the_seed_and_reads_the_erpo_arm(tmp_path):
    assert _groups([("grpo", 1), ("erpo", 1), (HOT_VARIANT, 1), ("grpo", 2), ("erpo", 2), (HOT_VARIANT, 2)]) == [
        (["grpo", "erpo"], [1]),
        ([HOT_VARIANT], [1]),
        (["grpo", "erpo"], [2]),
        ([HOT_VARIANT], [2]),
    ]
    plan = Plan(
        results=str(tmp_path), work=str(tmp_path / "w"), steps=3, seeds=(1,), variants=("grpo", "erpo", HOT_VARIANT)
    )
    with pytest.raises(ValueError, match="the erpo arm of seed 1 is not finished"):
        hot_temperature(plan, 1)
    with pytest.raises(ValueError, match="add erpo to --variants"):
        Plan(results=str(tmp_path), work=str(tmp_path / "w"), seeds=(1,), variants=(HOT_VARIANT,)).check()
    done = tmp_path / "runs" / run_name("erpo", 1)
    done.mkdir(parents=True)
    (done / "result.json").write_text(json.dumps({"status": "ok", "steps": 3}))
    (done / "erpo_assignments.jsonl").write_text(
        "\n".join(json.dumps({"step": s, "temperature": t}) for s, t in ((1, [1.0, 1.0]), (2, [1.1, 1.3])))
    )
    assert hot_temperature(plan, 1) == pytest.approx(1.1)


def test_grpo_hot_config_requires_its_temperature_and_uses_it_everywhere():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError

    conf = CONF_DIR
    with initialize_config_dir(config_dir=conf, version_base=None):
        missing = compose("train", overrides=["experiment=cpu_study/grpo_hot"])
        hot = compose("train", overrides=["experiment=cpu_study/grpo_hot", "study_hot_temperature=1.137"])
    with pytest.raises(InterpolationToMissingValueError, match="study_hot_temperature"):
        OmegaConf.to_container(missing, resolve=True)
    assert hot.actor_rollout_ref.rollout.temperature == hot.erpo.temperature.base == 1.137
    assert hot.variant == "grpo_hot" and not hot.erpo.enabled and hot.algorithm.adv_estimator == "grpo"


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_code_version_moves_with_code_not_with_results(tmp_path):
    root = tmp_path / "repo"
    (root / "erpo").mkdir(parents=True)
    for d in ("recipe", "recipe/conf", "benchmarks", "benchmarks/cpu_study"):
        (root / d).mkdir()
        (root / d / "x.txt").write_text(d)
    (root / "pyproject.toml").write_text("[project]\n")
    (root / "erpo" / "a.py").write_text("A = 1\n")
    _git(root, "init", "-q")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "code")
    first = code_version(root)
    assert not first["dirty"] and len(first["commit"]) == 40
    (root / "results.json").write_text("{}")  # results are not code
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "results")
    second = code_version(root)
    assert second["commit"] != first["commit"] and second["code_tree"] == first["code_tree"]
    (root / "erpo" / "a.py").write_text("A = 2\n")
    dirty = code_version(root)
    assert dirty["dirty"] and dirty["code_tree"] != first["code_tree"]
    (root / "erpo" / "b.py").write_text("B = 1\n")  # untracked code counts too
    untracked = code_version(root)
    assert untracked["code_tree"] != dirty["code_tree"]
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "edit")
    committed = code_version(root)  # the same code, now committed: the same fingerprint
    assert not committed["dirty"] and committed["code_tree"] == untracked["code_tree"]


def test_eval_results_record_measured_lengths(tmp_path):
    held = make_split(SPEC["task_seed"], SPEC["train_per_level"], SPEC["heldout_per_level"]).heldout
    samples = {p.expr: [(p.level == 1, 3 + j % 2) for j in range(4)] for p in held}
    out = write_eval_results(tmp_path, "r", "grpo", 1, 20, samples, {"source": "test"})
    assert out["k"] == 4 and out["heldout_avg@k"] == pytest.approx(1 / 9)
    result = json.loads((tmp_path / "eval" / "r__heldout.json").read_text())
    assert result["metrics"]["mean_response_tokens"] == pytest.approx(3.5)
    assert result["problems"][0]["tokens"] == [3, 4, 3, 4]
    with pytest.raises(ValueError, match="different sample counts"):
        write_eval_results(tmp_path, "r", "grpo", 1, 20, {**samples, held[0].expr: [(True, 3)]}, {})


# ---- the whole analysis on constructed runs -----------------------------------------------------------------

N = 8
PROMPTS = 12


def _config(variant, seed, base=1.0):
    return {
        "variant": variant,
        "seed": seed,
        "model_name": "cpu_study",
        "data": {"name": "cpu_study", "train_batch_size": 6, "train_files": "x/train_rl.parquet"},
        "actor_rollout_ref": {"rollout": {"n": N}},
        "erpo": {
            "enabled": variant.startswith("erpo"),
            "history_length": 32,
            "temperature": {"base": base, "t_max": 1.4, "schedule": "additive", "on_mixed": "hold", "step": 0.1},
            "ra": {"enabled": False},
        },
    }


def _make_run(results, variant, seed, outcome_of, code_tree="tree-1", steps=6):
    """A finished run whose prompt p at visit v has n_correct = outcome_of(p, v) (prompts visited every 2 steps)."""
    name = run_name(variant, seed)
    logs = results / "logs" / "erpo"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{name}.config.json").write_text(json.dumps(_config(variant, seed)))
    tracker = PromptTracker(history_length=32)
    rows, total, effective, assignments = [], 0, 0, []
    for step in range(1, steps + 1):
        prompts = [p for p in range(PROMPTS) if p % 2 == step % 2]
        visit = (step - 1) // 2
        correct = [outcome_of(p, visit) for p in prompts]
        temps = [1.0 + 0.1 * (variant == "erpo")] * len(prompts)
        tracker.record(
            step, [SOURCE] * len(prompts), prompts, [N] * len(prompts), correct, [c / N for c in correct], temps
        )
        mixed = sum(0 < c < N for c in correct)
        total += N * len(prompts)
        effective += N * mixed
        g = len(prompts)
        rows.append(
            {
                "step": step,
                "data": {
                    "erpo/groups": g,
                    "erpo/frac_all_correct": sum(c == N for c in correct) / g,
                    "erpo/frac_all_wrong": sum(c == 0 for c in correct) / g,
                    "erpo/frac_mixed": mixed / g,
                    "erpo/temperature_mean": float(np.mean(temps)),
                    "erpo/frac_raised_temperature": float(variant == "erpo"),
                    "rollouts/total": total,
                    "rollouts/effective": effective,
                    "timing_s/step": 1.0,
                },
            }
        )
        assignments.append({"step": step, "data_source": SOURCE, "index": prompts, "temperature": temps})
    (logs / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    side = results / "runs" / name
    side.mkdir(parents=True)
    (side / "erpo_state.json").write_text(json.dumps({"tracker": tracker.state_dict()}))
    (side / "erpo_assignments.jsonl").write_text("\n".join(json.dumps(a) for a in assignments))
    held = make_split(SPEC["task_seed"], SPEC["train_per_level"], SPEC["heldout_per_level"]).heldout
    right = {"base": 1, "grpo": 2, "erpo": 3}[variant]
    summary = write_eval_results(
        side, name, variant, seed, steps, {p.expr: [(j < right, 4) for j in range(4)] for p in held}, {"source": "test"}
    )
    (side / "result.json").write_text(
        json.dumps(
            {
                "run_name": name,
                "variant": variant,
                "seed": seed,
                "steps": steps,
                "status": "ok",
                "code": {"commit": "c" * 40, "dirty": False, "code_tree": code_tree},
                **summary,
            }
        )
    )


def _grpo(p, visit):  # prompts 0-5: all-correct then mixed alternately; 6-11: always mixed
    return (N if visit % 2 == 0 else 4) if p < 6 else 4


def _erpo(p, visit):  # prompts 0-5: all-correct at every visit: never revived
    return N if p < 6 else 4


@pytest.fixture
def study(tmp_path):
    results = tmp_path / "study"
    for seed in (1, 2):
        _make_run(results, "grpo", seed, _grpo)
        _make_run(results, "erpo", seed, _erpo)
        base = results / "runs" / run_name("base", seed)
        base.mkdir(parents=True)
        held = make_split(SPEC["task_seed"], SPEC["train_per_level"], SPEC["heldout_per_level"]).heldout
        write_eval_results(
            base,
            run_name("base", seed),
            "base",
            seed,
            0,
            {p.expr: [(j < 1, 4) for j in range(4)] for p in held},
            {"source": "test"},
        )
    return results


def test_analysis_counts_intervals_and_comparisons_on_constructed_runs(study, tmp_path):
    from benchmarks.cpu_study.analyse import analyse_study

    probe = tmp_path / "probe.json"
    probe.write_text(
        json.dumps(
            {"temperatures": [{"temperature": 1.0, "prompts": 20, "mixed": 5, "all_wrong": 0, "all_correct": 15}]}
        )
    )
    out = analyse_study(study, figures=False, probe=probe)
    pv = out["per_variant"]
    # GRPO: prompts 0-5 are visited 3 times (all-correct, mixed, all-correct): the first all-correct visit has a
    # revisit and is revived; the last has none. ERPO: prompts 0-5 all-correct 3 times, 2 with a revisit, none revived.
    assert pv["grpo"]["revived_within_1"]["hits"] == 2 * 6 and pv["grpo"]["revived_within_1"]["n"] == 2 * 6
    assert pv["erpo"]["revived_within_1"]["hits"] == 0 and pv["erpo"]["revived_within_1"]["n"] == 2 * 6 * 2
    assert pv["grpo"]["frac_all_correct"]["rate"] == pytest.approx(12 / 36)
    # effective prompts per step from rollouts/* (6 groups a step): ERPO's prompts 6-11 are always mixed, 3 a step
    grpo_eff = pv["grpo"]["effective_prompts_per_step"]["rate"]
    assert 0 < grpo_eff <= 6
    assert pv["erpo"]["effective_prompts_per_step"]["rate"] == pytest.approx(3.0)
    assert pv["erpo"]["rollouts_per_effective_prompt"]["rate"] == pytest.approx(6 * N / 3.0)
    comp = {(c["arm"], c["baseline"], c["outcome"]): c for c in out["comparisons"]}
    rev = comp[("erpo", "grpo", "revived_within_1")]
    assert rev["delta"] == pytest.approx(-1.0) and rev["fisher_p"] < 1e-6 and rev["arm_counts"] == [0, 24]
    assert out["probe"]["control"]["rate"] == 0.25
    assert {r["variant"]: r["revived"] for r in out["probe"]["arms"]} == {"grpo": 12, "erpo": 0}
    held = {r["variant"]: r for r in out["heldout_tables"]["heldout"]}
    assert held["erpo"]["deltas"]["base"]["delta"] == pytest.approx(0.5)
    table = (study / "table.md").read_text()
    assert "| erpo vs grpo | revived within 1 | -1.000" in table and "Control: the probe's redraw at T = 1" in table
    assert "code tree tree-1" in table
    assert json.loads((study / "analysis.json").read_text())["code"]["code_tree"] == "tree-1"


def test_analysis_refuses_runs_of_different_code(study):
    from benchmarks.cpu_study.analyse import analyse_study

    path = study / "runs" / run_name("erpo", 2) / "result.json"
    result = json.loads(path.read_text())
    result["code"]["code_tree"] = "tree-2"
    path.write_text(json.dumps(result))
    with pytest.raises(InputError, match="different or unrecorded code .*--allow-mixed-commits"):
        analyse_study(study, figures=False)
    out = analyse_study(study, figures=False, allow_mixed_commits=True)
    assert out["code"] is None and "Runs of different code mixed" in (study / "table.md").read_text()


def test_notebook_renders_every_figure_from_constructed_runs(study, tmp_path):
    from benchmarks.cpu_study.analyse import analyse_study

    probe = tmp_path / "probe.json"
    entries = [
        {"temperature": t, "prompts": 20, "mixed": m, "all_wrong": 0, "all_correct": 20 - m}
        for t, m in ((1.0, 5), (1.2, 9))
    ]
    probe.write_text(json.dumps({"temperatures": entries}))
    analyse_study(study, figures=True, probe=probe)
    figures = {p.name: p.stat().st_size for p in (study / "figures").glob("*.png")}
    assert set(figures) == {"shares.png", "effective_prompts.png", "temperatures.png", "heldout.png", "revival.png"}
    assert all(size > 10_000 for size in figures.values())
