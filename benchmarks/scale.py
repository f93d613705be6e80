"""Tracker memory per prompt and state save/load time at 1e5, 1e6, 1e7 prompts.

Fills a tracker with N prompts (two data sources, each prompt with a full history window), then
reports the tracker's array bytes per prompt, the process RSS growth while filling it, and the wall
time of what a checkpoint does with it: save = ``write_state(path, tracker.state_dict())`` (the
tracker part of erpo_state.json), load = ``read_state`` + ``load_state_dict`` (with its checks),
median of ``--repeats``. A second fill at the smallest size draws the dataset indices at random from
[0, 2**40): the bytes per prompt must not depend on how large the indices are (sparse keys).

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
from erpo.erpo.tracker import PromptTracker
from erpo.state_files import read_state, write_state

HISTORY = 8


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def filled_tracker(n: int, chunk: int = 1_000_000, spread: int | None = None) -> PromptTracker:
    """N prompts over two sources, HISTORY visits each; indices 0..N-1, or N distinct ones below ``spread``."""
    tracker = PromptTracker(history_length=HISTORY)
    rng = np.random.default_rng(0)
    half = n // 2
    for source, size in (("math", half), ("gsm8k", n - half)):
        keys = np.arange(size) if spread is None else np.unique(rng.integers(0, spread, 2 * size))[:size]
        for visit in range(HISTORY):
            for lo in range(0, size, chunk):
                idx = keys[lo : lo + chunk]
                k = len(idx)
                correct = rng.integers(0, 9, k)
                tracker.record(visit, [source] * k, idx, np.full(k, 8), correct, correct / 8, np.full(k, 1.0))
    return tracker


def save_load(tracker: PromptTracker, path: str) -> tuple[float, float]:
    start = time.perf_counter()
    write_state(path, tracker.state_dict())
    saved = time.perf_counter() - start
    start = time.perf_counter()
    loaded = PromptTracker(history_length=HISTORY)
    loaded.load_state_dict(read_state(path, what="tracker state", fix="rerun the benchmark"))
    took = time.perf_counter() - start
    assert len(loaded) == len(tracker)
    return saved, took


def measure(n: int, repeats: int, folder: str) -> dict:
    gc.collect()
    before = rss_mb()
    tracker = filled_tracker(n)
    grown = rss_mb() - before
    path = os.path.join(folder, f"tracker_{n}.json")
    times = []
    for _ in range(repeats):
        times.append(save_load(tracker, path))
        gc.collect()
    result = {
        "prompts": n,
        "bytes_per_prompt": tracker.nbytes() / n,
        "rss_growth_mb": grown,
        "file_mb": os.path.getsize(path) / 2**20,
        "save_s": float(np.median([t[0] for t in times])),
        "load_s": float(np.median([t[1] for t in times])),
    }
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
    print(
        table(
            ["prompts", "bytes/prompt (arrays)", "RSS growth MB", "file MB", "save s", "load s"],
            [
                [r["prompts"], r["bytes_per_prompt"], r["rss_growth_mb"], r["file_mb"], r["save_s"], r["load_s"]]
                for r in results
            ],
        )
    )
    sparse_n = min(sizes)
    sparse = {
        "prompts": sparse_n,
        "index_range": 2**40,
        "bytes_per_prompt": filled_tracker(sparse_n, spread=2**40).nbytes() / sparse_n,
    }
    print(f"\n{sparse_n} prompts with random indices below 2**40: {sparse['bytes_per_prompt']:.1f} bytes/prompt")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")
    payload = {
        "target": {"bytes_per_prompt": 200, "save_load_1e6_s": 1.0},
        "results": results,
        "sparse_indices": sparse,
        "peak_rss_mb": peak,
    }
    write("scale", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
