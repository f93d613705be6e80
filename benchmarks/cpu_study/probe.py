"""The temperature probe's counts as the study reads them: the revival control.

``python -m erpo.probe`` (a separate tool) takes prompts whose group was all correct, redraws a group of each at
several temperatures with no training in between, and counts the redrawn groups. The study reads one JSON:

    {"temperatures": [
        {"temperature": 1.0, "prompts": 120, "mixed": 40, "all_wrong": 2, "all_correct": 78},
        {"temperature": 1.2, "prompts": 120, "mixed": 55, "all_wrong": 5, "all_correct": 60}, ...]}

Every entry: the temperature of the redraw, the prompts redrawn (all all-correct before), and how many came
back mixed / all-wrong / all-correct (they sum to ``prompts``); other keys are ignored. The entry at the runs'
base temperature is the control: P(mixed | all-correct before, same T) with no learning, the revival a run
gets by resampling alone; the other entries are the dose-response.

The probe's own ``probe.json`` is read too (no ``temperatures`` key, but ``grid``, ``selection.n`` and
``probed[i].groups[t][r].correct``): each redrawn group (prompt x repeat) at grid temperature t counts once.
With repeats > 1 a prompt counts several times, so the counts are not independent trials; the pooled Fisher
test then overstates its confidence (the probe's own paired bootstrap over prompts does not).
"""

from __future__ import annotations

import json
from pathlib import Path

FIELDS = ("temperature", "prompts", "mixed", "all_wrong", "all_correct")


def read_probe(path: str | Path) -> list[dict]:
    """The probe's entries, checked, sorted by temperature; a clear error naming the entry and field at fault."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"--probe {path}: not a readable JSON file ({err})") from err
    if isinstance(data, dict) and "temperatures" not in data and "probed" in data:
        data = {"temperatures": _from_probe_result(data, path)}
    entries = data.get("temperatures") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(
            f"--probe {path}: needs a non-empty list 'temperatures' (format: benchmarks/cpu_study/probe.py)"
        )
    out = []
    for i, entry in enumerate(entries):
        missing = [f for f in FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise ValueError(
                f"--probe {path}: temperatures[{i}] lacks {missing} (format: benchmarks/cpu_study/probe.py)"
            )
        counts = {f: entry[f] for f in FIELDS[1:]}
        bad = [f for f, v in counts.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0]
        if bad:
            raise ValueError(
                f"--probe {path}: temperatures[{i}].{bad[0]}={counts[bad[0]]!r} must be a count (int >= 0)"
            )
        if counts["mixed"] + counts["all_wrong"] + counts["all_correct"] != counts["prompts"]:
            raise ValueError(
                f"--probe {path}: temperatures[{i}]: mixed + all_wrong + all_correct = "
                f"{counts['mixed'] + counts['all_wrong'] + counts['all_correct']} != prompts = "
                f"{counts['prompts']}"
            )
        out.append({"temperature": float(entry["temperature"]), **counts})
    temps = [e["temperature"] for e in out]
    if len(set(temps)) != len(temps):
        raise ValueError(f"--probe {path}: a temperature appears twice in {temps}")
    return sorted(out, key=lambda e: e["temperature"])


def _from_probe_result(data: dict, path: Path) -> list[dict]:
    """Per grid temperature, the outcome counts of every redrawn group in the probe's own result JSON."""
    try:
        grid, n = [float(t) for t in data["grid"]], int(data["selection"]["n"])
        groups = [p["groups"] for p in data["probed"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"--probe {path}: a probe result needs grid, selection.n and probed[].groups ({err!r}); "
            "or give the simple format (benchmarks/cpu_study/probe.py)"
        ) from err
    out = []
    for t, temperature in enumerate(grid):
        counts = {"all_correct": 0, "mixed": 0, "all_wrong": 0}
        for i, per_temperature in enumerate(groups):
            if len(per_temperature) != len(grid):
                raise ValueError(
                    f"--probe {path}: probed[{i}].groups has {len(per_temperature)} temperatures, the grid {len(grid)}"
                )
            for group in per_temperature[t]:
                correct = int(group["correct"])
                counts["all_correct" if correct == n else "all_wrong" if correct == 0 else "mixed"] += 1
        out.append({"temperature": temperature, "prompts": sum(counts.values()), **counts})
    return out


def control(entries: list[dict], base_temperature: float) -> dict:
    """The entry at the runs' base temperature (the revival control); refused when the probe has none."""
    for entry in entries:
        if abs(entry["temperature"] - base_temperature) < 1e-6:
            return entry
    raise ValueError(
        f"the probe has no entry at the runs' base temperature {base_temperature} (it has "
        f"{[e['temperature'] for e in entries]}): its control is P(mixed | all-correct before) at that "
        "temperature; rerun the probe including it"
    )
