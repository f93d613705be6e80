"""The run plan of a composed config, without Ray: ``python -m recipe.erpo.plan <same overrides as training>``.

Composes ``conf/train.yaml`` with the given overrides exactly as ``recipe.erpo.main_erpo`` does, reads the
training parquet's row count and duplicate problems (``erpo.data.problems.problem_key`` of each row's last
user message and gold answer), and prints :func:`erpo.plan.format_plan`. The same plan is printed by the
start-up preflight, which also refuses what :func:`recipe.erpo.refusals.refuse_bad_plan` refuses.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys

import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from erpo.data.problems import problem_key
from erpo.plan import PlanInputs, RunPlan, format_plan, make_plan

# The same directory main_erpo composes from (not imported from it: that would import Ray and verl).
CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf")


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
        for prompt, reward_model in zip(table.column("prompt").to_pylist(), table.column("reward_model").to_pylist(),
                                        strict=True):
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
        total_training_steps=(None if config.trainer.get("total_training_steps") is None
                              else int(config.trainer.total_training_steps)),
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


def compose(overrides: list[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``, as ``main_erpo`` composes it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from recipe.erpo import sweep_dir

    sweep_dir.register()
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return hydra_compose("train", overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    config = compose(argv)
    if config.data.get("name") == "toy" and train_files(config) == [str(config.assets.toy_train_file)]:
        # Start-up (re)writes the toy parquet from the config; count the one this config would write, in a
        # temporary folder (a file left by another config may have another size).
        import tempfile

        from omegaconf import open_dict

        from erpo.tiny import write_toy_parquet

        tmp = tempfile.mkdtemp(prefix="erpo-plan-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        path = os.path.join(tmp, "toy_train.parquet")
        write_toy_parquet(path, n=int(config.assets.toy_train_rows), seed=int(config.assets.get("seed", 0)))
        with open_dict(config):
            config.data.train_files = path
    missing = [p for p in train_files(config) if not os.path.exists(p)]
    if missing:
        print(f"erpo.plan: data.train_files {missing} not found; prepare them with `python -m erpo.data` first.",
              file=sys.stderr)
        return 2
    from erpo.errors import InputError
    from recipe.erpo.refusals import ConfigRefused, plan_refusals

    try:
        plan, inputs = plan_of(config)
    except InputError as err:
        print(f"erpo.plan: {err}", file=sys.stderr)
        return 2
    print(format_plan(plan, inputs))
    print(f"  config               {OmegaConf.select(config, 'variant')} / {config.trainer.experiment_name}")
    try:
        plan_refusals(config, plan, inputs)
    except ConfigRefused as err:
        print(f"erpo: config refused: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
