"""Revival of all-correct prompts, read from per-prompt visit histories (a tracker with a history long
enough to hold every visit): among visits where a prompt's group was all correct, the share whose next
visit was mixed (revived within 1 revisit), and whose next or second-next visit was (within 2).

Used by the simulator's ledger (benchmarks/ledger.py) and by the CPU study's analysis (benchmarks.cpu_study), on
the same tracker class, so simulated and measured revival mean the same thing.
"""

from __future__ import annotations

import numpy as np

from erpo.erpo.tracker import Outcome, PromptTracker


def revival_counts(tracker: PromptTracker) -> dict[tuple[str, int], dict[str, int]]:
    """Per prompt ((data source, dataset index)): visits kept, all-correct / mixed / all-wrong visits, and the
    revival counts: ``base1`` all-correct visits with a revisit, ``hits1`` of them followed by a mixed visit;
    ``base2`` / ``hits2`` the same within two revisits. Raises ValueError when some prompt has more visits than
    the history holds."""
    out = {}
    indices = tracker.prompt_indices()
    for source, (visits, outcome) in tracker.outcome_histories().items():
        if (visits > outcome.shape[1]).any():
            raise ValueError("history too short for revival: raise erpo.history_length above the visits per prompt")
        valid = outcome != Outcome.UNSEEN
        all_correct, mixed = outcome == Outcome.ALL_CORRECT, outcome == Outcome.MIXED
        nxt1, nxt2 = _shifted(mixed, 1), _shifted(mixed, 2)
        has1, has2 = _shifted(valid, 1), _shifted(valid, 2)
        columns = {
            "visits": valid,
            "all_correct": all_correct,
            "mixed": mixed,
            "all_wrong": outcome == Outcome.ALL_WRONG,
            "base1": all_correct & has1,
            "hits1": all_correct & has1 & nxt1,
            "base2": all_correct & has2,
            "hits2": all_correct & has2 & (nxt1 | nxt2),
        }
        sums = {name: mask.sum(axis=1) for name, mask in columns.items()}
        for row, index in enumerate(indices[source]):
            out[(source, int(index))] = {name: int(v[row]) for name, v in sums.items()}
    return out


def revival(tracker: PromptTracker) -> dict:
    """Share of all-correct visits followed by a mixed visit within 1 and within 2 revisits.

    Each share is over the all-correct visits that had that many revisits before the run ended.
    Raises ValueError when some prompt has more visits than the history holds.
    """
    counts = revival_counts(tracker).values()
    base1, hits1 = sum(c["base1"] for c in counts), sum(c["hits1"] for c in counts)
    base2, hits2 = sum(c["base2"] for c in counts), sum(c["hits2"] for c in counts)
    return {
        "all_correct_visits_with_a_revisit": base1,
        "all_correct_visits_with_two_revisits": base2,
        "revived_within_1": hits1 / base1 if base1 else None,
        "revived_within_2": hits2 / base2 if base2 else None,
    }


def _shifted(mask: np.ndarray, by: int) -> np.ndarray:
    """mask of the visit ``by`` places later, at each visit (False past the end)."""
    out = np.zeros_like(mask)
    out[:, :-by] = mask[:, by:]
    return out
