"""The report part of the specification: a paper table's rows (erpo.tables, from eval result JSONs) beside the
numbers and panels that explain them.

Blocks, in order: the table (erpo.tables.build: one row per run, published rows beside); optionally paired deltas
with bootstrap intervals against a baseline variant (erpo.tables.deltas); the mechanism per variant from the runs'
logged series (below); then the workspace's sections as panel grids.

Mechanism per run (our choice of summaries): the residual shares and temperatures are per-group averages of each
step, so over the run they are averaged with the step's ``erpo/groups`` as weights (the share of all groups the
run recorded; plain mean over steps where the run did not log ``erpo/groups``). ``rollouts/*`` are cumulative,
so their last value is the run's total; effective prompts per step = rollouts/effective / n / steps, rollouts
per effective prompt = n x rollouts/total / rollouts/effective. Per variant: mean over its runs and the min-max
over them (the seeds).
"""

from __future__ import annotations

import numpy as np

from erpo.analysis.dashboard.sources import RunRecord
from erpo.errors import InputError
from erpo.tables.build import load_results, published_rows, render, run_rows, with_average
from erpo.tables.deltas import delta_rows, render_markdown

GROUP_AVERAGES = (
    ("all-correct share", "erpo/frac_all_correct"),
    ("mixed share", "erpo/frac_mixed"),
    ("all-wrong share", "erpo/frac_all_wrong"),
    ("mean T", "erpo/temperature_mean"),
    ("share above base T", "erpo/frac_raised_temperature"),
)


def _series(run: RunRecord, key: str) -> list[float]:
    return [float(row[key]) for _, row in sorted(run.history.items()) if isinstance(row.get(key), int | float)]


def _group_weighted(run: RunRecord, key: str) -> float | None:
    """Mean of ``key`` over the logged steps, weighted by the step's erpo/groups where every such step has it."""
    rows = [row for _, row in sorted(run.history.items()) if isinstance(row.get(key), int | float)]
    if not rows:
        return None
    weights = [row.get("erpo/groups") for row in rows]
    if all(isinstance(w, int | float) for w in weights) and sum(weights) > 0:
        return float(np.average([row[key] for row in rows], weights=weights))
    return float(np.mean([row[key] for row in rows]))


def run_mechanism(run: RunRecord) -> dict[str, float]:
    """The summaries above for one run; a summary whose keys the run did not log is absent."""
    out = {}
    for label, key in GROUP_AVERAGES:
        value = _group_weighted(run, key)
        if value is not None:
            out[label] = value
    total, effective = _series(run, "rollouts/total"), _series(run, "rollouts/effective")
    if total and effective and run.n:
        out["rollouts"] = total[-1]
        out["effective prompts/step"] = effective[-1] / run.n / len(effective)
        if effective[-1] > 0:
            out["rollouts per effective prompt"] = run.n * total[-1] / effective[-1]
    return out


def mechanism_markdown(runs: list[RunRecord], groups: list[str]) -> str:
    """Per variant: mean (min-max) over its runs of each summary; '-' where no run of the variant logged it."""
    per_run = {r.run_id: run_mechanism(r) for r in runs}
    labels = [label for label, _ in GROUP_AVERAGES] + [
        "rollouts",
        "effective prompts/step",
        "rollouts per effective prompt",
    ]
    labels = [lb for lb in labels if any(lb in m for m in per_run.values())]
    if not labels:
        return ""
    lines = ["| variant | runs | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 2)]
    for group in groups:
        members = [per_run[r.run_id] for r in runs if r.group == group]
        cells = []
        for label in labels:
            values = [m[label] for m in members if label in m]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3g}")
            else:
                cells.append(f"{np.mean(values):.3g} ({min(values):.3g}-{max(values):.3g})")
        lines.append(f"| {group} | {len(members)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_table(
    results_paths: list[str],
    groups: list[str],
    benchmarks: list[str] | None,
    metric: str | None,
    include_published: bool,
    published_models: list[str] | None,
) -> tuple[str, list[dict], list[str]]:
    """erpo.tables' markdown for the eval results of the comparison's variants, those results, and messages."""
    results = load_results(results_paths)
    kept = [r for r in results if r.get("variant") in groups]
    messages = []
    if len(kept) < len(results):
        left = sorted({f"{r['run_name']} (variant {r.get('variant')!r})" for r in results if r not in kept})
        messages.append(
            f"report table: left out {len(left)} result run(s) whose variant is not a compared group: {left}"
        )
    if not kept:
        raise InputError(
            f"--results {results_paths}: no eval result has a variant among {groups}; eval results "
            "carry the variant they were evaluated for (python -m erpo.eval ... variant=<name>)"
        )
    benchmarks = benchmarks or sorted({r["benchmark"] for r in kept})
    rows = run_rows(kept, metric)
    if include_published:
        rows += published_rows(published_models)
    rows = [with_average(row, benchmarks) for row in rows]
    return render(rows, benchmarks, None, "markdown"), kept, messages


def build_report(
    spec: dict,
    runs: list[RunRecord],
    results_paths: list[str],
    benchmarks: list[str] | None = None,
    metric: str | None = None,
    baseline: str | None = None,
    include_published: bool = True,
    published_models: list[str] | None = None,
    title: str | None = None,
) -> tuple[dict, list[str]]:
    """The report part of ``spec`` and the messages for what was left out."""
    groups = spec["groups"]
    if baseline is not None and baseline not in groups:
        raise InputError(f"--baseline {baseline!r} is not a compared group; groups: {groups}")
    table, results, messages = paper_table(
        results_paths, groups, benchmarks, metric, include_published, published_models
    )
    deltas = []
    if baseline is not None:
        label = metric or f"avg@{results[0]['k']}"
        for benchmark in benchmarks or sorted({r["benchmark"] for r in results}):
            rows = delta_rows(results, benchmark, [baseline], groups)
            deltas.append(
                {
                    "benchmark": benchmark,
                    "baseline": baseline,
                    "markdown": render_markdown(rows, [baseline], f"{benchmark} {label}"),
                }
            )
    chosen = [r for r in runs if r.run_id in {x["id"] for x in spec["runs"]}]
    report = {
        "title": (title or f"{spec['workspace']['name']}: table and mechanism")[:128],
        "description": f"Built by python -m erpo.analysis.dashboard at commit {spec['code']['commit']}",
        "results": [str(p) for p in results_paths],
        "table": table,
        "deltas": deltas,
        "mechanism": mechanism_markdown(chosen, groups),
        "sections": spec["workspace"]["sections"],
    }
    return report, messages
