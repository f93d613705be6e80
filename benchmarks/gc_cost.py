"""What Python's garbage collector costs in each process of a verl run on CPU, with and without ``platform.gc_freeze``.

Runs :mod:`benchmarks.step_cost`'s short study run (GRPO, fixed seed) once per arm with a probe in every Python
process of the run: a ``sitecustomize`` on ``PYTHONPATH`` that times each collection through ``gc.callbacks`` and
writes, every 2 s, the process's title, its collections so far per generation (count, seconds, longest) and its
resident memory. Per process (by Ray title), between the end of step 2 and the end of the last step: full
(generation-2) collections, their seconds and the longest one, and the resident memory at both ends; and verl's
phase medians over steps 2..N. The probe's own cost (a callback per collection, a write every 2 s) is in both arms.

    python -m benchmarks.gc_cost --prompts 36 --steps 12                 # after vs after-gc_freeze
    python -m benchmarks.gc_cost --prompts 32 --steps 40 --arms after    # resident memory over a study-length run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from benchmarks.common import add_quiet_machine_arguments, commit, refuse_a_busy_machine, table, write
from benchmarks.step_cost import PHASES, add_study_arguments, check_arm, study_assets, study_run, watched_run

PROBE = textwrap.dedent(
    '''
    """Loaded by every Python process of a benchmarks.gc_cost run (PYTHONPATH); writes GC statistics to a folder."""
    import gc, json, os, threading, time

    _out = os.environ.get("ERPO_GC_PROBE_DIR")
    if _out:
        _stats = {}  # generation -> [count, seconds, longest]
        _start = [0.0]

        def _collection(phase, info):
            if phase == "start":
                _start[0] = time.perf_counter()
                return
            took = time.perf_counter() - _start[0]
            s = _stats.setdefault(str(info["generation"]), [0, 0.0, 0.0])
            s[0], s[1], s[2] = s[0] + 1, s[1] + took, max(s[2], took)

        gc.callbacks.insert(0, _collection)  # first, so a freeze after a collection is not timed as part of it

        def _write():
            history = []
            while True:
                time.sleep(2)
                try:
                    title = open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode(errors="replace")
                    rss_kb = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
                    history.append([time.time(), rss_kb, {g: list(v) for g, v in _stats.items()}])
                    tmp = os.path.join(_out, f".{os.getpid()}.json")
                    with open(tmp, "w") as f:
                        json.dump({"pid": os.getpid(), "title": title.strip(), "history": history}, f)
                    os.replace(tmp, os.path.join(_out, f"{os.getpid()}.json"))
                except Exception:
                    pass

        threading.Thread(target=_write, name="gc-probe", daemon=True).start()
    '''
)


def process_name(title: str) -> str:
    """``ray::WorkerDict.actor_rollout_ref_update_actor`` -> ``ray::WorkerDict``; ``python -m mod ...`` -> ``mod``."""
    words = title.split()
    if not words:
        return "?"
    if words[0].startswith("ray::"):
        return words[0].split(".")[0]
    if "-m" in words[:3]:
        return words[words.index("-m") + 1]
    return " ".join(words[:2])[:50]


def at(history: list, when: float) -> list | None:
    """The last probe record written at or before ``when``."""
    before = [h for h in history if h[0] <= when]
    return before[-1] if before else None


def process_rows(probe_dir: Path, first: float, last: float) -> list[dict]:
    """Per process, its full collections and resident memory between the times ``first`` and ``last``."""
    rows = []
    for path in sorted(probe_dir.glob("[0-9]*.json")):
        record = json.loads(path.read_text())
        start, end = at(record["history"], first), at(record["history"], last + 2.5)  # the write after ``last``
        if start is None or end is None:
            continue
        full_start, full_end = start[2].get("2", [0, 0.0, 0.0]), end[2].get("2", [0, 0.0, 0.0])
        young = sum(end[2].get(g, [0, 0.0])[1] - start[2].get(g, [0, 0.0])[1] for g in ("0", "1"))
        rows.append(
            {
                "process": process_name(record["title"]),
                "pid": record["pid"],
                "full_collections": full_end[0] - full_start[0],
                "full_collection_s": round(full_end[1] - full_start[1], 3),
                "longest_full_collection_s_whole_run": round(full_end[2], 3),
                "young_collection_s": round(young, 3),
                "rss_mb_at_step_2_end": round(start[1] / 1024, 1),
                "rss_mb_at_last_step_end": round(end[1] / 1024, 1),
            }
        )
    return sorted(rows, key=lambda r: -r["full_collection_s"])


def run_once(arm: str, prompts: int, steps: int, seed: int, assets: str, work: Path) -> dict:
    name, overrides = study_run(arm, prompts, steps, seed, assets, work)
    probe_dir = work / f"probe-{name}"
    probe_dir.mkdir()
    watch, rows, _, _ = watched_run(
        name, overrides, steps, work, env={"ERPO_GC_PROBE_DIR": str(probe_dir)}, python_path=[str(work / "site")]
    )
    steady = [rows[s] for s in range(3, steps + 1)]
    return {
        "arm": arm,
        "prompts": prompts,
        "steps": steps,
        "overrides": overrides,
        # Phases over steps 3..N: the same steps the collections below are counted over.
        **{f"{phase}_s": float(np.median([r.get(f"timing_s/{phase}", 0.0) for r in steady])) for phase in PHASES},
        "processes_steps_3_to_n": process_rows(probe_dir, watch.times[2], watch.times[steps]),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=36, help="prompts per step (n = 8)")
    p.add_argument("--steps", type=int, default=12, help="training steps per run (counted: steps 3..N)")
    p.add_argument("--arms", default="after,after-gc_freeze", help="comma-separated arms (benchmarks.step_cost's)")
    add_study_arguments(p)
    add_quiet_machine_arguments(p)
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/gc_cost.json)")
    args = p.parse_args(argv)
    if args.steps < 4:
        raise SystemExit("--steps must be >= 4: collections are counted from the end of step 2 to the last step")
    arms = args.arms.split(",")
    for arm in arms:
        check_arm(arm)
    assets = study_assets(args)
    load = refuse_a_busy_machine(args)
    runs = []
    with tempfile.TemporaryDirectory(prefix="gc_cost_") as tmp:
        (Path(tmp) / "site").mkdir()
        (Path(tmp) / "site" / "sitecustomize.py").write_text(PROBE)
        for arm in arms:
            started = time.time()
            runs.append(run_once(arm, args.prompts, args.steps, args.seed, assets, Path(tmp)))
            print(f"{arm}: step {runs[-1]['step_s']:.2f} s, {time.time() - started:.0f} s wall", flush=True)
    for run in runs:
        print(
            f"\n{run['arm']}, {run['prompts']} prompts x 8, steps 3..{run['steps']}: step {run['step_s']:.2f} s, "
            + ", ".join(f"{ph} {run[f'{ph}_s']:.2f}" for ph in PHASES if ph != "step")
        )
        keys = [
            "full_collections",
            "full_collection_s",
            "longest_full_collection_s_whole_run",
            "young_collection_s",
            "rss_mb_at_step_2_end",
            "rss_mb_at_last_step_end",
        ]
        print(table(["process", *keys], [[r["process"], *[r[k] for k in keys]] for r in run["processes_steps_3_to_n"]]))
    payload = {
        "arms": arms,
        "load_per_core_at_start": round(load, 2),
        "busy_allowed": args.allow_busy,
        "commit": commit(),
        "runs": runs,
    }
    write("gc_cost", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
