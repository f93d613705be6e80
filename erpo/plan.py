"""Run plan: what a training run will cost and how often ERPO's tracker revisits a prompt, before it starts.

Pure arithmetic on config values and the training set's size (no torch, Ray or verl). The recipe builds
:class:`PlanInputs` from the composed Hydra config and the train parquet
(``recipe/driver/plan_of_config.py``), prints :func:`format_plan` at start-up and from
``python -m recipe.driver.show_plan <overrides>``, and refuses an ERPO run whose plan gives fewer than
``erpo.min_expected_visits`` visits per prompt (docs/erpo.md, "Run plan").

verl 0.9.1's V1 trainer, which this follows (``verl/trainer/ppo/v1/trainer_base.py``):
- ``steps_per_epoch = rows // train_batch_size``; the loop runs while ``epoch < total_epochs`` *and*
  ``step <= total_training_steps`` (default ``steps_per_epoch * total_epochs``), so a run stops at
  the smaller of the two: ``total_training_steps`` governs only when ``total_epochs`` is large enough.
- DAPO's dynamic sampling (``algorithm.filter_groups``, ``verl/trainer/ppo/v1/replay_buffer.py``): the step
  first dispatches ``train_batch_size`` prompts; every filtered group earns 2 refill prompts, at most
  ``max_inflight_gen_batches * train_batch_size`` prompts in flight; groups finished beyond the batch are
  discarded. verl's V1 buffer ignores ``max_num_gen_batches``; the ERPO recipe enforces it (refuses a step
  that would dispatch more than ``max_num_gen_batches * train_batch_size`` prompts), so it is the ceiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from erpo.errors import InputError


@dataclass(frozen=True)
class PlanInputs:
    """Everything the plan reads. Counts are prompts (groups) unless named rollouts."""

    rows: int  # rows of the training parquet (each row is one tracker key: data_source + index)
    duplicate_rows: int  # rows whose problem already appears in an earlier row (same problem_key)
    train_batch_size: int  # prompts trained per step (data.train_batch_size)
    n: int  # responses per prompt (actor_rollout_ref.rollout.n)
    total_epochs: int  # trainer.total_epochs
    total_training_steps: int | None  # trainer.total_training_steps (None = epochs govern)
    dapo: bool = False  # algorithm.filter_groups.enable
    max_num_gen_batches: int = 0  # algorithm.filter_groups.max_num_gen_batches (0 = no ceiling)
    prepo: bool = False  # prepo.enabled
    candidate_multiplier: int = 1  # prepo.candidate_multiplier
    erpo: bool = False  # erpo.enabled
    rollout_budget: int | None = None  # rollout_budget.rollouts (a paper's budget), None = none
    rollout_budget_source: str = ""  # where the budget comes from
    max_response_length: int = 0  # data.max_response_length, tokens one response may hold (0 = not given)


@dataclass(frozen=True)
class RunPlan:
    steps: int  # training steps verl will run
    steps_per_epoch: int  # verl's rows // train_batch_size
    epochs: float  # passes over the training rows by trained prompts (steps * batch / rows)
    epochs_cut_steps: bool  # total_training_steps is set but total_epochs stops the loop first
    prompts_per_step: int  # prompts trained per step
    max_prompts_per_step: int  # DAPO: ceiling of prompts dispatched per step; else prompts_per_step
    rollouts_per_step: int  # responses trained per step (prompts_per_step * n)
    max_rollouts_per_step: int  # ceiling of responses generated per step (DAPO refills; 0 = no ceiling)
    rollouts_total: int  # minimum responses generated over the run (no DAPO refill)
    max_rollouts_total: int  # ceiling over the run (0 = no ceiling)
    expected_visits: float  # visits per tracker key from trained prompts alone (a lower bound under DAPO)
    distinct_problems: int  # rows - duplicate_rows
    duplicate_rows: int
    scoring_forward_passes_per_step: int  # PREPO: candidates scored per selection (0 without PREPO)
    scoring_forward_passes_total: int  # over the run, without DAPO refill rounds
    rollout_budget: int | None
    rollout_budget_source: str
    # Response tokens at most: one rollout (max_response_length), the trained rollouts of a step, and the
    # run's minimum rollouts (DAPO refills add more); what the row's generation budget implies. 0 = not given.
    max_response_tokens_per_step: int = 0
    max_response_tokens_total: int = 0


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r} must be an integer >= 1.")


def make_plan(inputs: PlanInputs) -> RunPlan:
    """The plan of a run; InputError naming the argument for counts that cannot be."""
    for name in ("rows", "train_batch_size", "n", "total_epochs", "candidate_multiplier"):
        _positive(name, getattr(inputs, name))
    if inputs.total_training_steps is not None:
        _positive("total_training_steps", inputs.total_training_steps)
    if not 0 <= inputs.duplicate_rows < inputs.rows:
        raise InputError(f"duplicate_rows={inputs.duplicate_rows!r} must be in [0, rows={inputs.rows}).")
    if inputs.max_num_gen_batches < 0:
        raise InputError(f"max_num_gen_batches={inputs.max_num_gen_batches!r} must be >= 0 (0 = no ceiling).")
    if inputs.rows < inputs.train_batch_size:
        raise InputError(
            f"rows={inputs.rows} < train_batch_size={inputs.train_batch_size}: verl's steps_per_epoch would be 0."
        )
    b, n = inputs.train_batch_size, inputs.n
    steps_per_epoch = inputs.rows // b
    by_epochs = steps_per_epoch * inputs.total_epochs
    requested = inputs.total_training_steps if inputs.total_training_steps is not None else by_epochs
    steps = min(requested, by_epochs)
    if inputs.dapo:
        max_prompts = inputs.max_num_gen_batches * b if inputs.max_num_gen_batches else 0
    else:
        max_prompts = b
    candidates = b * inputs.candidate_multiplier if inputs.prepo else 0
    return RunPlan(
        steps=steps,
        steps_per_epoch=steps_per_epoch,
        epochs=steps * b / inputs.rows,
        epochs_cut_steps=requested > by_epochs,
        prompts_per_step=b,
        max_prompts_per_step=max_prompts,
        rollouts_per_step=b * n,
        max_rollouts_per_step=max_prompts * n,
        rollouts_total=steps * b * n,
        max_rollouts_total=steps * max_prompts * n,
        expected_visits=steps * b / inputs.rows,
        distinct_problems=inputs.rows - inputs.duplicate_rows,
        duplicate_rows=inputs.duplicate_rows,
        scoring_forward_passes_per_step=candidates,
        scoring_forward_passes_total=steps * candidates,
        rollout_budget=inputs.rollout_budget,
        rollout_budget_source=inputs.rollout_budget_source,
        max_response_tokens_per_step=b * n * inputs.max_response_length,
        max_response_tokens_total=steps * b * n * inputs.max_response_length,
    )


def _count(x: int) -> str:
    return f"{x:,}"


def format_plan(plan: RunPlan, inputs: PlanInputs) -> str:
    """The plan as the lines printed at start-up and by ``python -m recipe.driver.show_plan``."""
    lines = ["Run plan (erpo/plan.py; verl 0.9.1 V1 trainer arithmetic)"]
    lines.append(
        f"  training rows        {_count(inputs.rows)} ({_count(plan.distinct_problems)} distinct problems, "
        f"{_count(plan.duplicate_rows)} duplicate rows)"
    )
    lines.append(
        f"  steps                {_count(plan.steps)} ({_count(plan.steps_per_epoch)} per epoch; "
        f"total_training_steps={inputs.total_training_steps}, total_epochs={inputs.total_epochs})"
    )
    if plan.epochs_cut_steps:
        lines.append(
            f"  WARNING              total_epochs={inputs.total_epochs} stops verl's loop after "
            f"{_count(plan.steps)} steps, before total_training_steps={inputs.total_training_steps}"
        )
    lines.append(f"  prompts per step     {_count(plan.prompts_per_step)} trained")
    lines.append(f"  epochs               {plan.epochs:.2f} (trained prompts / rows)")
    lines.append(
        f"  visits per prompt    {plan.expected_visits:.2f} expected per tracker key"
        + (" (lower bound: DAPO refills draw more prompts)" if inputs.dapo else "")
    )
    lines.append(f"  rollouts per step    {_count(plan.rollouts_per_step)} trained (n={inputs.n})")
    if inputs.dapo:
        ceiling = (
            f"{_count(plan.max_rollouts_per_step)} generated at the ceiling "
            f"(max_num_gen_batches={inputs.max_num_gen_batches} x {inputs.train_batch_size} prompts)"
            if inputs.max_num_gen_batches
            else "no ceiling (max_num_gen_batches=0)"
        )
        lines.append(f"  DAPO refill          {ceiling}")
    lines.append(
        f"  rollouts total       {_count(plan.rollouts_total)} minimum"
        + (
            f", {_count(plan.max_rollouts_total)} at the DAPO ceiling"
            if plan.max_rollouts_total and inputs.dapo
            else ""
        )
    )
    if inputs.prepo:
        lines.append(
            f"  PREPO scoring        {_count(plan.scoring_forward_passes_per_step)} prompt forward passes "
            f"per selection (x{inputs.candidate_multiplier}), {_count(plan.scoring_forward_passes_total)} "
            "over the run (not rollouts)"
        )
    if inputs.max_response_length:
        lines.append(
            f"  response tokens      <= {_count(inputs.max_response_length)} per rollout "
            f"(data.max_response_length), <= {_count(plan.max_response_tokens_per_step)} per step, "
            f"<= {_count(plan.max_response_tokens_total)} over the minimum rollouts"
        )
    if plan.rollout_budget is not None:
        lines.append(
            f"  rollout budget       {_count(plan.rollout_budget)} ({plan.rollout_budget_source}); "
            f"planned minimum {_count(plan.rollouts_total)}"
        )
    return "\n".join(lines)


def visits_refusal(plan: RunPlan, inputs: PlanInputs, min_expected_visits: float) -> str | None:
    """Why an ERPO run with this plan cannot work, or None. ERPO raises a prompt's temperature only on a
    revisit after an all-correct group: with fewer than ``min_expected_visits`` visits per prompt it trains
    like its baseline."""
    if plan.expected_visits >= min_expected_visits:
        return None
    needed = math.ceil(min_expected_visits * inputs.rows / inputs.train_batch_size)
    return (
        f"erpo.enabled=true but the run plan gives {plan.expected_visits:.2f} expected visits per prompt "
        f"({plan.steps} steps x {plan.prompts_per_step} prompts / {inputs.rows} rows) < erpo.min_expected_visits="
        f"{min_expected_visits:g}: ERPO raises a temperature only when a prompt comes back after an all-correct "
        f"group, so this run would train like its baseline. Set trainer.total_training_steps>={needed} (and "
        "trainer.total_epochs large enough), train on fewer (deduplicated) rows, or lower erpo.min_expected_visits "
        "for a short test."
    )
