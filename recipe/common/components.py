"""The verl side of the data-side component protocol (erpo/components.py): the trainer hooks a component may
need beyond the pure ones, and each component's checkpoint side file.

:class:`VerlComponent` adds, all optional: ``bind(trainer)`` (the verl trainer, the host whose config,
workers and data loader a component may read; never another component), ``on_workers_ready()``
(after verl built its workers), ``logprob_metadata(extra_info)`` (each log-prob pass's batch metadata),
``before_actor_update(batch, metrics)``, ``wrap_replay_buffer(buffer)`` and ``advantage_scope(batch,
metrics)`` (a context around verl's advantage). Side-file policy: a missing file is refused naming
``missing_state_fix`` unless ``fresh_flag`` (the config field that allows it) is set and true; when the own
file is missing, ``legacy_state(read)`` may return the state from a checkpoint of an older layout.
"""

from __future__ import annotations

import contextlib
import logging
import os

from erpo.components import DataComponent
from erpo.state_files import read_state
from recipe.common.checkpoint_files import announce_restore, resumed_folder, save_side_file

logger = logging.getLogger(__name__)


class VerlComponent(DataComponent):
    # Text of the error for a checkpoint without this component's side file (the fix to apply).
    missing_state_fix: str = (
        "Resume from a checkpoint written with this method on, or start a fresh run (trainer.resume_mode=disable)."
    )
    # (config field, value) that allows a fresh start when the side file is missing; None: never.
    fresh_flag: tuple[str, bool] | None = None
    # What the restore line calls the state ("<label> restored from <folder>: <summary>").
    restore_label: str = "state"
    # False: this component has nothing to save in this run (e.g. PREPO's weighting without its schedule).
    saves_state: bool = True

    def bind(self, trainer) -> None:
        self.trainer = trainer

    def on_workers_ready(self) -> None:
        return None

    def logprob_metadata(self, extra_info):
        return extra_info

    def before_actor_update(self, batch, metrics: dict) -> None:
        return None

    def wrap_replay_buffer(self, buffer) -> None:
        return None

    def advantage_scope(self, batch, metrics: dict):
        return contextlib.nullcontext()

    def legacy_state(self, read) -> dict | None:
        """State from a checkpoint written before this component had its own file (``read(name)`` gives the
        named side file's dict, or None); None: there is none."""
        return None


def take_rows(batch, positions):
    """The rows of a verl prompt batch (a TensorDict from the data loader) at ``positions``, in that order."""
    import numpy as np
    import torch
    from verl.utils import tensordict_utils as tu

    return tu.index_select_tensor_dict(batch, torch.as_tensor(np.asarray(positions), dtype=torch.long))


def save_component_states(components, trainer_cfg, global_steps: int) -> None:
    for c in components:
        if c.state_file is not None and c.saves_state:
            save_side_file(trainer_cfg, global_steps, c.state_file, c.state_dict())


def load_component_states(components, trainer_cfg, global_steps: int) -> None:
    """Restore every component with a side file from the checkpoint verl resumed from."""
    folder = resumed_folder(trainer_cfg, global_steps)

    def read(name: str) -> dict | None:
        path = os.path.join(folder, name)
        return read_state(path, what=name, fix="", allow_fresh=True) if os.path.exists(path) else None

    for c in components:
        if c.state_file is None or not c.saves_state:
            continue
        path = os.path.join(folder, c.state_file)
        state = None if os.path.exists(path) else c.legacy_state(read)
        if state is None:  # the own file: read strictly (missing or corrupt is refused, naming the fix)
            flag, allowed = c.fresh_flag or ("", False)
            what = c.restore_label if c.restore_label.endswith(" state") else f"{c.restore_label} state"
            state = read_state(path, what=what, fix=c.missing_state_fix, allow_fresh=allowed, fresh_flag=flag)
        if state is not None:
            announce_restore(logger, f"{c.restore_label} restored from {folder}: {c.load_state_dict(state)}")
