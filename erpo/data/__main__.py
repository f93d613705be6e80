"""``python -m erpo.data --dataset math500 --out data/math500.parquet`` or ``--all --out-dir data``."""

from __future__ import annotations

import argparse
import os
import sys

from erpo.data.prepare import DataError, prepare
from erpo.data.sources import SOURCES, TEMPLATES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Prepare datasets in verl's RL parquet schema.")
    parser.add_argument("--dataset", choices=sorted(SOURCES), help="one dataset")
    parser.add_argument(
        "--all", action="store_true", help="every dataset with a local copy (or all, with --source hub)"
    )
    parser.add_argument("--out", help="output parquet (with --dataset)")
    parser.add_argument("--out-dir", default="data", help="output directory (with --all)")
    parser.add_argument("--source", choices=["local", "hub"], default="local", help="local JSONL copies or the hub")
    parser.add_argument("--local-dir", default=None, help="directory of local copies (default ../shared/data)")
    parser.add_argument(
        "--local-file",
        default=None,
        help="explicit local file for --dataset: JSONL or parquet, in the dataset's own fields or in "
        "the hub's row format (prompt as chat messages, reward_model.ground_truth)",
    )
    parser.add_argument("--template", choices=sorted(TEMPLATES), default="qwen_math_cot", help="prompt template")
    parser.add_argument("--limit", type=int, default=None, help="keep the first N distinct problems")
    args = parser.parse_args(argv)
    if bool(args.dataset) == bool(args.all):
        parser.error("give exactly one of --dataset or --all")
    names = [args.dataset] if args.dataset else [n for n, s in SOURCES.items() if args.source == "hub" or s.local_file]
    try:
        for name in names:
            out = args.out or os.path.join(args.out_dir, f"{name}.parquet")
            prepare(name, out, args.source, args.template, args.limit, args.local_dir, args.local_file)
            print(f"{name}: {out}")
    except DataError as err:
        print(f"erpo.data: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
