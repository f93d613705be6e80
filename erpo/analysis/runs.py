"""Load training runs as tidy tables: one row per step, one column per logged metric.

Local runs: verl's file logger writes ``<root>/<project>/<experiment>.jsonl`` (one
``{"step": n, "data": {...}}`` per line) and the recipe writes the resolved config beside it as
``<experiment>.config.json`` (recipe/driver/startup.py), which gives each run its variant, seed,
model, data and schedule. W&B runs: the same fields from ``run.config`` and ``run.history()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class Run:
    name: str
    # variant, seed, model, data, schedule (None when unknown)
    meta: dict
    # one row per training step, indexed by step
    history: pd.DataFrame = field(repr=False)


def _meta(config: dict, name: str) -> dict:
    erpo = config.get("erpo") or {}
    return {
        "variant": config.get("variant"),
        "seed": config.get("seed"),
        "model": config.get("model_name"),
        "data": (config.get("data") or {}).get("name"),
        "schedule": (erpo.get("temperature") or {}).get("schedule") if erpo.get("enabled", True) else None,
        "name": name,
    }


def _history(rows: list[dict]) -> pd.DataFrame:
    by_step: dict[int, dict] = {}
    for row in rows:
        by_step.setdefault(int(row["step"]), {}).update(row.get("data", {}))  # validation rows share a step
    frame = pd.DataFrame.from_dict(by_step, orient="index").sort_index()
    frame.index.name = "step"
    return frame


def load_runs(log_dir: str | Path) -> list[Run]:
    """Every ``*.jsonl`` under ``log_dir`` (recursively) that holds training steps."""
    runs = []
    for path in sorted(Path(log_dir).rglob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if not rows:
            continue
        config_path = path.with_suffix(".config.json")
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        runs.append(Run(path.stem, _meta(config, path.stem), _history(rows)))
    if not runs:
        raise FileNotFoundError(f"no JSONL training logs under {log_dir!s}; train with logger=jsonl first")
    return runs


def from_wandb(project: str, entity: str | None = None, filters: dict | None = None) -> list[Run]:
    """Runs of a W&B project (``wandb.Api``), e.g. ``filters={"group": "erpo_dapo"}``."""
    import wandb  # only needed for this path

    api = wandb.Api()
    path = f"{entity}/{project}" if entity else project
    runs = []
    for run in api.runs(path, filters=filters or {}):
        frame = run.history(pandas=True, samples=100_000).set_index("_step")
        frame.index.name = "step"
        runs.append(Run(run.name, _meta(dict(run.config), run.name), frame))
    return runs


def seed_bands(runs: list[Run], metric: str, by: str = "variant") -> pd.DataFrame:
    """Per group and step: mean, min, max and count of ``metric`` across the group's seeds."""
    parts = []
    for run in runs:
        if metric in run.history:
            series = run.history[metric].dropna()
            parts.append(
                pd.DataFrame({"group": run.meta.get(by) or run.name, "step": series.index, "value": series.to_numpy()})
            )
    if not parts:
        raise KeyError(f"no run logged {metric!r}")
    frame = pd.concat(parts)
    return frame.groupby(["group", "step"])["value"].agg(["mean", "min", "max", "count"]).reset_index()


def final_table(runs: list[Run], metrics: list[str], last: int = 3, by: str = "variant") -> pd.DataFrame:
    """Mean over the last ``last`` logged steps of each run, then mean (and seed count) per group."""
    rows = []
    for run in runs:
        row = {"group": run.meta.get(by) or run.name}
        for metric in metrics:
            values = run.history[metric].dropna() if metric in run.history else pd.Series(dtype=float)
            row[metric] = float(values.tail(last).mean()) if len(values) else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    table = frame.groupby("group")[metrics].mean()
    table["seeds"] = frame.groupby("group").size()
    return table


def temperature_histogram(run: Run) -> pd.DataFrame:
    """Steps x temperature bins (fraction of groups), from the erpo/temperature_hist/* metrics."""
    cols = [c for c in run.history.columns if c.startswith("erpo/temperature_hist/")]
    frame = run.history[cols].fillna(0.0)
    frame.columns = [c.rsplit("/", 1)[1] for c in cols]
    return frame
