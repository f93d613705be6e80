"""Held-out accuracy of a study run: the curve from verl's validation dumps during training, and the eval
result JSONs of an offline evaluation (benchmarks.cpu_study.offline_eval).

verl writes every validation sample of step s to ``<dir>/<s>.jsonl`` (prompt text, response, score and
the reward's extra info, ``acc`` included): grouped by prompt, each step's accuracy per tier (the curve).
The offline evaluation gives avg@k with bootstrap intervals over problems (erpo.eval.metrics, the same code
as ``python -m erpo.eval``) and the measured response length, written as eval result JSONs that
``erpo.tables`` reads: one per benchmark, the whole held-out set and three tiers of levels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.cpu_study.task import make_split
from erpo.eval.metrics import benchmark_metrics

TIERS = {
    "heldout": range(1, 10),
    "heldout_easy": range(1, 4),
    "heldout_medium": range(4, 7),
    "heldout_hard": range(7, 10),
}
EXPR = re.compile(r"Compute (.+?)\. Put the answer")


def _levels() -> dict[str, int]:
    from benchmarks.cpu_study.model import SPEC

    split = make_split(SPEC["task_seed"], SPEC["train_per_level"], SPEC["heldout_per_level"])
    return {p.expr: p.level for p in split.heldout}


def read_dump(path: Path) -> dict[str, list[bool]]:
    """{expression: [correct per sample]} of one validation dump."""
    out: dict[str, list[bool]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        match = EXPR.search(row["input"])
        if not match:
            raise ValueError(f"{path}: no held-out expression in validation input {row['input']!r}")
        acc = row.get("acc")
        out.setdefault(match.group(1), []).append(bool(acc) if acc is not None else float(row["score"]) >= 0.5)
    return out


def write_heldout_curve(validation_dir: Path, dst: Path) -> dict:
    """Held-out accuracy per validated step and tier (``heldout_steps.json``) from verl's validation dumps;
    returns {step: {tier: accuracy}} ({} without dumps). The final comparison is the offline evaluation's
    (``write_eval_results``), not this curve's."""
    levels = _levels()
    dumps = sorted(Path(validation_dir).glob("*.jsonl"), key=lambda p: int(p.stem))
    steps = {}
    for path in dumps:
        samples = read_dump(path)
        unknown = sorted(set(samples) - set(levels))
        if unknown:
            raise ValueError(f"{path}: expressions not in the held-out set: {unknown[:3]}")
        per_tier = {}
        for tier, tier_levels in TIERS.items():
            flags = [f for expr, f in samples.items() if levels[expr] in tier_levels]
            per_tier[tier] = sum(sum(f) / len(f) for f in flags) / len(flags) if flags else None
        steps[int(path.stem)] = per_tier
    if steps:
        (dst / "heldout_steps.json").write_text(json.dumps(steps, indent=1))
    return steps


def write_eval_results(
    dst: Path, name: str, variant: str, seed: int, step: int, samples: dict[str, list[tuple[bool, int]]], settings: dict
) -> dict:
    """Eval result JSONs (``<dst>/eval/<name>__<tier>.json``, the format erpo.tables reads) of one offline
    evaluation: ``samples`` maps each held-out expression to its (correct, response tokens) samples; every
    problem must have the same number k. Returns {"k", "heldout_avg@k", "heldout_ci", "heldout_step"}."""
    levels = _levels()
    unknown = sorted(set(samples) - set(levels))
    if unknown:
        raise ValueError(f"{name}: expressions not in the held-out set: {unknown[:3]}")
    ks = {len(v) for v in samples.values()}
    if len(ks) != 1:
        raise ValueError(f"{name}: problems have different sample counts {sorted(ks)}; avg@k needs one k")
    k = ks.pop()
    out_dir = dst / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"k": k, "heldout_step": step}
    for tier, tier_levels in TIERS.items():
        exprs = sorted(e for e in samples if levels[e] in tier_levels)
        correct = [[c for c, _ in samples[e]] for e in exprs]
        lengths = [[t for _, t in samples[e]] for e in exprs]
        metrics = benchmark_metrics(correct, lengths, [1, k])
        metrics[f"avg@{k}"] = metrics["avg@k"]  # named by k, as erpo.tables reads it
        result = {
            "model": name,
            "benchmark": tier,
            "k": k,
            "run_name": name,
            "variant": variant,
            "seed": seed,
            "step": step,
            "settings": {**settings, "levels": list(tier_levels)},
            "metrics": metrics,
            "problems": [
                {"index": e, "correct": c, "tokens": t} for e, c, t in zip(exprs, correct, lengths, strict=True)
            ],
        }
        (out_dir / f"{name}__{tier}.json").write_text(json.dumps(result))
        if tier == "heldout":
            summary.update(
                {"heldout_avg@k": metrics["avg@k"], "heldout_ci": [metrics["avg@k_ci_low"], metrics["avg@k_ci_high"]]}
            )
    return summary
