"""Launch a run: ``python -m recipe.driver.train [experiment=...] [algorithm=...] ...`` (installed as ``erpo-train``).

Composes ``recipe/conf/train.yaml`` (verl's ``ppo_trainer`` + this project's groups), checks the
config and the training data *before* Ray starts, then runs verl's own V1 driver with a task
runner whose trainer is :class:`recipe.erpo.trainer.ERPOTrainer`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import types

import hydra
import ray
from omegaconf import DictConfig
from verl.trainer.main_ppo import TaskRunnerV1
from verl.utils.import_utils import import_external_libs

from recipe.common.environment import EXTERNAL_MODULES_VAR
from recipe.conf import CONF_DIR
from recipe.driver import sweep_dir
from recipe.driver.startup import preflight
from recipe.erpo.refusals import ConfigRefused
from recipe.platform.cpu import platform_flag
from recipe.platform.prestart import start_rollout_workers

# hydra.sweep.subdir names multirun jobs through this resolver; it must exist before Hydra composes.
sweep_dir.register()


@ray.remote
class ERPOTaskRunner(TaskRunnerV1.__ray_actor_class__):
    """verl's V1 task runner, with the ERPO trainer in place of the sync trainer."""

    def run(self, config: DictConfig):
        from verl.trainer.ppo.v1 import trainer_base

        from recipe.erpo.trainer import ERPOTrainer

        # verl's runner looks the trainer up by trainer_mode; "sync" stays the mode name because
        # verl branches on it elsewhere. The runner's process (its actor's, or the driver's, below) runs only
        # this recipe's trainer, so the swap stays there.
        trainer_base.TRAINER_REGISTRY[config.trainer.v1.trainer_mode] = ERPOTrainer
        if platform_flag(config.get("platform"), "prestart_rollout_workers"):
            # Their processes import while verl starts everything else (recipe/platform/prestart.py).
            start_rollout_workers(config)
        return super().run(config)


class InDriverTaskRunner:
    """``platform.task_runner_in_driver``: the task runner in this process instead of an actor of its own (a single
    run; the jobs of a multirun keep verl's actor, see :func:`run`).

    verl's ``run_ppo`` starts Ray, then calls ``task_runner_class.remote().run.remote(config)`` and waits on the
    result. The task runner only orchestrates (it builds the trainer, which starts every worker, and drives
    ``fit``); as an actor it is one more process that imports torch, verl and the recipe before any worker can
    start: ~6 s on the critical path of start-up on 2 cores, where this process has imported them already. This
    answers the same two calls here: the same runner class, config and trainer.
    """

    @classmethod
    def remote(cls) -> InDriverTaskRunner:
        return cls()

    def __init__(self):
        self.run = types.SimpleNamespace(remote=self._run)

    @staticmethod
    def _run(config: DictConfig):
        # What `import verl` does in each Ray process (VERL_USE_EXTERNAL_MODULES), done here after the fact: this
        # process imported verl before the driver set the environment.
        if os.environ.get("VERL_PLATFORM") == "cpu":
            from recipe.platform.cpu import activate

            activate()
        import_external_libs([m for m in os.environ.get(EXTERNAL_MODULES_VAR, "").split(",") if m])
        # verl's runner resolves the config in place; its actor got a copy.
        ERPOTaskRunner.__ray_actor_class__().run(copy.deepcopy(config))
        return ray.put(None)  # run_ppo ray.get()s what run.remote returns


def run(config: DictConfig) -> None:
    """Validate, prepare the environment, and train."""
    from verl.trainer.main_ppo import run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    preflight(config, multirun=_in_multirun())
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    try:
        # A Hydra multirun runs its jobs in this one process: each job's runner keeps its own actor process, so what
        # lives per process (W&B's run, set up once per process; logging handlers) starts fresh for every job.
        in_driver = (config.get("platform") or {}).get("task_runner_in_driver") is True and not _in_multirun()
        run_ppo(config, task_runner_class=InDriverTaskRunner if in_driver else ERPOTaskRunner)
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
