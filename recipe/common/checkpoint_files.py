"""Side files (ERPO's tracker, PREPO's schedule state, ...) that travel inside verl's checkpoint folders.

Written before verl's own save (verl marks a checkpoint complete only at the end of it), read after
verl's resume; both through :mod:`erpo.state_files` (atomic write, strict read).
"""

from __future__ import annotations

import logging
import os

from erpo.state_files import read_state, write_state


def step_folder(trainer_cfg, global_steps: int) -> str:
    """``<default_local_dir>/global_step_<n>``: where verl writes the checkpoint of step n."""
    return os.path.join(trainer_cfg.default_local_dir, f"global_step_{global_steps}")


def resumed_folder(trainer_cfg, global_steps: int) -> str:
    """The checkpoint folder verl resumed from (``resume_from_path`` or the latest step folder)."""
    if trainer_cfg.resume_mode == "resume_path":
        return trainer_cfg.resume_from_path
    return step_folder(trainer_cfg, global_steps)


def save_side_file(trainer_cfg, global_steps: int, name: str, state: dict) -> str:
    """Write ``state`` as ``name`` into the folder of step ``global_steps``' checkpoint; returns the path."""
    path = os.path.join(step_folder(trainer_cfg, global_steps), name)
    write_state(path, state)
    return path


def load_side_file(
    trainer_cfg, global_steps: int, name: str, *, what: str, fix: str, allow_fresh: bool = False, fresh_flag: str = ""
) -> tuple[str, dict | None]:
    """(path, state) of side file ``name`` in the checkpoint verl resumed from; see erpo.state_files.read_state."""
    path = os.path.join(resumed_folder(trainer_cfg, global_steps), name)
    return path, read_state(path, what=what, fix=fix, allow_fresh=allow_fresh, fresh_flag=fresh_flag)


def announce_restore(log: logging.Logger, message: str) -> None:
    """Log a restore line and print it: Ray forwards the task runner's stdout to the driver
    console, where users (and the resume tests) look for it."""
    log.info(message)
    print(message, flush=True)
