"""Shared bits of the benchmark scripts: machine description, markdown table, JSON output, the quiet-machine
guard of timing benchmarks and the commit a result came from."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def table(headers: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write(name: str, payload: dict, out: str | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2))
    print(f"\nwrote {path}")
    return path


def load_per_core() -> float:
    """The 1-minute load average per core."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def add_quiet_machine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-load`` and ``--allow-busy`` of a timing benchmark (read by :func:`refuse_a_busy_machine`)."""
    parser.add_argument("--max-load", type=float, default=0.5, help="refuse above this 1-min load average per core")
    parser.add_argument(
        "--allow-busy", action="store_true", help="time anyway on a busy machine (the load is recorded)"
    )


def refuse_a_busy_machine(args: argparse.Namespace) -> float:
    """The load per core now; SystemExit above ``--max-load`` unless ``--allow-busy``: two shared cores made a
    3.5 s step read 9.6 s."""
    load = load_per_core()
    if load > args.max_load and not args.allow_busy:
        raise SystemExit(
            f"load average {load:.2f} per core > --max-load {args.max_load}: the cores are busy, "
            "timings would measure contention; wait, or pass --allow-busy (recorded in the output)"
        )
    return load


def commit() -> str:
    """HEAD of the checkout the benchmark runs from, with ``-dirty`` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return head + ("-dirty" if dirty.strip() else "")
    except OSError:
        return "unknown"
