"""Tracker memory per prompt and state save/load time at 1e5, 1e6, 1e7 prompts (issue 6.2).

Fills a tracker with N prompts (two data sources, each prompt with a full history window),
then reports the tracker's array bytes per prompt, the process RSS growth while filling it,
and the wall time of ``PromptTracker.save`` / ``PromptTracker.load`` (the JSON file that
goes into each checkpoint as part of erpo_state.json), median of ``--repeats``.

    python -m benchmarks.scale [--sizes 100000 1000000 10000000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time

import numpy as np

from benchmarks.common import table, write
from erpo.tracker import PromptTracker


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def filled_tracker(n: int, window: int = 8, chunk: int = 1_000_000) -> PromptTracker:
    tracker = PromptTracker(window=window)
    rng = np.random.default_rng(0)
    half = n // 2
    for source, size in (("math", half), ("gsm8k", n - half)):
        for visit in range(window):
            for lo in range(0, size, chunk):
                idx = np.arange(lo, min(size, lo + chunk))
                k = len(idx)
                correct = rng.integers(0, 9, k)
                tracker.record(visit, [source] * k, idx, np.full(k, 8), correct, correct / 8, np.full(k, 1.0))
    return tracker


def measure(n: int, repeats: int, folder: str) -> dict:
    gc.collect()
    before = rss_mb()
    tracker = filled_tracker(n)
    grown = rss_mb() - before
    path = os.path.join(folder, f"tracker_{n}.json")
    saves, loads = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        tracker.save(path)
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        loaded = PromptTracker.load(path)
        loads.append(time.perf_counter() - start)
        assert len(loaded) == len(tracker) == n
        del loaded
        gc.collect()
    result = {"prompts": n, "bytes_per_prompt": tracker.nbytes() / n, "rss_growth_mb": grown,
              "file_mb": os.path.getsize(path) / 2**20, "save_s": float(np.median(saves)),
              "load_s": float(np.median(loads))}
    os.remove(path)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one small size (tests)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    sizes, repeats = ([20_000], 1) if args.quick else (args.sizes, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        results = [measure(n, repeats, folder) for n in sizes]
    print(table(["prompts", "bytes/prompt (arrays)", "RSS growth MB", "file MB", "save s", "load s"],
                [[r["prompts"], r["bytes_per_prompt"], r["rss_growth_mb"], r["file_mb"], r["save_s"], r["load_s"]]
                 for r in results]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")
    payload = {"target": {"bytes_per_prompt": 200, "save_load_1e6_s": 1.0}, "results": results, "peak_rss_mb": peak}
    write("scale", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
