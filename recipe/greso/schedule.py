"""GRESO on verl's V1 sync trainer: a trainer mixin over ``_next_train_batch`` (PREPO's extension point).

Every batch of prompts verl asks for (the step's first batch, and each of DAPO's refills) is filled with
prompts GRESO keeps: candidates come from verl's data loader, :meth:`ERPOController.select` skips the
ones likely to give a zero-variance group again, and further draws fill the batch. So a skipped prompt
is never rolled out and costs no generation. Sizes:

- without dynamic sampling the step rolls out exactly ``data.train_batch_size`` kept prompts (verl's sync
  replay buffer trains on that many groups and keeps no surplus);
- with DAPO's dynamic sampling (``algorithm.filter_groups.enable``), the step's first round rolls out
  ``ceil(greso.sampling_batch_multiplier x train_batch_size)`` kept prompts, GRESO's 384 for 256
  (their script), and verl's refills ask for exactly the prompts it wants; verl trains on
  ``train_batch_size`` mixed groups and discards the surplus.

Once per training step (``_balance_batch``, after the ERPO trainer has recorded the step's groups,
DAPO-evicted ones included) ``end_step`` adapts p_easy / p_hard and returns the ``greso/`` metrics.
GRESO's state is part of the controller's state, so it travels in the tracker's checkpoint file.

The trainer this mixes into must set ``self.erpo`` (an :class:`erpo.controller.ERPOController` built with
the ``greso`` config) before calling ``__init__``. Off unless ``greso.enabled``; then this class only
passes calls through.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.greso import GRESOConfig
from recipe.common.non_tensor import unwrap_non_tensor

logger = logging.getLogger(__name__)

# Smallest keep probability the draw bound assumes when greso.keep_floor is 0.
_FLOOR_FOR_BOUND = 1e-3
# Expected kept prompts at the bound, as a multiple of the prompts wanted (see candidate_limit).
_BOUND_MARGIN = 10


class GRESOCannotFill(RuntimeError):
    """GRESO skipped so many candidates that a batch could not be filled within the draw bound."""


def candidate_limit(wanted: int, keep_floor: float) -> int:
    """Most candidates one batch may examine: ``ceil(10 x wanted / keep_floor)``.

    Every candidate is kept with probability >= keep_floor, so at the bound the expected number kept is
    10 x wanted, and falling short means (for wanted = 1) a chance below e^-10: a batch that cannot be
    filled signals a configuration problem, not bad luck. Our choice; GRESO's code draws without a bound.
    """
    return math.ceil(_BOUND_MARGIN * wanted / max(keep_floor, _FLOOR_FOR_BOUND))


def rows(batch, positions) -> object:
    """The rows of a verl prompt batch at ``positions`` (a numpy integer array)."""
    return tu.index_select_tensor_dict(batch, torch.as_tensor(np.asarray(positions), dtype=torch.long))


class GRESOSchedule:
    """Mixin placed before verl's trainer class; every method calls on with ``super()``."""

    def __init__(self, config: DictConfig):
        self.greso_config = GRESOConfig.from_dict(OmegaConf.to_container(config.get("greso") or {}, resolve=True))
        # Kept candidates beyond a request (a loader chunk larger than the prompts still wanted); served
        # first by the next request, without a second skip decision.
        self._greso_carry: list = []
        self._greso_draws = 0  # candidate draws at this global step (seeds the skip draws)
        self._greso_draw_step = -1
        super().__init__(config)

    # ---- which prompts are rolled out -------------------------------------------------------
    def _next_train_batch(self, num_prompts: int | None = None):
        if not self.greso_config.enabled:
            return super()._next_train_batch(num_prompts)
        wanted = num_prompts if num_prompts is not None else self._greso_first_round()
        parts = self._take_carry(wanted)
        have = sum(len(p) for p in parts)
        chunk = self._greso_chunk()
        limit, examined = candidate_limit(wanted, self.greso_config.keep_floor), 0
        while have < wanted:
            if examined >= limit:
                raise GRESOCannotFill(
                    f"GRESO skipped all but {have} of {examined} candidates while filling a batch of {wanted} "
                    f"prompts (bound {limit}); the training set is almost all zero-variance prompts under these "
                    f"settings. Raise greso.keep_floor or greso.p_min (keep more streak prompts), or lower "
                    f"greso.target_zero_variance; greso.enabled=false rolls out every prompt."
                )
            need = wanted - have
            size = math.ceil(need / chunk) * chunk
            candidates = super()._next_train_batch(size)
            sources = [str(unwrap_non_tensor(s)) for s in candidates["data_source"]]
            indices = np.asarray([int(unwrap_non_tensor(i)) for i in candidates["index"]], dtype=np.int64)
            selection = self.erpo.select(sources, indices, need, self._greso_rng())
            examined += len(sources)
            if len(selection.kept):
                parts.append(rows(candidates, selection.kept))
                have += len(selection.kept)
            if len(selection.unused):
                self._greso_carry.append(rows(candidates, selection.unused))
        batch = parts[0] if len(parts) == 1 else tu.concat_tensordict(parts)
        tu.assign_non_tensor_data(batch, "global_steps", self.global_steps)
        return batch

    def _greso_first_round(self) -> int:
        """Prompts the step's first round rolls out: GRESO's larger sampling batch only when dynamic
        sampling can discard the surplus; otherwise verl's sync buffer needs exactly train_batch_size."""
        train_batch = int(self.config.data.train_batch_size)
        filter_groups = self.config.algorithm.get("filter_groups") or {}
        if filter_groups.get("enable", False):
            return self.erpo.greso.rollout_batch(train_batch)
        return train_batch

    def _greso_chunk(self) -> int:
        """verl draws prompts in whole data-loader batches of gen_batch_size."""
        return int(self.config.data.get("gen_batch_size", None) or self.config.data.train_batch_size)

    def _take_carry(self, wanted: int) -> list:
        parts, have = [], 0
        while self._greso_carry and have < wanted:
            head = self._greso_carry.pop(0)
            take = min(len(head), wanted - have)
            if take < len(head):
                self._greso_carry.insert(0, rows(head, np.arange(take, len(head))))
                head = rows(head, np.arange(take))
            parts.append(head)
            have += take
        return parts

    def _greso_rng(self) -> np.random.Generator:
        """Skip draws seeded by (seed, global step, draw number within the step): a resumed run makes the
        same decisions as an uninterrupted one, with no generator state in the checkpoint."""
        if self._greso_draw_step != self.global_steps:
            self._greso_draw_step, self._greso_draws = self.global_steps, 0
        self._greso_draws += 1
        seed = int(self.config.get("seed", 0) or 0)
        return np.random.default_rng([seed, int(self.global_steps), self._greso_draws])

    # ---- once per training step: adapt p_easy / p_hard, log greso/ -------------------------
    def _balance_batch(self, batch, metrics):
        """verl's first hook with the scored batch; the ERPO trainer records the step's groups (and the
        groups DAPO evicted or discarded) before calling this, so end_step sees every rolled-out group."""
        if self.greso_config.enabled:
            metrics.update(self.erpo.end_step(self._greso_epoch()))
        return super()._balance_batch(batch, metrics)

    def _greso_epoch(self) -> int:
        """Data-loader epoch (from 0) of the latest candidate drawn: (candidates drawn - 1) // prompts per
        loader epoch. GRESO's epoch is a pass over the data (``if epoch > 0`` gates its adaptation); verl's
        own epoch counts train_batch_size prompts per step, but GRESO draws more than that per step.
        """
        per_epoch = len(self.train_dataloader) * int(self.train_dataloader.batch_size)
        return max(int(self.erpo.greso.counts["candidates_total"]) - 1, 0) // max(per_epoch, 1)
