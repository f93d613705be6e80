"""The run plan of a composed config: :class:`erpo.plan.PlanInputs` from the config and the training parquet.

Reads the training parquet's row count and duplicate problems (``erpo.data.problems.problem_key`` of each
row's last user message and gold answer). Used by the start-up refusals (the plan refusals) and by
``python -m recipe.driver.show_plan``; it imports neither, so the refusals can import it.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from omegaconf import DictConfig

from erpo.data.problems import problem_key
from erpo.plan import PlanInputs, RunPlan, make_plan


def _last_user_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in (prompt or []) if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1]) if users else str(prompt)


def parquet_counts(paths: list[str]) -> tuple[int, int]:
    """(rows, duplicate rows) over the training parquets: a row is a duplicate when its problem_key (problem
    text without prompt wrappers + gold answer) was seen in an earlier row."""
    rows, seen, duplicates = 0, set(), 0
    for path in paths:
        table = pq.read_table(path, columns=["prompt", "reward_model"])
        for prompt, reward_model in zip(
            table.column("prompt").to_pylist(), table.column("reward_model").to_pylist(), strict=True
        ):
            rows += 1
            gold = (reward_model or {}).get("ground_truth", "")
            key = problem_key(_last_user_text(prompt), gold if gold is not None else "")
            if key in seen:
                duplicates += 1
            seen.add(key)
    return rows, duplicates


def plan_inputs(config: DictConfig, rows: int, duplicate_rows: int) -> PlanInputs:
    """The plan's inputs from a composed config and the training set's counts."""
    filter_groups = config.algorithm.get("filter_groups") or {}
    prepo = config.get("prepo") or {}
    budget = config.get("rollout_budget") or {}
    return PlanInputs(
        rows=rows,
        duplicate_rows=duplicate_rows,
        train_batch_size=int(config.data.train_batch_size),
        n=int(config.actor_rollout_ref.rollout.n),
        total_epochs=int(config.trainer.total_epochs),
        total_training_steps=(
            None if config.trainer.get("total_training_steps") is None else int(config.trainer.total_training_steps)
        ),
        dapo=bool(filter_groups.get("enable", False)),
        max_num_gen_batches=int(filter_groups.get("max_num_gen_batches", 0) or 0),
        prepo=bool(prepo.get("enabled", False)),
        candidate_multiplier=int(prepo.get("candidate_multiplier", 1)),
        erpo=bool(config.erpo.enabled),
        rollout_budget=None if budget.get("rollouts") is None else int(budget.rollouts),
        rollout_budget_source=str(budget.get("source") or ""),
        max_response_length=int(config.data.get("max_response_length") or 0),
    )


def train_files(config: DictConfig) -> list[str]:
    files = config.data.get("train_files")
    if files is None:
        return []
    return [files] if isinstance(files, str) else [str(f) for f in files]


def plan_of(config: DictConfig) -> tuple[RunPlan, PlanInputs]:
    rows, duplicates = parquet_counts(train_files(config))
    inputs = plan_inputs(config, rows, duplicates)
    return make_plan(inputs), inputs
