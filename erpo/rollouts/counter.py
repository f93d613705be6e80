"""Rollout accounting, method-agnostic: counts what was generated, not what a method planned.

``total``: responses generated since the start (every prompt dispatched to the rollout x n, DAPO's refill
rounds and groups later filtered or discarded included; a prompt a selector skips is never dispatched and
costs nothing). ``effective``: responses in trained groups that carry gradient (reward variance, or an
all-correct group that RA reactivates). ``scoring_forward_passes``: PREPO's prompt-perplexity passes (forward
passes over prompts, not rollouts). The recipe glue is recipe/rollouts/component.py; metrics in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from erpo.errors import InputError, StateFileError

STATE_VERSION = 1


@dataclass
class RolloutCounter:
    total: int = 0
    effective: int = 0
    scoring_forward_passes: int = 0
    step: int = -1  # the step whose dispatches step_prompts counts
    step_prompts: int = 0

    def record_dispatch(self, step: int, prompts: int, n: int) -> int:
        """``prompts`` prompts sent to the rollout at ``step``, ``n`` responses each; returns the step's prompts."""
        if prompts < 0 or n < 1:
            raise InputError(f"record_dispatch(prompts={prompts}, n={n}): prompts must be >= 0 and n >= 1.")
        if step != self.step:
            self.step, self.step_prompts = step, 0
        self.step_prompts += prompts
        self.total += prompts * n
        return self.step_prompts

    def record_trained(self, group_sizes, carries_gradient) -> None:
        """Trained groups' sizes and whether each carries gradient."""
        for size, live in zip(group_sizes, carries_gradient, strict=True):
            if live:
                self.effective += int(size)

    def record_scoring(self, passes: int) -> None:
        if passes < 0:
            raise InputError(f"record_scoring(passes={passes}) must be >= 0.")
        self.scoring_forward_passes += int(passes)

    def metrics(self) -> dict[str, float]:
        return {
            "rollouts/total": float(self.total),
            "rollouts/effective": float(self.effective),
            "rollouts/scoring_forward_passes": float(self.scoring_forward_passes),
        }

    def state_dict(self) -> dict:
        return {
            "version": STATE_VERSION,
            "total": self.total,
            "effective": self.effective,
            "scoring_forward_passes": self.scoring_forward_passes,
        }

    def load_state_dict(self, state: dict) -> None:
        expected = {"version", "total", "effective", "scoring_forward_passes"}
        if not isinstance(state, dict) or set(state) != expected or state["version"] != STATE_VERSION:
            raise StateFileError(
                f"rollout counter state {state!r} is not a version-{STATE_VERSION} state with keys "
                f"{sorted(expected)}; resume from a checkpoint written by this recipe."
            )
        self.total, self.effective = int(state["total"]), int(state["effective"])
        self.scoring_forward_passes = int(state["scoring_forward_passes"])


def refill_ceiling_error(step_prompts: int, max_num_gen_batches: int, train_batch_size: int) -> str | None:
    """Message when a step has dispatched more prompts than DAPO's ceiling allows, else None (0 = no ceiling)."""
    ceiling = max_num_gen_batches * train_batch_size
    if max_num_gen_batches <= 0 or step_prompts <= ceiling:
        return None
    return (
        f"DAPO dynamic sampling dispatched {step_prompts} prompts this step, over the ceiling "
        f"algorithm.filter_groups.max_num_gen_batches={max_num_gen_batches} x data.train_batch_size="
        f"{train_batch_size} = {ceiling}: too few groups have reward variance (data too easy or too hard for the "
        "model?). Raise max_num_gen_batches, or set it to 0 for no ceiling (the run plan's rollout ceiling is then "
        "unbounded)."
    )
