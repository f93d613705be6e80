"""The comparison as a plain specification (JSON-ready dict): which runs, which sections and panels, what was left
out and why. Built from the runs' logged keys; every panel key is first checked against docs/metrics.md.

A panel keeps the y keys some run of the comparison logged; a panel with none (or whose x key nobody logged) is
dropped, and a section with no panel left is dropped, each with a message that names the missing keys.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from erpo.analysis.dashboard.catalogue import STATIC_SECTIONS, Panel, Section, heldout_section, static_keys
from erpo.analysis.dashboard.sources import RunRecord
from erpo.analysis.metric_list import DOC, require_documented
from erpo.errors import InputError

SPEC_VERSION = 1
REPO = Path(__file__).resolve().parents[3]

PLOT_CONVENTION = {
    "x": "training step unless the panel names an x key",
    "grouping": "W&B run group (= variant)",
    "line": "mean over the group's runs (seeds)",
    "band": "min-max over the group's runs (seeds)",
    "smoothing": "none",
}


def select_runs(runs: list[RunRecord], groups: list[str] | None, model: str | None, source: str) -> list[RunRecord]:
    """The runs of ``groups`` (all groups found when None) and of ``model`` (any when None); refuses a group or
    model with no run, naming what the source holds."""
    if model is not None:
        models = sorted({str(r.model) for r in runs})
        runs = [r for r in runs if r.model == model]
        if not runs:
            raise InputError(f"--model {model}: no run of that model_name in {source}; models there: {models}")
    found = sorted({r.group for r in runs})
    if not found:
        raise InputError(f"no runs in {source}")
    if groups:
        missing = [g for g in groups if g not in found]
        if missing:
            raise InputError(f"--groups: {missing} have no runs in {source}; groups there: {found}")
        runs = [r for r in runs if r.group in groups]
    models = sorted({str(r.model) for r in runs})
    if len(models) > 1:
        # a band over runs of different models would mix them: one comparison, one model
        raise InputError(f"the compared runs are of several models {models} (config model_name); pick one: --model")
    return runs


def seed_notes(runs: list[RunRecord]) -> list[str]:
    """Messages for a group holding two runs of one seed (a rerun, not a resume): the band then counts both."""
    seen: dict[tuple, list[str]] = {}
    for run in runs:
        if run.seed is not None:
            seen.setdefault((run.group, run.seed), []).append(run.name)
    return [
        f"group {group}: {len(names)} runs of seed {seed} ({sorted(names)}); the mean and band count each"
        for (group, seed), names in sorted(seen.items())
        if len(names) > 1
    ]


def _kept(section: Section, logged: set[str]) -> tuple[Section | None, list[str]]:
    panels, messages = [], []
    for panel in section.panels:
        y = tuple(k for k in panel.y if k in logged)
        missing = [k for k in panel.keys() if k not in logged]
        if y and (panel.x is None or panel.x in logged):
            panels.append(Panel(panel.title, y, panel.x))
            if missing:
                messages.append(f"{section.name} / {panel.title}: plots {list(y)}; no run logged {missing}")
        else:
            messages.append(f"{section.name} / {panel.title}: panel dropped, no run logged {missing}")
    if not panels:
        wanted = sorted({k for p in section.panels for k in p.keys()}) or ["val-core/<source>/acc/mean@N"]
        return None, [f"{section.name}: section dropped, no run logged any of {wanted}"]
    return Section(section.name, section.question, tuple(panels)), messages


def build_sections(logged: set[str], doc: Path = DOC) -> tuple[list[Section], list[str]]:
    """The sections to show and the messages for what was left out."""
    require_documented(static_keys(), doc)
    heldout = heldout_section(logged)
    require_documented({k for p in heldout.panels for k in p.keys()}, doc)
    sections, messages = [], []
    for section in (heldout, *STATIC_SECTIONS):
        kept, notes = _kept(section, logged)
        messages += notes
        if kept is not None:
            sections.append(kept)
    if not sections:
        raise InputError(
            "none of the comparison's sections has a key these runs logged; were they logged by this "
            "recipe (erpo/*, rollouts/*, val-core/*)?"
        )
    return sections, messages


def section_dict(section: Section) -> dict:
    return {
        "name": section.name,
        "question": section.question,
        "panels": [{"title": p.title, "y": list(p.y), "x": p.x} for p in section.panels],
    }


def commit_info(repo: Path = REPO) -> dict:
    """Commit of the code that built the spec, and whether the tree had uncommitted changes (None: not a repo)."""

    def git(*args):
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() if out.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": head, "dirty": None if status is None else bool(status)}


def build_spec(
    runs: list[RunRecord],
    entity: str,
    project: str,
    groups: list[str] | None = None,
    model: str | None = None,
    source: str = "",
    command: str = "",
    doc: Path = DOC,
) -> dict:
    """The workspace part of the specification (the report is added by erpo.analysis.dashboard.report)."""
    for name, value in (("--entity", entity), ("--project", project)):
        if not value or not str(value).strip():
            raise InputError(f"{name} is empty: give the W&B {name[2:]} the runs were logged to")
    runs = select_runs(runs, groups, model, source)
    order = list(groups) if groups else sorted({r.group for r in runs})
    logged = set().union(*(r.keys for r in runs))
    sections, messages = build_sections(logged, doc)
    messages += seed_notes(runs)
    title = f"{project}: {' vs '.join(order)}" + (f" ({model})" if model else "")
    return {
        "version": SPEC_VERSION,
        "command": command,
        "code": commit_info(),
        "entity": entity,
        "project": project,
        "groups": order,
        "model": model,
        "source": source,
        "runs": [
            {"id": r.run_id, "name": r.name, "group": r.group, "model": r.model, "seed": r.seed}
            for r in sorted(runs, key=lambda r: (order.index(r.group), r.name))
        ],
        "plot": PLOT_CONVENTION,
        "workspace": {"name": title, "sections": [section_dict(s) for s in sections]},
        "notes": messages,
        "report": None,
    }
