"""Held-out accuracy of a study run from verl's validation dumps (``trainer.validation_data_dir``).

verl writes every validation sample of step s to ``<dir>/<s>.jsonl`` (prompt text, response, score and
the reward's extra info, ``acc`` included). Grouped by prompt, the last step gives avg@k with bootstrap
intervals over problems (erpo.eval.metrics, the same code as ``python -m erpo.eval``), written as eval
result JSONs that ``erpo.tables`` reads: one per benchmark, the whole held-out set and three tiers of levels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from erpo.eval.metrics import benchmark_metrics
from erpo.study.task import make_split

TIERS = {"heldout": range(1, 10), "heldout_easy": range(1, 4), "heldout_medium": range(4, 7),
         "heldout_hard": range(7, 10)}
EXPR = re.compile(r"Compute (.+?)\. Put the answer")


def _levels() -> dict[str, int]:
    from erpo.study.model import SPEC

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


def write_heldout_results(validation_dir: Path, dst: Path, name: str, variant: str, seed: int) -> dict:
    """Per-step held-out accuracy (``heldout_steps.json``) and the last step's eval result JSONs
    (``eval/<run>__<benchmark>.json``); returns a summary for the run's result.json."""
    levels = _levels()
    dumps = sorted(Path(validation_dir).glob("*.jsonl"), key=lambda p: int(p.stem))
    if not dumps:
        return {}
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
    (dst / "heldout_steps.json").write_text(json.dumps(steps, indent=1))
    last_step = max(steps)
    samples = read_dump(dumps[-1])
    k = min(len(f) for f in samples.values())
    out_dir = dst / "eval"
    out_dir.mkdir(exist_ok=True)
    summary = {"k": k, "heldout_final_step": last_step}
    for tier, tier_levels in TIERS.items():
        exprs = sorted(e for e in samples if levels[e] in tier_levels)
        correct = [samples[e][:k] for e in exprs]
        metrics = benchmark_metrics(correct, [[1] * k for _ in exprs], [1, k])
        metrics[f"avg@{k}"] = metrics["avg@k"]  # named by k, as erpo.tables reads it
        result = {"model": name, "benchmark": tier, "k": k, "run_name": name, "variant": variant, "seed": seed,
                  "step": last_step, "settings": {"source": "verl validation dump", "levels": list(tier_levels)},
                  "metrics": metrics,
                  "problems": [{"index": e, "correct": c} for e, c in zip(exprs, correct, strict=True)]}
        (out_dir / f"{name}__{tier}.json").write_text(json.dumps(result))
        if tier == "heldout":
            summary.update({"heldout_avg@k": metrics["avg@k"],
                            "heldout_ci": [metrics["avg@k_ci_low"], metrics["avg@k_ci_high"]]})
    return summary
