"""python -m erpo.analysis.dashboard --entity ENTITY --project erpo --groups grpo dapo erpo [--results eval/] [--push]

Writes the comparison's specification (JSON) and prints what it would create in W&B; --push saves the workspace
(and, with --results, the report) to W&B. Runs come from the W&B API (login) or, with --offline-runs, from W&B
offline run files (no network). docs/dashboard.md says what each section answers.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from erpo.analysis.dashboard.report import build_report
from erpo.analysis.dashboard.sources import api_runs, offline_runs
from erpo.analysis.dashboard.spec import build_spec
from erpo.errors import InputError


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m erpo.analysis.dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--entity", required=True, help="W&B entity (user or team) the runs were logged to")
    parser.add_argument("--project", required=True, help="W&B project (the recipe's trainer.project_name)")
    parser.add_argument("--groups", nargs="+", help="run groups (= variants) to compare, in this order; default all")
    parser.add_argument("--model", help="only runs whose config model_name is this (a project holding several models)")
    parser.add_argument("--offline-runs", help="read W&B offline run files (*.wandb) under this folder, not the API")
    parser.add_argument("--results", nargs="+", help="eval result JSONs or folders: adds the report (paper table)")
    parser.add_argument("--benchmarks", nargs="+", help="report table columns, in order; default all found")
    parser.add_argument("--metric", help="report table metric, e.g. avg@16; default avg@k")
    parser.add_argument("--baseline", help="variant to take paired deltas with 95%% intervals against (report)")
    parser.add_argument("--no-published", action="store_true", help="leave the papers' rows out of the table")
    parser.add_argument("--published-models", nargs="+", help="paper rows only for these models")
    parser.add_argument("--title", help="report title (default: from project and groups)")
    parser.add_argument("--out", default="outputs/dashboard/spec.json", help="where the specification is written")
    parser.add_argument("--push", action="store_true", help="save the workspace and report to W&B (login, network)")
    return parser.parse_args(argv)


def summary(spec: dict) -> str:
    lines = [
        f"{len(spec['runs'])} runs in {spec['entity']}/{spec['project']} ({spec['source']}), groups: "
        + ", ".join(f"{g} ({sum(r['group'] == g for r in spec['runs'])} runs)" for g in spec["groups"]),
        f"workspace '{spec['workspace']['name']}':",
    ]
    for section in spec["workspace"]["sections"]:
        lines.append(f"  {section['name']}: " + "; ".join(p["title"] for p in section["panels"]))
    if spec["report"] is not None:
        part = spec["report"]
        lines.append(
            f"report '{part['title']}': table of {len(part['results'])} result path(s)"
            + (f", deltas for {len(part['deltas'])} benchmark(s)" if part["deltas"] else "")
            + (", mechanism per variant" if part["mechanism"] else "")
            + f", {len(part['sections'])} panel grids"
        )
    else:
        lines.append("no report (give --results with the table's eval result JSONs to add one)")
    lines += [f"note: {message}" for message in spec["notes"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse(argv)
    command = "python -m erpo.analysis.dashboard " + shlex.join(sys.argv[1:] if argv is None else argv)
    report_only = [
        f"--{name.replace('_', '-')}"
        for name in ("benchmarks", "metric", "baseline", "title", "published_models")
        if getattr(args, name)
    ] + (["--no-published"] if args.no_published else [])
    if report_only and not args.results:
        print(f"error: {report_only} shape the report, which needs --results <eval result JSONs>", file=sys.stderr)
        return 2
    try:
        if args.offline_runs:
            runs, source = offline_runs(args.offline_runs), f"offline run files under {args.offline_runs}"
        else:
            runs, source = api_runs(args.entity, args.project, args.groups), "W&B API"
        spec = build_spec(runs, args.entity, args.project, args.groups, args.model, source, command)
        if args.results:
            spec["report"], messages = build_report(
                spec,
                runs,
                args.results,
                args.benchmarks,
                args.metric,
                args.baseline,
                not args.no_published,
                args.published_models,
                args.title,
            )
            spec["notes"] += messages
        from erpo.analysis.dashboard.wandb_objects import report, workspace_view

        # W&B's own models check the spec; the report's wire form needs the network, so only its objects here
        spec["workspace_view"] = workspace_view(spec)
        if spec["report"] is not None:
            report(spec)
    except (InputError, FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(spec, indent=1) + "\n")
    print(summary(spec))
    print(f"specification: {out}")
    if not args.push:
        print("nothing saved to W&B; add --push to save the workspace" + (" and report" if spec["report"] else ""))
        return 0
    from erpo.analysis.dashboard.wandb_objects import push

    try:
        urls = push(spec)
    except Exception as error:  # login, network, permissions: wandb-workspaces raises plain Exceptions for them
        print(f"error: saving to W&B failed ({error}); `wandb login`, and check --entity/--project", file=sys.stderr)
        return 3
    for kind, url in urls.items():
        print(f"saved {kind}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
