"""End-to-end wall time of the smoke run (``experiment=smoke``: launch, 6 steps, checkpoints, exit), with the CPU
platform's cuts reverted (``before``) and as committed (``after``), arms interleaved.

The arms are benchmarks/step_cost.py's (``--arms``: ``before``, ``after``, ``after-<cut>`` with one cut of ``CUTS``
reverted, ``try-<trial>``); the micro-batch cut is never reverted: the smoke preset sets its own micro-batches.
Each run starts from an empty checkpoint folder, so none resumes. Refuses a busy machine (1-minute load average
per core above ``--max-load``) unless ``--allow-busy``.

    python -m benchmarks.smoke_time --repeats 2
    python -m benchmarks.smoke_time --repeats 3 --arms after,after-prestart_rollout_workers
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import ROOT, add_quiet_machine_arguments, commit, refuse_a_busy_machine, table, write
from benchmarks.step_cost import arm_overrides, check_arm

# The smoke preset's own micro-batches stay in every arm.
KEEP = ("whole_step_micro_batches",)


def smoke_overrides(arm: str, out: Path) -> list[str]:
    """The driver's overrides of one arm's smoke run, its Hydra folder and checkpoints under ``out``."""
    return [
        "experiment=smoke",
        f"hydra.run.dir={out}",
        f"trainer.default_local_dir={out}/ckpt",
        *arm_overrides(arm, keep=KEEP),
    ]


def run_once(arm: str, work: Path) -> dict:
    out = work / arm
    overrides = smoke_overrides(arm, out)
    env = {**os.environ, "VERL_FILE_LOGGER_ROOT": str(out / "logs"), "PYTHONPATH": str(ROOT)}
    load = common.load_per_core()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "recipe.driver.train", *overrides], cwd=ROOT, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"smoke run ({arm}) failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return {"arm": arm, "wall_s": wall, "load_per_core_at_start": round(load, 2)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="runs per arm (medians over them)")
    add_quiet_machine_arguments(p)
    p.add_argument("--arms", default="before,after", help="comma-separated arms (benchmarks/step_cost.py)")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/smoke_time.json)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    arms = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    if len(arms) < 1 or len(set(arms)) != len(arms):
        raise SystemExit(f"--arms {args.arms!r}: name each arm once")
    for arm in arms:
        check_arm(arm)
    load = refuse_a_busy_machine(args)
    runs = []
    with tempfile.TemporaryDirectory(prefix="smoke_time_") as tmp:
        for _ in range(args.repeats):
            for arm in arms:
                # Let the previous run's processes finish exiting before the next clock starts.
                while common.load_per_core() > args.max_load and not args.allow_busy:
                    time.sleep(5)
                runs.append(run_once(arm, Path(tmp) / f"{arm}-{len(runs)}"))
                print(f"{arm:>6}  wall {runs[-1]['wall_s']:.1f} s", flush=True)
    summary = {arm: float(np.median([r["wall_s"] for r in runs if r["arm"] == arm])) for arm in arms}
    rows = [[arm, summary[arm], min(r["wall_s"] for r in runs if r["arm"] == arm)] for arm in arms]
    print("\nSmoke run, launch to exit (s)\n" + table(["arm", "median", "min"], rows))
    # Each arm against the committed platform (or the first arm when ``after`` is not one of them).
    reference = "after" if "after" in arms else arms[0]
    ratios = {arm: summary[arm] / summary[reference] for arm in arms if arm != reference}
    for arm, ratio in ratios.items():
        print(f"{arm} / {reference}: {ratio:.2f}x")
    payload = {
        "arms": {arm: arm_overrides(arm, keep=KEEP) for arm in arms},
        "repeats": args.repeats,
        "load_per_core_at_start": round(load, 2),
        "busy_allowed": args.allow_busy,
        "commit": commit(),
        "median_wall_s": summary,
        f"ratio_over_{reference}": ratios,
        "runs": runs,
    }
    write("smoke_time", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
