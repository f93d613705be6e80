"""Reference perplexity in numpy: PPL_i = exp(-(1/|x_i|) sum_t log pi(x_t | x_<t)).

The trainer computes the token log-probs with the actor (see docs/prepo.md); this function turns
them into one perplexity per prompt and is the reference the tests check against.
"""

from __future__ import annotations

import numpy as np


def sequence_perplexity(token_logprobs, mask) -> np.ndarray:
    """Per-sequence perplexity from [N, T] token log-probs and a [N, T] 0/1 mask of scored tokens."""
    logp = np.asarray(token_logprobs, dtype=np.float64)
    m = np.asarray(mask, dtype=np.float64)
    if logp.shape != m.shape or logp.ndim != 2:
        raise ValueError(f"token_logprobs and mask must both be [N, T], got {logp.shape} and {m.shape}")
    counts = m.sum(axis=1)
    if (counts == 0).any():
        raise ValueError(
            f"sequences {np.flatnonzero(counts == 0).tolist()} have no scored tokens; "
            "a prompt needs at least 2 tokens to have a log-prob (the first token is never predicted)"
        )
    mean_logp = np.where(m > 0, logp, 0.0).sum(axis=1) / counts
    return np.exp(-mean_logp)
