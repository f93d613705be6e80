"""avg@k, unbiased pass@k (Chen et al. 2021) and bootstrap intervals over problems.

Impossible inputs are refused with InputError (a ValueError) naming the argument: more correct
samples than samples, negative counts, k < 1, or a requested k above the samples a problem has.
A requested k is never dropped silently.
"""

from __future__ import annotations

import numbers
from math import comb

import numpy as np

from erpo.errors import InputError


def _count(name: str, value) -> int:
    """``value`` as a non-negative int (bools and floats refused: a count is an integer)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name}={value!r} must be an integer count")
    if value < 0:
        raise InputError(f"{name}={value} is negative; counts are >= 0")
    return int(value)


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement from n is correct), c correct among n:
    1 - C(n - c, k) / C(n, k). Needs 0 <= c <= n and 1 <= k <= n.

    >>> pass_at_k(4, 0, 1), pass_at_k(4, 4, 2), round(pass_at_k(4, 1, 2), 3)
    (0.0, 1.0, 0.5)
    """
    n, c, k = _count("n (samples)", n), _count("c (correct samples)", c), _count("k", k)
    if k < 1:
        raise InputError(f"k={k}: pass@k needs k >= 1")
    if c > n:
        raise InputError(f"c={c} correct samples out of n={n}: c cannot exceed n")
    if k > n:
        raise InputError(f"k={k} exceeds the n={n} samples per problem; generate at least k samples")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def check_ks(ks, samples_per_problem: int) -> list[int]:
    """The requested ks as ints, each in [1, samples_per_problem]; InputError naming the first bad one."""
    out = []
    for k in ks:
        k = _count("pass_k entry", k)
        if not 1 <= k <= samples_per_problem:
            raise InputError(
                f"pass_k contains {k}, but each problem has {samples_per_problem} samples: every "
                f"requested k must be in [1, {samples_per_problem}] (raise k or drop pass@{k})"
            )
        out.append(k)
    return out


def bootstrap_ci(values: np.ndarray, iters: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap over problems (the unit that was sampled) of the mean."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(iters, len(values)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _correct_flags(problem: int, samples) -> list[bool]:
    flags = []
    for sample in samples:
        if isinstance(sample, (bool, np.bool_)) or sample in (0, 1):
            flags.append(bool(sample))
        else:
            raise InputError(f"correct[{problem}] holds {sample!r}; each sample is True/False (or 1/0)")
    if not flags:
        raise InputError(f"correct[{problem}] is empty; every problem needs at least one sample")
    return flags


def benchmark_metrics(correct: list[list[bool]], lengths: list[list[int]], ks: list[int]) -> dict[str, float]:
    """Per-benchmark metrics from per-problem lists of sample correctness; pass@k for every k in ks."""
    if len(correct) == 0:
        raise InputError("correct is empty; a benchmark needs at least one problem")
    if len(lengths) != len(correct):
        raise InputError(f"lengths has {len(lengths)} problems but correct has {len(correct)}; they must match")
    flags = [_correct_flags(i, c) for i, c in enumerate(correct)]
    n = min(len(f) for f in flags)
    ks = check_ks(ks, n)
    per_problem = np.array([np.mean(f) for f in flags])
    out = {
        "num_problems": float(len(flags)),
        "samples_per_problem": float(n),
        "avg@k": float(per_problem.mean()),
        "mean_response_tokens": float(np.mean([np.mean(x) for x in lengths])),
    }
    out["avg@k_ci_low"], out["avg@k_ci_high"] = bootstrap_ci(per_problem)
    for k in ks:
        vals = np.array([pass_at_k(len(f), sum(f), k) for f in flags])
        out[f"pass@{k}"] = float(vals.mean())
        out[f"pass@{k}_ci_low"], out[f"pass@{k}_ci_high"] = bootstrap_ci(vals)
    return out
