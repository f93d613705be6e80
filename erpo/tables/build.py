"""Tables from eval result JSONs: one row per run, benchmarks + average, deltas, paper numbers.

Values are percentages of the chosen metric (avg@k by default: pass@1 estimated from k samples).
The average is over the shown benchmarks, and only for rows that have all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

PUBLISHED = Path(__file__).with_name("published.yaml")


def load_results(paths: list[str]) -> list[dict]:
    """Every eval result JSON under the given files/folders (partial files are ignored)."""
    results = []
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(root.rglob("*.json"))
        for file in files:
            data = json.loads(file.read_text())
            if isinstance(data, dict) and {"benchmark", "metrics", "run_name"} <= set(data):
                results.append(data)
    if not results:
        raise FileNotFoundError(f"no eval result JSONs under {paths}; run `python -m erpo.eval` first")
    return results


def run_rows(results: list[dict], metric: str | None) -> list[dict]:
    """[{label, variant, model, values: {benchmark: percent}}], grouped by variant then model."""
    rows: dict[tuple, dict] = {}
    for result in results:
        key = (result.get("variant") or "", result["run_name"])
        row = rows.setdefault(
            key,
            {
                "label": result["run_name"],
                "variant": key[0],
                "model": result["model"],
                "values": {},
                "kind": "run",
                "samplings": set(),
                "rollouts": None,
            },
        )
        row["samplings"].add(sampling_label(result))
        if result.get("rollouts") is not None:
            row["rollouts"] = int(result["rollouts"])
        name = metric or f"avg@{result['k']}"
        if name not in result["metrics"]:
            raise KeyError(
                f"{result['run_name']}/{result['benchmark']}: no metric {name!r}; have {sorted(result['metrics'])}"
            )
        row["values"][result["benchmark"]] = 100.0 * result["metrics"][name]
    for row in rows.values():
        row["sampling"] = " / ".join(sorted(row.pop("samplings")))  # more than one: benchmarks differ
    return [rows[key] for key in sorted(rows)]


def sampling_label(result: dict) -> str:
    """``preset T=.. top_p=.. max=.. k=..`` of a result JSON (results written before presets: settings)."""
    sampling = result.get("sampling")
    if sampling is None:
        settings = result.get("settings", {})
        return (
            f"unrecorded T={settings.get('temperature')} top_p={settings.get('top_p')} "
            f"max={settings.get('max_new_tokens')} k={result.get('k')}"
        )
    return (
        f"{sampling['preset']} T={sampling['temperature']:g} top_p={sampling['top_p']:g} "
        f"max={sampling['max_tokens']} k={sampling['k']}"
    )


def paper_name(paper: dict) -> str:
    """The short name in the paper's title, e.g. "PREPO" from "... Intrinsic Exploration (PREPO), Sun et al."."""
    title = paper["paper"]
    return title[title.rindex("(") + 1 : title.rindex(")")] if "(" in title else paper["arxiv"]


def published_rows(models: list[str] | None, path: Path = PUBLISHED) -> list[dict]:
    rows = []
    for paper in yaml.safe_load(path.read_text()):
        for entry in paper["rows"]:
            if models and entry["model"] not in models:
                continue
            rows.append(
                {
                    "label": f"{entry['method']} ({entry['model']}), {paper_name(paper)} paper",
                    "variant": entry["method"],
                    "model": entry["model"],
                    "kind": "published",
                    "values": dict(entry["values"]),
                    "rollouts": entry.get("rollouts"),
                    "sampling": "paper",
                    "source": f"arXiv {paper['arxiv']}, {paper['source']} ({paper['metric']})",
                }
            )
    return rows


def with_average(row: dict, benchmarks: list[str]) -> dict:
    values = [row["values"].get(b) for b in benchmarks]
    if all(v is not None for v in values):
        row["values"]["average"] = sum(values) / len(values)
    elif row["kind"] == "run":
        row["values"]["average"] = None
    return row  # papers keep their own "average" column when they report one


def _cell(value, delta=None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if delta is None else f"{value:.1f} ({delta:+.1f})"


def render(rows: list[dict], benchmarks: list[str], baseline: str | None, fmt: str) -> str:
    columns = benchmarks + ["average"]
    base = next((r for r in rows if r["label"] == baseline), None)
    if baseline and base is None:
        raise KeyError(f"baseline {baseline!r} is not a run; runs: {[r['label'] for r in rows]}")
    header = ["run", "variant"] + columns + ["rollouts", "sampling"]
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row["values"].get(column)
            reference = base["values"].get(column) if base and row is not base else None
            delta = value - reference if value is not None and reference is not None else None
            cells.append(_cell(value, delta if row["kind"] == "run" else None))
        rollouts = row.get("rollouts")
        body.append(
            [row["label"], row["variant"]]
            + cells
            + [f"{rollouts:,}" if rollouts is not None else "n/a", row.get("sampling") or "n/a"]
        )
    notes = sorted({r["source"] for r in rows if r["kind"] == "published"})
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines += [""] + [f"Paper rows: {note}." for note in notes]
        if baseline:
            lines.append(f"Parentheses: difference to {baseline}, in points.")
        return "\n".join(lines) + "\n"
    if fmt == "latex":

        def escape(s):
            return str(s).replace("_", "\\_").replace("%", "\\%")

        lines = [
            "\\begin{tabular}{ll" + "r" * len(columns) + "rl}",
            "\\toprule",
            " & ".join(map(escape, header)) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(map(escape, cells)) + " \\\\" for cells in body]
        lines += ["\\bottomrule", "\\end{tabular}"]
        lines += [f"% Paper rows: {note}." for note in notes]
        return "\n".join(lines) + "\n"
    raise ValueError(f"format must be markdown or latex, got {fmt!r}")


def build_table(
    result_paths,
    benchmarks=None,
    metric=None,
    baseline=None,
    published_models=None,
    include_published=True,
    fmt="markdown",
) -> str:
    results = load_results(result_paths)
    if not benchmarks:
        benchmarks = sorted({r["benchmark"] for r in results})
    rows = run_rows(results, metric)
    if include_published:
        rows += published_rows(published_models)
    rows = [with_average(row, benchmarks) for row in rows]
    return render(rows, benchmarks, baseline, fmt)


def paper_tables(models: list[str] | None = None, path: Path = PUBLISHED) -> str:
    """Each paper's published rows as its own markdown table, in the paper's layout (model, then method in
    file order), with its own benchmarks, its average and, where any row has one, a rollouts column."""
    out = []
    for paper in yaml.safe_load(path.read_text()):
        entries = [e for e in paper["rows"] if not models or e["model"] in models]
        if not entries:
            continue
        columns = list(paper["benchmarks"]) + ["average"]
        with_rollouts = any(e.get("rollouts") is not None for e in entries)
        header = ["model", "method"] + columns + (["rollouts"] if with_rollouts else [])
        lines = [
            f"### {paper['paper']} (arXiv {paper['arxiv']}), {paper['table']}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for entry in entries:
            values = [entry["values"].get(c) for c in columns]  # as published, not rounded again
            cells = [entry["model"], entry["method"]] + ["n/a" if v is None else f"{v:g}" for v in values]
            if with_rollouts:
                cells.append(f"{entry['rollouts']:,}" if entry.get("rollouts") is not None else "n/a")
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Source: {paper['source']}; metric: {paper['metric']}. n/a: no document available to us gives the cell.",
            "",
        ]
        out.append("\n".join(lines))
    if not out:
        raise KeyError(f"no published rows for models {models}")
    return "\n".join(out)
