"""Deltas between variants with confidence intervals: a paired bootstrap over seeds and problems.

Input: eval result JSONs (``python -m erpo.eval`` or benchmarks.cpu_study's held-out results) that carry
``variant``, ``seed`` and per-problem samples (``problems[i].correct`` or ``.samples[j].correct``). Two
variants are paired on the seeds both have (the same seed gives the same data order and initial
sampling) and on the problems both were scored on. One bootstrap draw resamples the paired seeds and,
independently, the problems, with replacement; the delta is the mean over drawn seeds and problems of
(variant - baseline) per-problem accuracy. The interval is the percentile interval of the draws, so it
holds both seed-to-seed and problem-to-problem noise (our choice; with one paired seed it is a bootstrap
over problems only, and the table says how many seeds were paired).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from erpo.errors import InputError


def per_problem(result: dict) -> dict[str, float]:
    """{problem index: share of its samples that were correct} of one result JSON."""
    out = {}
    for problem in result.get("problems", []):
        if "correct" in problem:
            flags = problem["correct"]
        else:
            flags = [s["correct"] for s in problem["samples"]]
        if not flags:
            raise InputError(f"{result.get('run_name')}: problem {problem.get('index')} has no samples")
        out[str(problem["index"])] = float(np.mean(flags))
    if not out:
        raise InputError(
            f"{result.get('run_name')}/{result.get('benchmark')}: no per-problem samples; deltas with "
            "intervals need them (erpo.eval and benchmarks.cpu_study write them)"
        )
    return out


def by_variant(results: list[dict], benchmark: str) -> dict[str, dict[int, dict[str, float]]]:
    """{variant: {seed: {problem: accuracy}}} for one benchmark; a (variant, seed) seen twice is refused."""
    out: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    for result in results:
        if result["benchmark"] != benchmark:
            continue
        variant, seed = result.get("variant"), result.get("seed")
        if variant is None or seed is None:
            raise InputError(f"{result['run_name']}: a delta table needs 'variant' and 'seed' in each result JSON")
        if seed in out[variant]:
            raise InputError(f"two results for variant {variant!r}, seed {seed}, benchmark {benchmark!r}")
        out[variant][int(seed)] = per_problem(result)
    return dict(out)


def paired_delta(
    variant: dict[int, dict[str, float]],
    baseline: dict[int, dict[str, float]],
    iters: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Mean delta (variant - baseline) and its bootstrap interval over paired seeds and problems."""
    seeds = sorted(set(variant) & set(baseline))
    if not seeds:
        raise InputError(f"no seed in common (variant has {sorted(variant)}, baseline {sorted(baseline)})")
    problems = sorted(set.intersection(*(set(variant[s]) & set(baseline[s]) for s in seeds)))
    if not problems:
        raise InputError("the paired runs share no problem")
    diff = np.array([[variant[s][p] - baseline[s][p] for p in problems] for s in seeds])  # seeds x problems
    rng = np.random.default_rng(seed)
    draw_s = rng.integers(0, len(seeds), size=(iters, len(seeds)))
    draw_p = rng.integers(0, len(problems), size=(iters, len(problems)))
    # mean over drawn seeds of the mean over drawn problems (same problem draw for every seed of a draw)
    means = np.array([diff[np.ix_(ds, dp)].mean() for ds, dp in zip(draw_s, draw_p, strict=True)])
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {
        "delta": float(diff.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "seeds": len(seeds),
        "problems": len(problems),
    }


def delta_rows(results: list[dict], benchmark: str, baselines: list[str], order: list[str] | None = None) -> list[dict]:
    """Per variant: mean and spread of its per-seed accuracy, and its paired delta to each baseline."""
    runs = by_variant(results, benchmark)
    missing = [b for b in baselines if b not in runs]
    if missing:
        raise InputError(f"baseline(s) {missing} have no {benchmark!r} results; variants: {sorted(runs)}")
    rows = []
    for variant in order or sorted(runs):
        if variant not in runs:
            continue
        per_seed = [float(np.mean(list(v.values()))) for v in runs[variant].values()]
        row = {
            "variant": variant,
            "seeds": len(per_seed),
            "mean": float(np.mean(per_seed)),
            "sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None,
            "min": min(per_seed),
            "max": max(per_seed),
            "deltas": {},
        }
        for base in baselines:
            if base != variant:
                row["deltas"][base] = paired_delta(runs[variant], runs[base])
        rows.append(row)
    return rows


def render_markdown(rows: list[dict], baselines: list[str], metric: str, scale: float = 100.0) -> str:
    """Markdown: variant, seeds, mean (sd; min-max) over seeds, then delta [95% CI] per baseline, in points."""
    header = ["variant", "seeds", f"{metric} (sd; min-max over seeds)"] + [f"vs {b} [95% CI]" for b in baselines]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        sd = f"{row['sd'] * scale:.1f}" if row["sd"] is not None else "-"
        cells = [
            row["variant"],
            str(row["seeds"]),
            f"{row['mean'] * scale:.1f} ({sd}; {row['min'] * scale:.1f}-{row['max'] * scale:.1f})",
        ]
        for base in baselines:
            d = row["deltas"].get(base)
            cells.append(
                "-"
                if d is None
                else f"{d['delta'] * scale:+.1f} [{d['ci_low'] * scale:+.1f}, "
                f"{d['ci_high'] * scale:+.1f}]" + (f" ({d['seeds']} seed)" if d["seeds"] == 1 else "")
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
