"""Rollout accounting on verl's V1 trainer (pure counter: erpo/rollouts.py; metrics in docs/metrics.md).

A mixin placed before verl's trainer class. Every prompt batch the trainer sends to the rollout, the step's
first batch and every DAPO refill alike, goes through ``_submit_batch_to_rollout``: counting there counts what
was generated, whatever chose the prompts (PREPO's window, a skip rule that dispatches fewer prompts). The
same hook enforces DAPO's ``algorithm.filter_groups.max_num_gen_batches`` ceiling, which verl 0.9.1's V1
replay buffer ignores. The counter travels in the checkpoint (``rollouts_state.json``), so a resumed run
continues the count.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from erpo.rollouts import RolloutCounter, refill_ceiling_error
from recipe.common.checkpoint_files import announce_restore, load_side_file, save_side_file

logger = logging.getLogger(__name__)

STATE_FILE = "rollouts_state.json"


class RolloutAccounting:
    """``rollouts/total``, ``rollouts/effective``, ``rollouts/scoring_forward_passes`` for every variant."""

    def __init__(self, config: DictConfig):
        self.rollout_counter = RolloutCounter()
        filter_groups = config.algorithm.get("filter_groups") or {}
        self._dapo_ceiling = (
            int(filter_groups.get("max_num_gen_batches", 0) or 0) if filter_groups.get("enable", False) else 0
        )
        super().__init__(config)

    def _submit_batch_to_rollout(self, batch) -> int:
        step_prompts = self.rollout_counter.record_dispatch(
            int(self.global_steps), len(batch), int(self.config.actor_rollout_ref.rollout.n)
        )
        error = refill_ceiling_error(step_prompts, self._dapo_ceiling, int(self.config.data.train_batch_size))
        if error is not None:
            raise RuntimeError(error)
        return super()._submit_batch_to_rollout(batch)

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        metrics.update(self.rollout_counter.metrics())
        return super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)

    def _save_checkpoint(self):
        save_side_file(self.config.trainer, self.global_steps, STATE_FILE, self.rollout_counter.state_dict())
        super()._save_checkpoint()

    def _load_checkpoint(self):
        super()._load_checkpoint()
        if self.global_steps == 0:
            return
        path, state = load_side_file(
            self.config.trainer, self.global_steps, STATE_FILE, what="rollout counter state",
            fix="Resume from a checkpoint written by this recipe version (it writes rollouts_state.json), or start "
                "a fresh run (trainer.resume_mode=disable).",
        )
        self.rollout_counter.load_state_dict(state)
        announce_restore(logger, f"Rollout counter restored from {path}: {self.rollout_counter.total} rollouts, "
                         f"{self.rollout_counter.effective} effective")
