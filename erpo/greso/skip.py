"""GRESO's skip rule: before rollout, a prompt on a zero-variance streak is kept only with a probability
that shrinks with the streak.

    P(keep) = max(p_kind ** streak, keep_floor)   for a prompt whose last `streak` (>= 1) visits were all
                                                  correct (p_kind = p_easy) or all wrong (p_hard)
    P(keep) = 1                                   for a prompt with no such streak (unseen, or mixed last)

and a prompt is skipped when its uniform draw u satisfies u < 1 - P(keep). This is the rule of GRESO's
code (verl/trainer/ttis/presampling_selector.py, ``easy_probabilistic_skip`` / ``hard_probabilistic_skip``,
lines 102-147 at commit b277843), vectorised; the streak comes from the ERPO tracker.
"""

from __future__ import annotations

import numpy as np

from erpo.erpo.tracker import Outcome


def keep_probability(
    streak: np.ndarray, kind: np.ndarray, p_easy: float, p_hard: float, keep_floor: float
) -> np.ndarray:
    """P(keep) of each candidate from its zero-variance streak and kind (an Outcome code)."""
    streak = np.asarray(streak, dtype=np.float64)
    base = np.where(kind == Outcome.ALL_CORRECT, p_easy, np.where(kind == Outcome.ALL_WRONG, p_hard, 1.0))
    on_streak = (streak >= 1) & ((kind == Outcome.ALL_CORRECT) | (kind == Outcome.ALL_WRONG))
    return np.where(on_streak, np.maximum(base**streak, keep_floor), 1.0)


def skipped(keep_prob: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Skip mask: u < 1 - P(keep) (a kept-for-sure prompt, P = 1, is never skipped)."""
    return uniforms < 1.0 - keep_prob


def adapted(p: float, share: float, target: float, step: float, p_min: float, p_max: float) -> float:
    """One adaptation of a base probability toward its target share of zero-variance groups.

    More such groups than the target (share >= target): explore less, p - step; fewer: p + step;
    then clipped to [p_min, p_max] (GRESO's ray_trainer.py lines 1211-1219 at commit b277843).
    """
    moved = p - step if share >= target else p + step
    return float(min(max(moved, p_min), p_max))
