"""The reward's time bound on a fuzz of pathological answers, and the common case's cost.

Each class below is generated with a seeded RNG and scored through ``compute_score`` (every call
from ``--threads`` threads at once, as verl's reward workers call it from an executor). Per class:
median / p95 / max latency, how many calls the guards refused, how many hit the deadline (the
worker was killed and replaced, or none was free in time), and whether every call returned within
its bound WAIT_S + TIMEOUT_S (+ slack). Workers are started before timing (``warm_up``); their restarts are counted.

    python -m benchmarks.reward_bound [--samples 12] [--timeout 5] [--wait 30] [--threads 1] [--quick]

Timings on a shared machine are noisy; the bound is what matters (max column).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.common import table, write
from erpo.rewards import compute_score, math_reward, reward_stats, warm_up

# A call's bound is WAIT_S + TIMEOUT_S, plus the time to kill a worker and return: at most this.
SLACK_S = 0.5


def _classes(rng: random.Random) -> dict:
    """Class name -> maker of one (gold, predicted answer) pair."""

    def digits(lo: int, hi: int) -> str:
        return str(rng.randint(lo, hi))

    def same(answer: str) -> tuple[str, str]:
        return answer, answer

    return {
        # common answers: the case the reward spends nearly all its time on
        "common: number, right": lambda: same(digits(1, 999)),
        "common: number, wrong": lambda: (digits(1, 999), digits(1000, 2000)),
        "common: symbolic, right": lambda: rng.choice(
            [
                ("(x+1)^2", "x^2+2x+1"),
                ("\\sqrt{8}", "2\\sqrt{2}"),
                ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"),
                ("[1,3)", "[1, 3)"),
            ]
        ),
        "common: symbolic, wrong": lambda: rng.choice(
            [("(x+1)^2", "x^2+1"), ("\\sqrt{8}", "3\\sqrt{2}"), ("\\pi", "3.14"), ("(1,2)", "(2,1)")]
        ),
        # pathological answers
        "power tower": lambda: (
            "3",
            "^".join(digits(2, 99) for _ in range(rng.randint(3, 8)))
            if rng.random() < 0.5
            else digits(2, 9) + "^{" * 4 + digits(2, 9) + "}" * 4,
        ),
        "factorial of factorial": lambda: (
            "3",
            rng.choice(["((%s!)!)!", "(%s!)!", "%s!!!", "\\Gamma(%s!)"]) % digits(5, 99),
        ),
        "huge power": lambda: (
            "3",
            rng.choice(["%s^{%s}", "(%s^{400})^{%s}", "%s^{99 \\cdot %s}"])
            % (digits(2, 99999), digits(30000, 9999999)),
        ),
        "huge factorial": lambda: ("3", f"{digits(5001, 10**7)}!"),
        # below every guard's threshold, yet minutes of sympy work: only the worker's kill stops these
        "passes guards, heavy": lambda: (
            "3",
            rng.choice(
                [
                    f"\\sqrt{{10^{{{rng.randint(15000, 19000)}}}+1}}",
                    f"\\tan(10^{{{rng.randint(15000, 19000)}}})",
                    "\\frac{{9999^{{{0}}}}}{{9998^{{{0}}}}}".format(rng.randint(3000, 4000)),
                    f"\\lfloor \\pi \\cdot 10^{{{rng.randint(9000, 19000)}}} \\rfloor",
                ]
            ),
        ),
        "deep nesting": lambda: ("3", (lambda n: "\\sqrt{" * n + "2" + "}" * n)(rng.randint(10, 200))),
        "long expression": lambda: ("3", "+".join(digits(1, 9) for _ in range(rng.randint(100, 2000)))),
        "unicode / binary junk": lambda: ("42", "".join(chr(rng.randint(0x80, 0x2FFF)) for _ in range(60))),
    }


def run_class(make, samples: int, threads: int, bound: float) -> dict:
    cases = [make() for _ in range(samples)]
    walls = [0.0] * samples
    before = reward_stats()

    def score(i: int) -> None:
        gold, pred = cases[i]
        start = time.perf_counter()
        compute_score("math500", "\\boxed{" + pred + "}", gold)
        walls[i] = time.perf_counter() - start

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(score, range(samples)))
    after = reward_stats()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    ordered = sorted(walls)
    return {
        "calls": samples,
        "median_ms": statistics.median(walls) * 1e3,
        "p95_ms": ordered[min(samples - 1, int(0.95 * samples))] * 1e3,
        "max_ms": max(walls) * 1e3,
        "refused": delta.get("refused_symbolic", 0),
        "timeouts": delta.get("timeouts", 0),
        "timeouts_busy": delta.get("timeouts_busy", 0),
        "worker_restarts": delta.get("worker_restarts", 0),
        "within_bound": max(walls) <= bound + SLACK_S,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12, help="calls per class")
    parser.add_argument("--timeout", type=float, default=math_reward.TIMEOUT_S, help="TIMEOUT_S for the run")
    parser.add_argument("--wait", type=float, default=math_reward.WAIT_S, help="WAIT_S for the run")
    parser.add_argument("--threads", type=int, default=1, help="concurrent callers (verl calls from an executor)")
    parser.add_argument("--common-calls", type=int, default=2000, help="calls for the common-case median")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 samples per class, 200 common calls")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.common_calls = 2, 200
    saved = math_reward.TIMEOUT_S, math_reward.WAIT_S
    math_reward.TIMEOUT_S, math_reward.WAIT_S = args.timeout, args.wait
    try:
        return _run(args)
    finally:
        math_reward.TIMEOUT_S, math_reward.WAIT_S = saved


def _run(args) -> dict:
    bound = args.timeout + args.wait
    start = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - start
    rng = random.Random(args.seed)
    results = {name: run_class(make, args.samples, args.threads, bound) for name, make in _classes(rng).items()}
    # The common case in detail: one right integer answer, single thread, many calls.
    walls = []
    for i in range(args.common_calls):
        t = time.perf_counter()
        compute_score("math_dapo", f"... so the answer is \\boxed{{{i}}}", str(i))
        walls.append(time.perf_counter() - t)
    common_us = statistics.median(walls) * 1e6
    rows = [
        [
            name,
            r["calls"],
            r["median_ms"],
            r["p95_ms"],
            r["max_ms"],
            r["refused"],
            r["timeouts"],
            r["timeouts_busy"],
            r["worker_restarts"],
            "yes" if r["within_bound"] else "NO",
        ]
        for name, r in results.items()
    ]
    workers = math_reward.worker_pool.get_pool().size
    print(
        f"reward bound: TIMEOUT_S={args.timeout} s, WAIT_S={args.wait} s, threads={args.threads}, "
        f"worker processes={workers}, "
        f"worker start {warm_s:.2f} s\n"
    )
    print(
        table(
            [
                "class",
                "calls",
                "median ms",
                "p95 ms",
                "max ms",
                "refused",
                "timeouts",
                "of which no free worker",
                "worker restarts",
                f"max <= {bound:g}+{SLACK_S} s",
            ],
            rows,
        )
    )
    print(
        f"\ncommon case (integer answer, fast path, no worker): median {common_us:.1f} us per call "
        f"over {args.common_calls} calls"
    )
    payload = {
        "timeout_s": args.timeout,
        "wait_s": args.wait,
        "bound_s": bound,
        "slack_s": SLACK_S,
        "threads": args.threads,
        "samples": args.samples,
        "workers": workers,
        "worker_start_s": warm_s,
        "classes": results,
        "common_case_median_us": common_us,
        "all_within_bound": all(r["within_bound"] for r in results.values()),
    }
    write("reward_bound", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
