"""Where a CPU run's start-up goes: every process's CPU, second by second, from launch to the end of its steps.

Runs one short study run of ``benchmarks/step_cost.py`` (the same overrides; ``--arm before`` reverts every cut of
the CPU platform) while sampling ``/proc`` every 0.25 s: which processes exist, what each is doing (Ray titles a
process by its actor and method, ``ray::WorkerDict.actor_rollout_ref_init_model``, and ``ray::IDLE`` while it
imports its actor's modules), and the CPU seconds each spent in each second of wall time. A second whose total is
near 1.0 had one of the two cores waiting; a run of such seconds under one process is a serial import or build.
Writes the timeline (one line per second: the total and the four busiest processes, then the step ends) and a
JSON beside it.

    python -m benchmarks.startup_timeline --arm after --prompts 36
    python -m benchmarks.startup_timeline --arm before --prompts 36
    python -m benchmarks.startup_timeline --arm after --smoke     # the smoke run (experiment=smoke) instead
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, add_quiet_machine_arguments, commit, refuse_a_busy_machine, write
from benchmarks.smoke_time import smoke_overrides
from benchmarks.step_cost import (
    StepWatch,
    add_study_arguments,
    check_arm,
    process_cpu_seconds,
    run_driver,
    study_assets,
    study_run,
)


def per_second(samples: list[tuple[float, dict]], launch: float) -> dict[int, dict[str, float]]:
    """CPU seconds per ``pid:title`` in each whole second after launch. A process counts from its second sighting
    on (what it spent before the first sample of it cannot be placed in time)."""
    seconds: dict[int, dict[str, float]] = {}
    for (_, before), (t, now) in zip(samples, samples[1:], strict=False):
        bucket = seconds.setdefault(int(t - launch), {})
        for pid, (title, cpu) in now.items():
            spent = cpu - before[pid][1] if pid in before else 0.0
            if spent > 0:
                key = f"{pid}:{title}"
                bucket[key] = bucket.get(key, 0.0) + spent
    return seconds


def lines_of(seconds: dict[int, dict[str, float]], step_ends: dict[int, float], top: int = 4) -> list[str]:
    out = []
    for second in sorted(seconds):
        busiest = sorted(seconds[second].items(), key=lambda kv: -kv[1])[:top]
        total = sum(seconds[second].values())
        out.append(f"{second:4d} {total:4.2f} | " + " | ".join(f"{key[:60]} {cpu:.2f}" for key, cpu in busiest))
    out += [f"end of step {step}: {t:.1f} s" for step, t in sorted(step_ends.items())]
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arm", default="after", help="before, after, after-<cut> or try-<trial> (benchmarks/step_cost.py)")
    p.add_argument("--prompts", type=int, default=36, help="prompts per step (n = 8)")
    p.add_argument("--steps", type=int, default=3, help="training steps")
    add_study_arguments(p)
    p.add_argument("--smoke", action="store_true", help="time the smoke run (experiment=smoke, 6 steps) instead")
    p.add_argument(
        "--out", default=None, help="timeline path (default step_cost_profile/timeline_<arm>_p<N>.txt or _smoke.txt)"
    )
    add_quiet_machine_arguments(p)
    args = p.parse_args(argv)
    check_arm(args.arm)
    assets = None if args.smoke else study_assets(args)
    load = refuse_a_busy_machine(args)
    label = "smoke" if args.smoke else f"p{args.prompts}"
    text = Path(args.out) if args.out else RESULTS / "step_cost_profile" / f"timeline_{args.arm}_{label}.txt"
    samples: list[tuple[float, dict]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.time(), process_cpu_seconds()))
            time.sleep(0.25)

    with tempfile.TemporaryDirectory(prefix="startup_timeline_") as tmp:
        work = Path(tmp)
        if args.smoke:
            name = f"smoke-{args.arm}"
            overrides = [*smoke_overrides(args.arm, work / "smoke"), f"trainer.experiment_name={name}"]
        else:
            name, overrides = study_run(args.arm, args.prompts, args.steps, args.seed, assets, work)
        sampler = threading.Thread(target=sample, daemon=True)
        with StepWatch(work / "logs" / "erpo" / f"{name}.jsonl") as watch, open(work / "console.log", "w") as out:
            launch = time.time()
            sampler.start()
            proc = run_driver(overrides, work, out)
            stop.set()
            sampler.join()
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{(work / 'console.log').read_text()[-3000:]}")
    step_ends = {step: round(t - launch, 1) for step, t in watch.times.items()}
    header = [
        f"# arm {args.arm}, {'the smoke run' if args.smoke else f'{args.prompts} prompts x 8, {args.steps} steps'}; "
        f"commit {commit()}; load per core at start {load:.2f}",
        "# second after launch | CPU seconds of all processes in it (2.00 = both cores) | busiest pid:title CPU s",
    ]
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text("\n".join(header + lines_of(per_second(samples, launch), step_ends)) + "\n")
    print(f"wrote {text}; steps ended at {step_ends} s after launch")
    return write(
        "startup_timeline",
        {
            "commit": commit(),
            "arm": args.arm,
            "run": "smoke" if args.smoke else f"{args.prompts} prompts x 8, {args.steps} steps",
            "load_per_core_at_start": round(load, 2),
            "overrides": overrides,
            "timeline": str(text.relative_to(ROOT)) if text.is_relative_to(ROOT) else str(text),
            "step_end_s_after_launch": step_ends,
        },
        out=str(text.with_suffix(".json")),
    )


if __name__ == "__main__":
    main()
