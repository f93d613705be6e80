"""Window selection: which K of the |B| candidate prompts are rolled out this step.

Candidates are sorted by perplexity ascending and a contiguous window of K prompts is kept,
starting at l = floor(f(rho) * (|B| - K)) where f is the pacing function (paper, Sec. PREPO).
"""

from __future__ import annotations

import math

import numpy as np

from erpo.prepo.pacing import PacingFn, get_pacing

Pacing = str | PacingFn


def _resolve(pacing: Pacing) -> PacingFn:
    return get_pacing(pacing) if isinstance(pacing, str) else pacing


def window_start(num_candidates: int, k: int, progress: float, pacing: Pacing = "linear") -> int:
    """First sorted position of the kept window: floor(f(progress) * (num_candidates - k))."""
    if k < 1 or k > num_candidates:
        raise ValueError(
            f"k must be in [1, num_candidates={num_candidates}], got k={k}; "
            "k is data.train_batch_size and num_candidates = k * prepo.candidate_multiplier"
        )
    if not 0.0 <= progress <= 1.0:  # also rejects NaN
        raise ValueError(f"progress must be in [0, 1], got {progress}; check prepo.total_steps")
    position = _resolve(pacing)(progress)
    slack = num_candidates - k
    # Clip: a user-registered pacing function may overshoot [0, 1] by rounding.
    return min(max(math.floor(position * slack), 0), slack)


def select_window(perplexities, k: int, progress: float, pacing: Pacing = "linear") -> tuple[np.ndarray, int]:
    """(indices into the candidate batch of the K prompts kept at this progress, the window start).

    Ties keep candidate order (stable sort), so the selection is deterministic.
    """
    ppl = np.asarray(perplexities, dtype=np.float64)
    if ppl.ndim != 1:
        raise ValueError(f"perplexities must be 1-D (one per candidate prompt), got shape {ppl.shape}")
    if np.isnan(ppl).any():
        raise ValueError(
            f"perplexities contain NaN at candidates {np.flatnonzero(np.isnan(ppl)).tolist()}; "
            "check the prompt mask passed to the perplexity pass (an empty prompt gives NaN)"
        )
    start = window_start(len(ppl), k, progress, pacing)
    order = np.argsort(ppl, kind="stable")
    return order[start : start + k], start
