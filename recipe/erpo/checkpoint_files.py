"""Side files (tracker, scheduler state) that travel inside verl's checkpoint folders."""

from __future__ import annotations

import json
import os


def step_folder(trainer_cfg, global_steps: int) -> str:
    """``<default_local_dir>/global_step_<n>``: where verl writes the checkpoint of step n."""
    return os.path.join(trainer_cfg.default_local_dir, f"global_step_{global_steps}")


def resumed_folder(trainer_cfg, global_steps: int) -> str:
    """The checkpoint folder verl resumed from (``resume_from_path`` or the latest step folder)."""
    if trainer_cfg.resume_mode == "resume_path":
        return trainer_cfg.resume_from_path
    return step_folder(trainer_cfg, global_steps)


def write_json_atomic(path: str, obj) -> None:
    """Write via a temporary file and rename, so a kill mid-write never leaves half a file.

    Called before verl's own save: verl marks a checkpoint complete only at the end of it.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def announce_restore(log, message: str) -> None:
    """Log a restore line and print it: Ray forwards the task runner's stdout to the driver
    console, where users (and the resume tests) look for it."""
    log.info(message)
    print(message, flush=True)
