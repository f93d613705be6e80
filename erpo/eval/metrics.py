"""avg@k, unbiased pass@k (Chen et al. 2021) and bootstrap intervals over problems."""

from __future__ import annotations

from math import comb

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement from n is correct), c correct among n.

    >>> pass_at_k(4, 0, 1), pass_at_k(4, 4, 2), round(pass_at_k(4, 1, 2), 3)
    (0.0, 1.0, 0.5)
    """
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} samples per problem")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def bootstrap_ci(values: np.ndarray, iters: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap over problems (the unit that was sampled) of the mean."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(iters, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def benchmark_metrics(correct: list[list[bool]], lengths: list[list[int]], ks: list[int]) -> dict[str, float]:
    """Per-benchmark metrics from per-problem lists of sample correctness."""
    n = min(len(c) for c in correct)
    per_problem = np.array([np.mean(c) for c in correct])
    out = {"num_problems": float(len(correct)), "samples_per_problem": float(n),
           "avg@k": float(per_problem.mean()), "mean_response_tokens": float(np.mean([np.mean(x) for x in lengths]))}
    out["avg@k_ci_low"], out["avg@k_ci_high"] = bootstrap_ci(per_problem)
    for k in ks:
        if k <= n:
            vals = np.array([pass_at_k(len(c), int(sum(c)), k) for c in correct])
            out[f"pass@{k}"] = float(vals.mean())
            out[f"pass@{k}_ci_low"], out[f"pass@{k}_ci_high"] = bootstrap_ci(vals)
    return out
