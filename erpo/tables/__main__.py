"""python -m erpo.tables --results results/eval --benchmarks aime24 aime25 math500 --baseline RUN

python -m erpo.tables --papers: each paper's published table (PREPO, ERPO, GRESO).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from erpo.tables.build import build_table, paper_tables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m erpo.tables", description=__doc__)
    parser.add_argument(
        "--results", nargs="+", help="eval result JSON files or folders (searched recursively); needed without --papers"
    )
    parser.add_argument(
        "--papers", action="store_true", help="print each paper's published table (erpo/tables/published.yaml) and exit"
    )
    parser.add_argument("--benchmarks", nargs="+", help="columns, in order; default: all found")
    parser.add_argument("--metric", help="metric to show, e.g. avg@16 or pass@16; default avg@k")
    parser.add_argument("--baseline", help="run_name whose values the deltas are taken against")
    parser.add_argument(
        "--published-models", nargs="+", help="show paper rows only for these models (e.g. Qwen2.5-Math-7B)"
    )
    parser.add_argument("--no-published", action="store_true", help="leave paper rows out")
    parser.add_argument("--format", choices=["markdown", "latex"], default="markdown")
    parser.add_argument("--out", help="write here instead of stdout")
    args = parser.parse_args(argv)
    if not args.papers and not args.results:
        parser.error("--results is required (or --papers for the published tables)")
    try:
        if args.papers:
            table = paper_tables(args.published_models)
        else:
            table = build_table(
                args.results,
                args.benchmarks,
                args.metric,
                args.baseline,
                args.published_models,
                not args.no_published,
                args.format,
            )
    except (FileNotFoundError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(table)
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
