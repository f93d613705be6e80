"""ERPO data-side overhead per training step.

Times exactly what the trainer calls each step (recipe/erpo/trainer.py): ``controller.assign``
before dispatch and ``controller.update`` (tracker record + temperature policy + metrics) after
scoring, on a warm tracker with history, for batches of prompts x samples. With ``--log`` it also
reads a training run's JSONL (verl file logger) and reports erpo/timing_s (and, for PREPO runs,
prepo/timing_s: candidate scoring and selection) against timing_s/step
of that same run.

    python -m benchmarks.overhead [--log outputs/logs/erpo/<run>.jsonl] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.common import table, write
from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController

SHAPES = [(64, 8), (256, 8), (512, 16), (1024, 16)]


def time_shape(prompts: int, samples: int, dataset: int, warm: int, repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    controller = ERPOController(ERPOConfig.from_dict({}))
    solve = rng.beta(2.0, 1.0, dataset)  # many easy prompts: a realistic share of all-correct groups
    sources = ["math"] * prompts

    def one_step(step: int) -> float:
        idx = rng.choice(dataset, prompts, replace=False)
        start = time.perf_counter()
        temps = controller.assign(sources, idx)
        n_correct = rng.binomial(samples, solve[idx])  # the rollout happens here, outside the timer
        middle = time.perf_counter()
        controller.update(step, sources, idx, np.full(prompts, samples), n_correct, n_correct / samples, temps)
        return (middle - start) + (time.perf_counter() - middle)

    for step in range(warm):
        one_step(step)
    times = np.asarray([one_step(warm + r) for r in range(repeats)])
    return {
        "prompts": prompts,
        "samples": samples,
        "tracked_prompts": len(controller.tracker),
        "median_ms": float(np.median(times) * 1e3),
        "p90_ms": float(np.percentile(times, 90) * 1e3),
    }


def from_log(path: str) -> dict:
    rows = [json.loads(line)["data"] for line in open(path) if line.strip()]
    rows = [r for r in rows if "erpo/timing_s" in r and "timing_s/step" in r]
    if len(rows) < 2:
        raise SystemExit(f"{path}: needs >= 2 steps with erpo/timing_s and timing_s/step (log written by this recipe)")
    steady = rows[1:]  # step 1 includes vLLM start-up and the first weight sync
    erpo_s = float(np.median([r["erpo/timing_s"] for r in steady]))
    step_s = float(np.median([r["timing_s/step"] for r in steady]))
    run = {
        "log": path,
        "steps": len(steady),
        "median_erpo_s": erpo_s,
        "median_step_s": step_s,
        "ratio": erpo_s / step_s,
    }
    if all("prepo/timing_s" in r for r in steady):  # PREPO runs: candidate scoring + selection, same steps
        prepo_s = float(np.median([r["prepo/timing_s"] for r in steady]))
        run.update(median_prepo_s=prepo_s, prepo_ratio=prepo_s / step_s)
    return run


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", help="JSONL metrics of a training run of this recipe (e.g. the smoke run)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/overhead.json)")
    args = parser.parse_args(argv)
    dataset, warm, repeats = (2_000, 5, 5) if args.quick else (100_000, 100, 200)
    shapes = SHAPES[:1] if args.quick else SHAPES
    results = [time_shape(p, s, dataset, warm, repeats) for p, s in shapes]
    print(
        table(
            ["prompts x samples", "tracked prompts", "median ms", "p90 ms"],
            [[f"{r['prompts']}x{r['samples']}", r["tracked_prompts"], r["median_ms"], r["p90_ms"]] for r in results],
        )
    )
    payload = {"target": {"1024x16_ms": 5.0, "share_of_step": 0.005}, "controller": results}
    if args.log:
        run = from_log(args.log)
        payload["run"] = run
        print(
            f"\nrun {run['log']}: median erpo/timing_s {run['median_erpo_s'] * 1e3:.2f} ms vs median "
            f"timing_s/step {run['median_step_s']:.2f} s over {run['steps']} steps -> {run['ratio']:.3%} of a step"
        )
        if "median_prepo_s" in run:
            print(
                f"PREPO selection: median prepo/timing_s {run['median_prepo_s'] * 1e3:.1f} ms -> "
                f"{run['prepo_ratio']:.2%} of a step"
            )
    write("overhead", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
