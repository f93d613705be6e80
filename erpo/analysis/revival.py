"""Revival of all-correct prompts, read from per-prompt visit histories (a tracker with a history long
enough to hold every visit): among visits where a prompt's group was all correct, the share whose next
visit was mixed (revived within 1 revisit), and whose next or second-next visit was (within 2).

Used by the simulator's ledger (benchmarks/ledger.py) and by the CPU study's analysis (erpo.study), on
the same tracker class, so simulated and measured revival mean the same thing.
"""

from __future__ import annotations

import numpy as np

from erpo.tracker import Outcome, PromptTracker


def revival(tracker: PromptTracker) -> dict:
    """Share of all-correct visits followed by a mixed visit within 1 and within 2 revisits.

    Each share is over the all-correct visits that had that many revisits before the run ended.
    Raises ValueError when some prompt has more visits than the history holds.
    """
    hits1 = hits2 = base1 = base2 = 0
    for visits, outcome in tracker.outcome_histories().values():
        if (visits > outcome.shape[1]).any():
            raise ValueError("history too short for revival: raise erpo.history_length above the visits per prompt")
        valid = outcome != Outcome.UNSEEN
        all_correct, mixed = outcome == Outcome.ALL_CORRECT, outcome == Outcome.MIXED
        nxt1, nxt2 = _shifted(mixed, 1), _shifted(mixed, 2)
        has1, has2 = _shifted(valid, 1), _shifted(valid, 2)
        base1 += int((all_correct & has1).sum())
        hits1 += int((all_correct & has1 & nxt1).sum())
        base2 += int((all_correct & has2).sum())
        hits2 += int((all_correct & has2 & (nxt1 | nxt2)).sum())
    return {"all_correct_visits_with_a_revisit": base1, "all_correct_visits_with_two_revisits": base2,
            "revived_within_1": hits1 / base1 if base1 else None,
            "revived_within_2": hits2 / base2 if base2 else None}


def _shifted(mask: np.ndarray, by: int) -> np.ndarray:
    """mask of the visit ``by`` places later, at each visit (False past the end)."""
    out = np.zeros_like(mask)
    out[:, :-by] = mask[:, by:]
    return out
