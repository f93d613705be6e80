"""GRESO as a data-side component on verl's V1 sync trainer (the pure core: erpo/greso/).

``choose``: every batch of prompts verl asks for (the step's first batch, and each of DAPO's refills) is
filled with prompts GRESO keeps: candidates come from the draw before it (verl's data loader), the skip rule
(:meth:`erpo.greso.GRESOSelector.select`, on the streaks of the ``prompt_history`` the ERPO tracker
publishes) skips the ones likely to give a zero-variance group again, and further draws fill the batch. So a
skipped prompt is never rolled out and costs no generation. Sizes:

- without dynamic sampling the step rolls out exactly ``data.train_batch_size`` kept prompts (verl's sync
  replay buffer trains on that many groups and keeps no surplus);
- with DAPO's dynamic sampling (``algorithm.filter_groups.enable``), the step's first round rolls out
  ``ceil(greso.sampling_batch_multiplier x train_batch_size)`` kept prompts, GRESO's 384 for 256
  (their script), and verl's refills ask for exactly the prompts it wants; verl trains on
  ``train_batch_size`` mixed groups and discards the surplus.

``observe`` counts each recorded group's outcome (by ``greso.group_rule``; under ``mean_score`` the rule is
published as ``outcome_rule`` so the tracker records the same outcomes); ``end_step`` adapts p_easy / p_hard
and returns the ``greso/`` metrics. State: ``greso_state.json``; a checkpoint written when GRESO's state lived
inside ``erpo_state.json`` (its ``greso`` entry) still loads.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from omegaconf import OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY, MethodSpec, register
from erpo.erpo.tracker import classify
from erpo.greso import GRESOConfig, GRESOSelector
from recipe.common.components import VerlComponent, take_rows
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.greso.refusals import check_greso_fields

logger = logging.getLogger(__name__)

STATE_FILE = "greso_state.json"
# Where checkpoints written before GRESO had a file of its own kept its state (the "greso" entry).
LEGACY_STATE_FILE = "erpo_state.json"
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


class GRESOComponent(VerlComponent):
    name = "greso"
    state_file = STATE_FILE
    restore_label = "GRESO state"
    needs = (PROMPT_HISTORY,)
    missing_state_fix = (
        "Resume from a checkpoint written with greso.enabled=true, or start a fresh run (trainer.resume_mode=disable)."
    )

    def __init__(self, cfg: GRESOConfig, train_batch_size: int, gen_batch_size: int | None, dynamic_sampling: bool):
        self.cfg = cfg
        self.selector = GRESOSelector(cfg)
        self.train_batch_size = train_batch_size
        # verl draws prompts in whole data-loader batches of gen_batch_size.
        self.chunk = gen_batch_size or train_batch_size
        self.dynamic_sampling = dynamic_sampling
        # Kept candidates beyond a request (a loader chunk larger than the prompts still wanted); served
        # first by the next request, without a second skip decision.
        self.carry: list = []
        self._draws = 0  # candidate draws at this global step (seeds the skip draws)
        self._draw_step = -1

    @classmethod
    def from_config(cls, config) -> GRESOComponent:
        cfg = GRESOConfig.from_dict(OmegaConf.to_container(config.greso, resolve=True))
        filter_groups = config.algorithm.get("filter_groups") or {}
        return cls(
            cfg,
            int(config.data.train_batch_size),
            config.data.get("gen_batch_size", None),
            bool(filter_groups.get("enable", False)),
        )

    def publishes(self) -> dict:
        return {OUTCOME_RULE: self.cfg.outcomes_by_mean} if self.cfg.group_rule == "mean_score" else {}

    # ---- which prompts are rolled out -------------------------------------------------------
    def choose(self, draw, wanted, ctx):
        wanted = wanted if wanted is not None else self.first_round()
        parts = self._take_carry(wanted)
        have = sum(len(p) for p in parts)
        limit, examined = candidate_limit(wanted, self.cfg.keep_floor), 0
        history = ctx.shared[PROMPT_HISTORY]
        while have < wanted:
            if examined >= limit:
                raise GRESOCannotFill(
                    f"GRESO skipped all but {have} of {examined} candidates while filling a batch of {wanted} "
                    f"prompts (bound {limit}); the training set is almost all zero-variance prompts under these "
                    f"settings. Raise greso.keep_floor or greso.p_min (keep more streak prompts), or lower "
                    f"greso.target_zero_variance; greso.enabled=false rolls out every prompt."
                )
            need = wanted - have
            candidates = draw(math.ceil(need / self.chunk) * self.chunk)
            sources = [str(unwrap_non_tensor(s)) for s in candidates["data_source"]]
            indices = np.asarray([int(unwrap_non_tensor(i)) for i in candidates["index"]], dtype=np.int64)
            streak, kind = history.zero_variance_streaks(sources, indices)
            selection = self.selector.select(streak, kind, need, self._rng(ctx))
            examined += len(sources)
            if len(selection.kept):
                parts.append(take_rows(candidates, selection.kept))
                have += len(selection.kept)
            if len(selection.unused):
                self.carry.append(take_rows(candidates, selection.unused))
        batch = parts[0] if len(parts) == 1 else tu.concat_tensordict(parts)
        tu.assign_non_tensor_data(batch, "global_steps", ctx.step)
        return batch

    def first_round(self) -> int:
        """Prompts the step's first round rolls out: GRESO's larger sampling batch only when dynamic
        sampling can discard the surplus; otherwise verl's sync buffer needs exactly train_batch_size."""
        if self.dynamic_sampling:
            return self.selector.rollout_batch(self.train_batch_size)
        return self.train_batch_size

    def _take_carry(self, wanted: int) -> list:
        parts, have = [], 0
        while self.carry and have < wanted:
            head = self.carry.pop(0)
            take = min(len(head), wanted - have)
            if take < len(head):
                self.carry.insert(0, take_rows(head, np.arange(take, len(head))))
                head = take_rows(head, np.arange(take))
            parts.append(head)
            have += take
        return parts

    def _rng(self, ctx) -> np.random.Generator:
        """Skip draws seeded by (seed, global step, draw number within the step): a resumed run makes the
        same decisions as an uninterrupted one, with no generator state in the checkpoint."""
        if self._draw_step != ctx.step:
            self._draw_step, self._draws = ctx.step, 0
        self._draws += 1
        return np.random.default_rng([int(ctx.seed), int(ctx.step), self._draws])

    # ---- once per training step: adapt p_easy / p_hard, log greso/ -------------------------
    def observe(self, groups, ctx) -> None:
        if not groups:
            return
        if self.cfg.group_rule == "mean_score":
            outcome = self.cfg.outcomes_by_mean([float(np.mean(g.scores)) for g in groups])
        else:
            outcome = classify([sum(g.correct) for g in groups], [len(g.scores) for g in groups])
        self.selector.observe(outcome)

    def end_step(self, ctx) -> dict[str, float]:
        return self.selector.end_step(self.epoch())

    def epoch(self) -> int:
        """Data-loader epoch (from 0) of the latest candidate drawn: (candidates drawn - 1) // prompts per
        loader epoch. GRESO's epoch is a pass over the data (``if epoch > 0`` gates its adaptation); verl's
        own epoch counts train_batch_size prompts per step, but GRESO draws more than that per step.
        """
        loader = self.trainer.train_dataloader
        per_epoch = len(loader) * int(loader.batch_size)
        return max(int(self.selector.counts["candidates_total"]) - 1, 0) // max(per_epoch, 1)

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return self.selector.state_dict()

    def load_state_dict(self, state: dict) -> str:
        self.selector.load_state_dict(state)
        s = self.selector
        return (
            f"p_easy={s.p_easy}, p_hard={s.p_hard}, candidates_total={s.counts['candidates_total']}, "
            f"skipped_total={s.counts['skipped_total']}"
        )

    def legacy_state(self, read) -> dict | None:
        """A checkpoint of the layout where GRESO's state was the ``greso`` entry of erpo_state.json; one
        whose entry is null (written with GRESO off) starts GRESO from the config's probabilities (logged)."""
        old = read(LEGACY_STATE_FILE)
        if old is None or "greso" not in old:
            return None
        if old["greso"] is None:
            logger.warning(
                "The checkpoint holds no GRESO state; GRESO starts from greso.p_easy=%s, p_hard=%s.",
                self.cfg.p_easy,
                self.cfg.p_hard,
            )
            return GRESOSelector(self.cfg).state_dict()
        return old["greso"]


SPEC = register(
    MethodSpec(
        name="greso",
        section="greso",
        enabled=lambda section: bool(section.get("enabled")),
        build=GRESOComponent.from_config,
        order=50,
        refuse=check_greso_fields,
    )
)
