"""Start-up side effects in the driver, after the refusals pass and before Ray starts.

Builds local assets (tiny model, toy data), sets the environment every Ray process inherits
(platform, verl plugin modules, W&B identity) and writes the resolved config beside the run's log.
"""

from __future__ import annotations

import hashlib
import json
import os

from omegaconf import DictConfig, OmegaConf, open_dict

from erpo.erpo.config import ERPOConfig
from recipe.common.environment import add_verl_external_modules
from recipe.erpo.refusals import ConfigRefused, as_list, refuse_bad_data, refuse_bad_fields, refuse_bad_plan

# Imported by verl in every process (driver, task runner, agent-loop and engine workers).
PLUGIN_MODULE = "recipe.erpo.plugins"


def preflight(config: DictConfig, multirun: bool = False) -> ERPOConfig:
    """Refuse a config that cannot work, then prepare assets and the environment (``multirun``: this is one job
    of a Hydra multirun, whose jobs share this process)."""
    erpo_cfg = refuse_bad_fields(config)
    build_local_assets(config)  # before the data refusals: they read the toy files it writes
    refuse_bad_data(config)
    refuse_bad_plan(config)  # prints the run plan (erpo/plan.py)
    set_environment(config)
    set_wandb_environment(config, multirun)
    write_run_config(config)
    return erpo_cfg


def build_local_assets(config: DictConfig) -> None:
    """Build the tiny model / toy data / the assets of ``assets.builder`` the CPU configs point at, if they are not
    there yet."""
    assets = config.get("assets") or {}
    if assets.get("tiny_model_dir"):
        from erpo.tiny import build_tiny_model

        build_tiny_model(
            assets.tiny_model_dir,
            seed=int(assets.get("seed", 0)),
            warm_start_steps=int(assets.get("warm_start_steps", 0)),
        )
    if assets.get("builder"):
        # A study's own asset builder, named by the config (recipe/conf/model/cpu_study.yaml): the driver does
        # not import the study.
        from hydra.utils import call

        call(assets.builder)
    if config.data.get("name") == "toy":
        from erpo.tiny import write_toy_parquet

        write_toy_parquet(assets.toy_train_file, n=int(assets.toy_train_rows), seed=int(assets.get("seed", 0)))
        write_toy_parquet(assets.toy_val_file, n=int(assets.toy_val_rows), seed=int(assets.get("seed", 0)) + 1)
    # Ray workers may not share the driver's working directory: make local paths absolute.
    with open_dict(config):
        model_path = config.actor_rollout_ref.model.path
        if os.path.exists(model_path):
            config.actor_rollout_ref.model.path = os.path.abspath(model_path)
        for key in ("train_files", "val_files"):
            files = as_list(config.data.get(key))
            if files:
                config.data[key] = [os.path.abspath(p) if os.path.exists(p) else p for p in files]


def set_environment(config: DictConfig) -> None:
    """Environment every Ray process inherits: the platform's own, then our verl plugins."""
    if (config.get("platform") or {}).get("name") == "cpu":
        from recipe.platform.cpu import apply_cpu_environment

        apply_cpu_environment(config.get("platform"))
    # verl's JSONL logger writes <root>/<project>/<experiment>.jsonl; the default root "." would
    # put it inside the `erpo` package directory.
    os.environ.setdefault("VERL_FILE_LOGGER_ROOT", os.path.abspath("outputs/logs"))
    add_verl_external_modules(PLUGIN_MODULE)


def run_config_path(config: DictConfig) -> str:
    """``<logger root>/<project>/<experiment>.config.json``, beside verl's JSONL metrics file."""
    root = os.environ.get("VERL_FILE_LOGGER_ROOT", os.path.abspath("outputs/logs"))
    return os.path.join(root, str(config.trainer.project_name), f"{config.trainer.experiment_name}.config.json")


def write_run_config(config: DictConfig) -> str:
    """The resolved config of the run beside its JSONL log, so offline analysis (notebooks,
    benchmarks) knows each run's variant, seed, model and schedule without W&B."""
    path = run_config_path(config)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    resolved = OmegaConf.to_container(config, resolve=True)
    with open(path, "w") as f:
        json.dump(resolved, f, indent=1, default=str)
    return path


def wandb_settings(config: DictConfig) -> dict[str, str]:
    """W&B run identity through its environment variables (verl's wandb.init takes no group/tags).

    group = variant (seeds aggregate), job_type = train, tags = algorithm, model, dataset, schedule;
    the run id derives from the run name, so a resumed run continues the same W&B run.
    """
    name = str(config.trainer.experiment_name)
    run_id = hashlib.sha1(f"{config.trainer.project_name}/{name}".encode()).hexdigest()[:16]
    tags = [str(config.variant), str(config.model_name), str(config.data.name), str(config.erpo.temperature.schedule)]
    return {
        "WANDB_RUN_GROUP": str(config.variant),
        "WANDB_JOB_TYPE": "train",
        "WANDB_TAGS": ",".join(tags),
        "WANDB_RUN_ID": run_id,
        "WANDB_RESUME": "allow",
        "WANDB_MODE": str((config.get("wandb") or {}).get("mode", "online")),
        "WANDB_DIR": os.path.abspath("outputs"),
    }


# W&B variables this process set (key -> value): the next job of a multirun, in the same process, must
# replace them (else every job would log into the first job's run), while a value the user set wins.
_WANDB_SET_HERE: dict[str, str] = {}


def set_wandb_environment(config: DictConfig, multirun: bool = False) -> None:
    if "wandb" in as_list(config.trainer.get("logger")):
        user_run_id = os.environ.get("WANDB_RUN_ID")
        if multirun and user_run_id is not None and user_run_id != _WANDB_SET_HERE.get("WANDB_RUN_ID"):
            raise ConfigRefused(
                f"WANDB_RUN_ID={user_run_id} is set in the environment and this is a Hydra multirun: every job "
                "would log into that one W&B run. Unset WANDB_RUN_ID (each job then gets its own id from its run "
                "name, trainer.experiment_name), or run the jobs one at a time."
            )
        for key, value in wandb_settings(config).items():
            if key not in os.environ or os.environ[key] == _WANDB_SET_HERE.get(key):
                os.environ[key] = value
                _WANDB_SET_HERE[key] = value
