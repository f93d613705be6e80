"""Read a W&B offline run file (``run-<id>.wandb``) with wandb's own reader, ``wandb leet inspect --json``
(one JSON record per line), into its group, name and per-step history. No network, no W&B account."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def read_wandb_file(path: str | Path, timeout: float = 120) -> dict:
    """{"run_id", "name", "group", "config", "history": {step: {key: value}}} of one .wandb file."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wandb leet inspect failed on {path}: {out.stderr[-2000:]}")
    run: dict = {"history": {}}
    for line in out.stdout.splitlines():
        if not line.strip().startswith("{"):
            continue
        record = json.loads(line)
        if record.get("type") == "run":
            info = record["run"]
            run.update(
                run_id=info.get("run_id"),
                name=info.get("display_name"),
                group=info.get("run_group"),
                config=(info.get("config") or {}).get("update", {}),
            )
        elif record.get("type") == "history":
            item = record["history"]["item"]
            step = int(record["history"].get("step", {}).get("num", item.get("_step", 0)))
            run["history"].setdefault(step, {}).update(item)
    return run
