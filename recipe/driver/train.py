"""Launch a run: ``python -m recipe.driver.train [experiment=...] [algorithm=...] ...`` (installed as ``erpo-train``).

Composes ``recipe/conf/train.yaml`` (verl's ``ppo_trainer`` + this project's groups), checks the
config and the training data *before* Ray starts, then runs verl's own V1 driver with a task
runner whose trainer is :class:`recipe.erpo.trainer.ERPOTrainer`.
"""

from __future__ import annotations

import json
import os
import sys

import hydra
import ray
from omegaconf import DictConfig
from verl.trainer.main_ppo import TaskRunnerV1

from recipe.conf import CONF_DIR
from recipe.driver import sweep_dir
from recipe.driver.startup import preflight
from recipe.erpo.refusals import ConfigRefused

# hydra.sweep.subdir names multirun jobs through this resolver; it must exist before Hydra composes.
sweep_dir.register()


@ray.remote
class ERPOTaskRunner(TaskRunnerV1.__ray_actor_class__):
    """verl's V1 task runner, with the ERPO trainer in place of the sync trainer."""

    def run(self, config: DictConfig):
        from verl.trainer.ppo.v1 import trainer_base

        from recipe.erpo.trainer import ERPOTrainer

        # verl's runner looks the trainer up by trainer_mode; "sync" stays the mode name because
        # verl branches on it elsewhere. This process is the runner's own, so the swap is local.
        trainer_base.TRAINER_REGISTRY[config.trainer.v1.trainer_mode] = ERPOTrainer
        return super().run(config)


def run(config: DictConfig) -> None:
    """Validate, prepare the environment, and train."""
    from verl.trainer.main_ppo import run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    preflight(config, multirun=_in_multirun())
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    try:
        run_ppo(config, task_runner_class=ERPOTaskRunner)
    finally:
        if ray.is_initialized():
            # Each Hydra multirun job gets a fresh Ray session.
            ray.shutdown()


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _write_job_status(status: str, error: str = "") -> None:
    """Each multirun job leaves job_status.json in its output dir (sweep summaries read it)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        path = os.path.join(HydraConfig.get().runtime.output_dir, "job_status.json")
        with open(path, "w") as f:
            json.dump({"status": status, "error": error}, f)


@hydra.main(config_path=CONF_DIR, config_name="train", version_base=None)
def main(config: DictConfig) -> None:
    try:
        run(config)
    except ConfigRefused as err:
        _write_job_status("refused", str(err))
        print(f"erpo: config refused: {err}", file=sys.stderr)
        if not _in_multirun():
            sys.exit(2)
    except Exception as err:  # noqa: BLE001
        _write_job_status("failed", repr(err))
        # In a sweep, one failing job must not lose the others: log it and go on.
        if not _in_multirun():
            raise
        print(f"erpo: job failed, continuing the sweep: {err!r}", file=sys.stderr)
    else:
        _write_job_status("ok")


if __name__ == "__main__":
    main()
