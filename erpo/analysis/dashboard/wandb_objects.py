"""The specification as W&B's own models (wandb-workspaces): a saved workspace and a report, and saving them.

Building the objects needs no network; ``Workspace._to_model()`` (the view W&B stores) needs none either, while a
report's run sets look their project up on W&B when serialised, so only :func:`push` turns a report into W&B's
form. Line plots group by the run group (= variant): mean line, min-max band over the group's runs, no smoothing.
"""

from __future__ import annotations

import wandb_workspaces.reports.v2 as wr
import wandb_workspaces.workspaces as ws
from wandb_workspaces import expr


def line_plot(panel: dict) -> wr.LinePlot:
    return wr.LinePlot(
        title=panel["title"],
        x=panel["x"] or "Step",
        y=list(panel["y"]),
        groupby="Group",
        groupby_aggfunc="mean",
        groupby_rangefunc="minmax",
        smoothing_type="none",
        smoothing_factor=0.0,
        title_x=panel["x"] or "step",
    )


def run_filter(spec: dict) -> expr.And:
    """Runs of the compared groups (and model, when the spec names one)."""
    filters = [expr.Metric("Group").isin(list(spec["groups"]))]
    if spec.get("model"):
        filters.append(expr.Config("model_name") == spec["model"])
    return expr.And(*filters)


def legend(spec: dict) -> str:
    """What every plot draws (spec["plot"]): said beside the plots, in the workspace and the report."""
    convention = spec["plot"]
    return (
        f"Lines: {convention['line']}; band: {convention['band']}; smoothing: {convention['smoothing']}; "
        f"grouped by {convention['grouping']}."
    )


def workspace(spec: dict) -> ws.Workspace:
    # each section opens with a text panel: the question it answers and how its plots are drawn
    sections = [
        ws.Section(
            name=s["name"],
            is_open=True,
            panels=[wr.MarkdownPanel(markdown=f"{s['question']}\n\n{legend(spec)}")]
            + [line_plot(p) for p in s["panels"]],
        )
        for s in spec["workspace"]["sections"]
    ]
    return ws.Workspace(
        entity=spec["entity"],
        project=spec["project"],
        name=spec["workspace"]["name"],
        sections=sections,
        # every run of the comparison on every panel (W&B shows the first 10 by default)
        settings=ws.WorkspaceSettings(smoothing_type="none", smoothing_weight=0, max_runs=max(10, len(spec["runs"]))),
        runset_settings=ws.RunsetSettings(filters=run_filter(spec), groupby=[expr.Metric("Group")]),
    )


def workspace_view(spec: dict) -> dict:
    """The view W&B would store for the workspace (its own serialisation, no network)."""
    return workspace(spec)._to_model().model_dump(by_alias=True, exclude_none=True, mode="json")


def report(spec: dict) -> wr.Report:
    part = spec["report"]
    if part is None:
        raise ValueError("the spec has no report part: build it with --results <eval result JSONs>")
    runset = wr.Runset(
        entity=spec["entity"],
        project=spec["project"],
        name=", ".join(spec["groups"]),
        filters=run_filter(spec),
        groupby=["group"],
    )
    blocks = [
        wr.H1(text=part["title"]),
        wr.P(text=part["description"]),
        wr.H2(text="Table"),
        wr.MarkdownBlock(text=part["table"]),
    ]
    for delta in part["deltas"]:
        blocks += [
            wr.H3(text=f"{delta['benchmark']}: paired difference to {delta['baseline']}"),
            wr.MarkdownBlock(text=delta["markdown"]),
        ]
    if part["mechanism"]:
        blocks += [
            wr.H2(text="Mechanism per variant (from the runs' logged series)"),
            wr.MarkdownBlock(text=part["mechanism"]),
        ]
    for section in part["sections"]:
        blocks += [
            wr.H2(text=section["name"]),
            wr.P(text=f"{section['question']} {legend(spec)}"),
            wr.PanelGrid(runsets=[runset], panels=[line_plot(p) for p in section["panels"]]),
        ]
    return wr.Report(
        entity=spec["entity"],
        project=spec["project"],
        title=part["title"],
        description=part["description"],
        blocks=blocks,
        width="fluid",
    )


def push(spec: dict) -> dict[str, str]:
    """Save the workspace (and the report, when the spec has one) to W&B; their URLs. Needs a login and network."""
    saved = workspace(spec).save()
    urls = {"workspace": saved.url}
    if spec["report"] is not None:
        urls["report"] = report(spec).save().url
    return urls
