"""Rollout accounting as a data-side component (pure counter: erpo/rollouts/counter.py; metrics in docs/metrics.md).

Every prompt batch the trainer sends to the rollout, the step's first batch and every DAPO refill alike, is
reported through ``dispatched``: counting there counts what was generated, whatever chose the prompts
(PREPO's window, a skip rule that dispatches fewer prompts). The same hook enforces DAPO's
``algorithm.filter_groups.max_num_gen_batches`` ceiling, which verl 0.9.1's V1 replay buffer ignores.
``observe`` counts the trained groups that carry gradient (reward variance, or all correct under RA);
``end_step`` adds the step's non-rollout costs (``ctx.costs["scoring_forward_passes"]``, PREPO's perplexity
passes). The counter travels in the checkpoint (``rollouts_state.json``), so a resumed run continues the
count.
"""

from __future__ import annotations

from erpo.components import SCORING_FORWARD_PASSES, MethodSpec, register
from erpo.rollouts import RolloutCounter, refill_ceiling_error
from recipe.common.components import VerlComponent

STATE_FILE = "rollouts_state.json"


class RolloutAccounting(VerlComponent):
    """``rollouts/total``, ``rollouts/effective``, ``rollouts/scoring_forward_passes`` for every variant."""

    name = "rollouts"
    state_file = STATE_FILE
    restore_label = "Rollout counter"
    missing_state_fix = (
        "Resume from a checkpoint written by this recipe version (it writes rollouts_state.json), "
        "or start a fresh run (trainer.resume_mode=disable)."
    )

    def __init__(self, dapo_ceiling: int, train_batch_size: int, ra_enabled: bool):
        self.counter = RolloutCounter()
        self.dapo_ceiling, self.train_batch_size, self.ra_enabled = dapo_ceiling, train_batch_size, ra_enabled

    @classmethod
    def from_config(cls, config) -> RolloutAccounting:
        filter_groups = config.algorithm.get("filter_groups") or {}
        ceiling = int(filter_groups.get("max_num_gen_batches", 0) or 0) if filter_groups.get("enable", False) else 0
        ra = ((config.get("erpo") or {}).get("ra") or {}).get("enabled", False)
        return cls(ceiling, int(config.data.train_batch_size), bool(ra))

    def dispatched(self, ctx, prompts: int, n: int) -> None:
        step_prompts = self.counter.record_dispatch(ctx.step, prompts, n)
        error = refill_ceiling_error(step_prompts, self.dapo_ceiling, self.train_batch_size)
        if error is not None:
            raise RuntimeError(error)

    def observe(self, groups, ctx) -> None:
        trained = [g for g in groups if g.trained]
        self.counter.record_trained(
            [len(g.scores) for g in trained],
            [max(g.scores) > min(g.scores) or (self.ra_enabled and all(g.correct)) for g in trained],
        )

    def end_step(self, ctx) -> dict[str, float]:
        self.counter.record_scoring(ctx.costs.get(SCORING_FORWARD_PASSES, 0))
        return self.counter.metrics()

    def state_dict(self) -> dict:
        return self.counter.state_dict()

    def load_state_dict(self, state: dict) -> str:
        self.counter.load_state_dict(state)
        return f"{self.counter.total} rollouts, {self.counter.effective} effective"


SPEC = register(
    MethodSpec(
        name="rollouts", section="rollouts", enabled=lambda section: True, build=RolloutAccounting.from_config, order=0
    )
)
