"""Intervals and tests for the study's counted outcomes (pure Python + numpy).

- ``wilson``: 95 % Wilson score interval of a proportion k / n (pooled counts).
- ``fisher_exact``: two-sided Fisher exact test of a 2 x 2 table (the p-value sums every table with the same
  margins whose probability is at most the observed one's).
- ``ratio_bootstrap`` / ``ratio_diff_bootstrap``: a ratio of sums (hits / bases, e.g. revived / all-correct
  visits) with a percentile interval from a two-way bootstrap: each draw resamples the seeds and,
  independently, the prompts (the same prompt draw for every seed: the pool is the same in every run), with
  replacement. The difference of two arms is paired on seed and prompt. Our choice: it holds seed-to-seed
  and prompt-to-prompt noise, the same design as erpo/tables/deltas.py; with 3 seeds the seed part is coarse,
  which is why the exact test on pooled counts is reported beside it.
"""

from __future__ import annotations

import math

import numpy as np


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials; (nan, nan) for n = 0."""
    if k < 0 or n < 0 or k > n:
        raise ValueError(f"wilson(k={k}, n={n}): need 0 <= k <= n")
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _log_hypergeom(a: int, row1: int, col1: int, total: int) -> float:
    def lcomb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    return lcomb(col1, a) + lcomb(total - col1, row1 - a) - lcomb(total, row1)


def fisher_exact(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided Fisher exact p-value of hits_a / n_a against hits_b / n_b."""
    for name, hits, n in (("a", hits_a, n_a), ("b", hits_b, n_b)):
        if not 0 <= hits <= n:
            raise ValueError(f"fisher_exact: arm {name} has hits={hits} of n={n}; need 0 <= hits <= n")
    total, col1 = n_a + n_b, hits_a + hits_b
    if total == 0:
        return 1.0
    lo, hi = max(0, col1 - n_b), min(n_a, col1)
    logs = {a: _log_hypergeom(a, n_a, col1, total) for a in range(lo, hi + 1)}
    observed = logs[hits_a]
    p = sum(math.exp(v) for v in logs.values() if v <= observed + 1e-9)
    return min(1.0, p)


def _arrays(arm: dict[int, dict[str, tuple[int, int]]], seeds: list[int], prompts: list[str]):
    hits = np.array([[arm.get(s, {}).get(p, (0, 0))[0] for p in prompts] for s in seeds], dtype=float)
    bases = np.array([[arm.get(s, {}).get(p, (0, 0))[1] for p in prompts] for s in seeds], dtype=float)
    return hits, bases


def _draws(n_seeds: int, n_prompts: int, iters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each seed and each prompt is drawn, per bootstrap draw: (iters, seeds), (iters, prompts)."""
    rng = np.random.default_rng(seed)
    s_idx = rng.integers(0, n_seeds, size=(iters, n_seeds))
    p_idx = rng.integers(0, n_prompts, size=(iters, n_prompts))
    count = np.zeros((iters, n_seeds)), np.zeros((iters, n_prompts))
    np.add.at(count[0], (np.arange(iters)[:, None], s_idx), 1)
    np.add.at(count[1], (np.arange(iters)[:, None], p_idx), 1)
    return count


def _ratio(hits: np.ndarray, bases: np.ndarray, seed_count: np.ndarray, prompt_count: np.ndarray) -> np.ndarray:
    """Per draw: sum of the drawn (seed, prompt) cells' hits over their bases (nan where no base was drawn)."""
    h = np.einsum("is,sp,ip->i", seed_count, hits, prompt_count)
    b = np.einsum("is,sp,ip->i", seed_count, bases, prompt_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, h / np.where(b > 0, b, 1), np.nan)


def ratio_bootstrap(
    arm: dict[int, dict[str, tuple[float, float]]],
    iters: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    counts: bool = True,
) -> dict:
    """Pooled ratio sum(hits) / sum(bases) of {seed: {unit: (hits, bases)}} and its two-way bootstrap interval;
    with ``counts`` (hits are successes among bases trials) also the Wilson interval of the pooled counts."""
    seeds = sorted(arm)
    prompts = sorted({p for per in arm.values() for p in per})
    if not seeds or not prompts:
        raise ValueError("ratio_bootstrap: no seeds or no prompts (nothing was counted)")
    hits, bases = _arrays(arm, seeds, prompts)
    k, n = float(hits.sum()), float(bases.sum())
    draws = _ratio(hits, bases, *_draws(len(seeds), len(prompts), iters, seed))
    lo, hi = np.nanquantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2]) if n else (np.nan, np.nan)
    out = {
        "hits": k,
        "n": n,
        "rate": k / n if n else None,
        "ci": [float(lo), float(hi)],
        "seeds": len(seeds),
        "units": len(prompts),
    }
    if counts:
        out.update(hits=int(k), n=int(n), wilson=list(wilson(int(k), int(n))))
    return out


def ratio_diff_bootstrap(
    arm: dict[int, dict[str, tuple[int, int]]],
    baseline: dict[int, dict[str, tuple[int, int]]],
    iters: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    counts: bool = True,
) -> dict:
    """Difference of pooled ratios (arm - baseline), paired on seeds both have and on units, with its two-way
    bootstrap interval; with ``counts``, the Fisher exact p-value of the pooled counts."""
    seeds = sorted(set(arm) & set(baseline))
    if not seeds:
        raise ValueError(f"ratio_diff_bootstrap: no seed in common (arm {sorted(arm)}, baseline {sorted(baseline)})")
    prompts = sorted({p for side in (arm, baseline) for s in seeds for p in side[s]})
    ha, ba = _arrays(arm, seeds, prompts)
    hb, bb = _arrays(baseline, seeds, prompts)
    seed_count, prompt_count = _draws(len(seeds), len(prompts), iters, seed)
    diff = _ratio(ha, ba, seed_count, prompt_count) - _ratio(hb, bb, seed_count, prompt_count)
    lo, hi = (
        np.nanquantile(diff, [(1 - level) / 2, 1 - (1 - level) / 2]) if np.isfinite(diff).any() else (np.nan, np.nan)
    )
    ka, na, kb, nb = float(ha.sum()), float(ba.sum()), float(hb.sum()), float(bb.sum())
    out = {
        "delta": ka / na - kb / nb if na and nb else None,
        "ci": [float(lo), float(hi)],
        "arm_counts": [ka, na],
        "baseline_counts": [kb, nb],
        "seeds": seeds,
    }
    if counts:
        ka, na, kb, nb = int(ka), int(na), int(kb), int(nb)
        out.update(arm_counts=[ka, na], baseline_counts=[kb, nb], fisher_p=fisher_exact(ka, na, kb, nb))
    return out
