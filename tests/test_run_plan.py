"""Run plan (erpo/plan.py), its refusals and CLI (recipe/driver/plan_of_config.py, show_plan.py); rollout counter;
one definition of correct."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from erpo.erpo.correctness import all_correct_groups, dapo_filter_under_ra, is_correct
from erpo.errors import InputError, StateFileError
from erpo.plan import PlanInputs, format_plan, make_plan, visits_refusal
from erpo.rollouts import RolloutCounter, refill_ceiling_error
from recipe.conf import CONF_DIR
from recipe.driver.plan_of_config import parquet_counts, plan_inputs
from recipe.erpo.refusals import ConfigRefused, plan_refusals

ROOT = Path(__file__).resolve().parents[1]
CONF = CONF_DIR


def _compose(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("train", overrides=list(overrides))


def test_plan_numbers_by_hand():
    # 17,400 deduplicated rows, 512 prompts x 16, 175 steps: 33 steps per epoch (17400 // 512),
    # 175 * 512 / 17400 = 5.149 visits, 175 * 512 * 16 = 1,433,600 rollouts, ceiling 10x that.
    inputs = PlanInputs(
        rows=17400,
        duplicate_rows=0,
        train_batch_size=512,
        n=16,
        total_epochs=100,
        total_training_steps=175,
        dapo=True,
        max_num_gen_batches=10,
        erpo=True,
    )
    plan = make_plan(inputs)
    assert (plan.steps, plan.steps_per_epoch, plan.epochs_cut_steps) == (175, 33, False)
    assert plan.expected_visits == pytest.approx(5.1494, abs=1e-4)
    assert (plan.rollouts_per_step, plan.rollouts_total) == (8192, 1_433_600)
    assert (plan.max_rollouts_per_step, plan.max_rollouts_total) == (81_920, 14_336_000)
    text = format_plan(plan, inputs)
    assert "1,433,600 minimum" in text and "14,336,000 at the DAPO ceiling" in text
    # The hub's undeduplicated copy: 1.79M rows, ~100 copies per problem -> 0.05 visits.
    raw = make_plan(
        PlanInputs(
            rows=1_790_000,
            duplicate_rows=1_772_600,
            train_batch_size=512,
            n=16,
            total_epochs=100,
            total_training_steps=175,
            erpo=True,
        )
    )
    assert raw.distinct_problems == 17_400 and raw.expected_visits == pytest.approx(0.05006, abs=1e-4)


def test_plan_epochs_cut_and_prepo_scoring():
    # total_epochs=1 with 34 steps per epoch stops at 34 whatever total_training_steps says (verl's loop).
    plan = make_plan(
        PlanInputs(rows=17408, duplicate_rows=0, train_batch_size=512, n=16, total_epochs=1, total_training_steps=175)
    )
    assert (plan.steps, plan.epochs_cut_steps) == (34, True)
    # PREPO: 128 x 5 candidates scored per step; Random at 884 steps spends 905,216 rollouts.
    inputs = PlanInputs(
        rows=7500,
        duplicate_rows=12,
        train_batch_size=128,
        n=8,
        total_epochs=100,
        total_training_steps=884,
        prepo=True,
        candidate_multiplier=5,
        rollout_budget=905000,
        rollout_budget_source="paper",
    )
    plan = make_plan(inputs)
    assert (plan.scoring_forward_passes_per_step, plan.scoring_forward_passes_total) == (640, 565_760)
    assert plan.rollouts_total == 905_216 and plan.distinct_problems == 7488
    assert "rollout budget       905,000 (paper)" in format_plan(plan, inputs)
    with pytest.raises(InputError, match="rows=3"):
        make_plan(
            PlanInputs(rows=3, duplicate_rows=0, train_batch_size=4, n=2, total_epochs=1, total_training_steps=None)
        )


def test_erpo_with_too_few_visits_is_refused_with_the_fix():
    inputs = PlanInputs(
        rows=1000, duplicate_rows=0, train_batch_size=100, n=4, total_epochs=100, total_training_steps=15, erpo=True
    )
    plan = make_plan(inputs)
    why = visits_refusal(plan, inputs, 2.0)
    assert "1.50 expected visits" in why and "total_training_steps>=20" in why
    assert visits_refusal(plan, inputs, 1.5) is None


def _cfg(*overrides):
    return _compose("data.train_batch_size=4", "actor_rollout_ref.rollout.n=2", *overrides)


def test_plan_refusals_on_composed_configs():
    cfg = _cfg("trainer.total_training_steps=3")  # erpo preset, 8 rows -> 1.5 visits
    inputs = plan_inputs(cfg, rows=8, duplicate_rows=0)
    with pytest.raises(ConfigRefused, match=r"erpo\.min_expected_visits=2"):
        plan_refusals(cfg, make_plan(inputs), inputs)
    cfg = _cfg("trainer.total_training_steps=3", "erpo.min_expected_visits=1")
    plan_refusals(cfg, make_plan(plan_inputs(cfg, 8, 0)), plan_inputs(cfg, 8, 0))  # explicitly lifted
    cfg = _cfg("algorithm=grpo", "trainer.total_training_steps=3")  # baselines need no revisit
    plan_refusals(cfg, make_plan(plan_inputs(cfg, 8, 0)), plan_inputs(cfg, 8, 0))
    cfg = _cfg("algorithm=grpo", "trainer.total_training_steps=10", "trainer.total_epochs=1")
    with pytest.raises(ConfigRefused, match=r"trainer\.total_epochs>=5"):
        plan_refusals(cfg, make_plan(plan_inputs(cfg, 8, 0)), plan_inputs(cfg, 8, 0))


def _experiments():
    return sorted(
        str(p.relative_to(Path(CONF_DIR) / "experiment").with_suffix(""))
        for p in (Path(CONF_DIR) / "experiment").rglob("*.yaml")
        if not p.name.startswith("_")
    )


@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_runs_its_total_training_steps(experiment):
    cfg = _compose(f"experiment={experiment}")
    steps = cfg.trainer.total_training_steps
    assert steps is not None, f"{experiment}: trainer.total_training_steps must be set"
    # Training-set sizes: DAPO-Math-17k ~17.4k after dedup, MATH train 7.5k, GSM8K train 7,473, toy: config,
    # the CPU study: its RL pool (benchmarks/cpu_study/model.py SPEC: rl_levels x train_per_level).
    from benchmarks.cpu_study.model import rl_pool_size

    rows = {
        "dapo_math": 17_400,
        "math": 7_500,
        "gsm8k": 7_473,
        "toy": int(cfg.assets.toy_train_rows),
        "cpu_study": rl_pool_size(),
        "dapo_math_math": 17_400 + 7_500,
    }[cfg.data.name]
    inputs = plan_inputs(cfg, rows, 0)
    plan = make_plan(inputs)
    assert plan.steps == steps and not plan.epochs_cut_steps
    plan_refusals(cfg, plan, inputs)
    if cfg.rollout_budget.rollouts is not None:
        # rows set to a paper's budget spend it (within half a step), except under dynamic sampling, where a
        # step's rollouts depend on the filter (GRESO's Table 1 rows: the budget is printed, not planned)
        assert "arXiv 25" in cfg.rollout_budget.source or "2511.00794" in cfg.rollout_budget.source
        if not cfg.algorithm.get("filter_groups", {}).get("enable", False):
            assert abs(plan.rollouts_total - cfg.rollout_budget.rollouts) <= plan.rollouts_per_step / 2


def test_erpo_paper_rows_are_175_steps_sourced_to_the_reviews():
    text = (ROOT / "recipe/conf/experiment/erpo_paper/_base.yaml").read_text()
    assert "total_training_steps: 175" in text and "reviewer 4" in text and "unverified" in text
    for name in (
        "erpo_qwen2.5-3b",
        "erpo_qwen2.5-7b",
        "dapo_qwen2.5-3b",
        "dapo_qwen2.5-7b",
        "ra_qwen2.5-3b",
        "ra_qwen2.5-7b",
    ):
        assert _compose(f"experiment=erpo_paper/{name}").trainer.total_training_steps == 175


def test_qwen3_4b_readings_print_the_token_budget_each_implies():
    """PREPO's "Qwen3-4B": the post-trained model with long outputs (the rows' assumed reading) or the base
    model at 3,072 tokens; same rollouts, and the plan shows the response-token budget of each."""
    budgets = {}
    for row, path in (("prepo_qwen3-4b", "Qwen/Qwen3-4B"), ("prepo_qwen3-4b-base", "Qwen/Qwen3-4B-Base")):
        cfg = _compose(f"experiment=prepo_paper/{row}")
        assert cfg.actor_rollout_ref.model.path == path
        inputs = plan_inputs(cfg, 7_500, 0)
        plan = make_plan(inputs)
        assert plan.max_response_tokens_total == plan.rollouts_total * cfg.data.max_response_length
        assert f"<= {cfg.data.max_response_length:,} per rollout" in format_plan(plan, inputs)
        budgets[row] = (plan.rollouts_total, cfg.data.max_response_length)
    assert budgets == {"prepo_qwen3-4b": (348_160, 16_384), "prepo_qwen3-4b-base": (348_160, 3_072)}


def _parquet(path, questions):
    rows = [
        {
            "data_source": "s",
            "prompt": [{"role": "user", "content": q}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": a},
            "extra_info": {"index": i},
        }
        for i, (q, a) in enumerate(questions)
    ]
    pd.DataFrame(rows).to_parquet(path)


def test_cli_prints_the_plan_of_a_tiny_parquet(tmp_path, capsys):
    path = tmp_path / "train.parquet"
    _parquet(path, [("What is 1+1?", "2"), ("What is  1+1?", "2"), ("What is 2+2?", "4"), ("3+3?", "6")] * 2)
    assert parquet_counts([str(path)]) == (8, 5)  # whitespace-only variants are the same problem
    cmd = [
        sys.executable,
        "-m",
        "recipe.driver.show_plan",
        "algorithm=dapo",
        f"data.train_files={path}",
        "data.train_batch_size=2",
        "actor_rollout_ref.rollout.n=4",
        "trainer.total_training_steps=6",
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "8 (3 distinct problems, 5 duplicate rows)" in out.stdout
    assert "steps                6 (4 per epoch" in out.stdout and "1.50 expected" in out.stdout
    assert "48 minimum, 480 at the DAPO ceiling" in out.stdout
    # The refusal through the same entry point, in this process (the CLI path itself is the run above).
    from recipe.driver.show_plan import main

    assert main(["algorithm=erpo", *cmd[4:], "trainer.total_training_steps=4"]) == 2
    assert "erpo.min_expected_visits" in capsys.readouterr().err


def test_rollout_counter_counts_dispatches_and_round_trips():
    counter = RolloutCounter()
    assert counter.record_dispatch(1, 4, 8) == 4 and counter.record_dispatch(1, 2, 8) == 6  # a DAPO refill
    assert counter.record_dispatch(2, 4, 8) == 4  # new step
    counter.record_trained([8, 8, 8], [True, False, True])
    counter.record_scoring(20)
    assert counter.metrics() == {
        "rollouts/total": 80.0,
        "rollouts/effective": 16.0,
        "rollouts/scoring_forward_passes": 20.0,
    }
    again = RolloutCounter()
    again.load_state_dict(counter.state_dict())
    assert again.metrics() == counter.metrics()
    with pytest.raises(StateFileError):
        again.load_state_dict({"total": 1})
    assert refill_ceiling_error(20, 10, 2) is None and refill_ceiling_error(21, 10, 2) is not None
    assert refill_ceiling_error(10**6, 0, 2) is None  # 0 = no ceiling


def test_one_definition_of_correct():
    assert is_correct({"acc": True}, 0.5) and not is_correct({"acc": 0.0, "score": 1.0}, 0.5)
    with pytest.raises(InputError, match="acc"):
        is_correct({"score": 1.0}, 0.5)
    assert all_correct_groups(["a", "a", "b", "b"], [True, True, True, False]) == {"a"}
    # Zero-variance groups by the filter's shared acc: all-correct ones survive under RA.
    assert dapo_filter_under_ra({"a": 1.0, "b": 0.0}, 0.5) == {"b"}


def test_dapo_rows_refuse_a_parquet_prepared_for_another_answer_format(tmp_path):
    from recipe.erpo.refusals import check_answer_format

    cfg = _compose("experiment=erpo_paper/erpo_qwen2.5-7b")
    assert cfg.data.answer_format == "answer_line"  # DAPO's prompt asks for an "Answer:" line
    rows = [
        {
            "data_source": "s",
            "prompt": [{"role": "user", "content": "q"}],
            "reward_model": {"ground_truth": "1"},
            "extra_info": {"index": 0, "answer_format": fmt},
        }
        for fmt in ("answer_line", "boxed")
    ]
    pd.DataFrame(rows[:1]).to_parquet(tmp_path / "ok.parquet")
    pd.DataFrame(rows).to_parquet(tmp_path / "bad.parquet")
    check_answer_format(str(tmp_path / "ok.parquet"), "answer_line")
    with pytest.raises(ConfigRefused, match=r"row 1 has extra_info.answer_format='boxed'.*--template dapo"):
        check_answer_format(str(tmp_path / "bad.parquet"), "answer_line")


def test_template_of_format_inverts_the_data_templates():
    from erpo.data.sources import TEMPLATE_ANSWER_FORMAT
    from recipe.erpo.refusals import TEMPLATE_OF_FORMAT

    assert TEMPLATE_OF_FORMAT == {fmt: template for template, fmt in TEMPLATE_ANSWER_FORMAT.items()}
