"""CPU study: ``python -m benchmarks.cpu_study build | run | analyse``.

    python -m benchmarks.cpu_study build                     # model + data, the measured start shares, the regime check
    python -m benchmarks.cpu_study run [--steps 20 ...]      # the whole study: base evaluation, multiruns, then analyse
    python -m benchmarks.cpu_study analyse [--probe P.json]  # tables and analysis.json from the run logs

Run ``run`` under ``flock /tmp/erpo-verl.lock`` on a shared machine (it runs verl, Ray and vLLM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.cpu_study.run import MAIN_VARIANTS, Plan

RESULTS = "benchmarks/results/cpu_study_v2"  # the first version (issue 12) stays in cpu_study/
WORK = "outputs/cpu_study"
ASSETS = "outputs/assets/cpu_study"  # recipe/conf/model/cpu_study.yaml: assets.study_dir


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def build(args) -> dict:
    from benchmarks.cpu_study.model import build_assets, start_shares

    start = time.time()
    marker = build_assets(args.assets)
    print(
        f"assets in {args.assets} ({time.time() - start:.0f} s; built in {marker['build_s']} s): "
        f"{marker['sizes']}, {marker['parameters']:,} parameters, warm-start loss {marker['warm_start_final_loss']}"
    )
    print(f"held-out greedy accuracy: {marker['heldout_greedy_accuracy']}")
    shares = start_shares(args.assets, n=args.n, temperature=args.temperature)
    s = shares["train_rl"]
    print(
        f"start shares of the {s['prompts']} RL prompts (levels {shares['rl_levels']}) at T={args.temperature}, "
        f"n={args.n}: all-correct {s['all_correct']:.3f} {s['all_correct_ci']}, mixed {s['mixed']:.3f} "
        f"{s['mixed_ci']}, all-wrong {s['all_wrong']:.3f} (accuracy {s['accuracy']:.3f}; 95 % Wilson intervals)"
    )
    for level, s in shares["per_level"].items():
        print(
            f"  level {level} (all {s['prompts']} train prompts): all-correct {s['all_correct']:.3f}, "
            f"mixed {s['mixed']:.3f}, all-wrong {s['all_wrong']:.3f}, accuracy {s['accuracy']:.3f}"
        )
    reg = shares["regime"]
    print("regime: " + ("met" if reg["ok"] else "NOT met: " + "; ".join(reg["failures"])))
    out = {"assets": marker, "start_shares": shares, "build_wall_s": round(time.time() - start, 1)}
    if args.results:
        Path(args.results).mkdir(parents=True, exist_ok=True)
        (Path(args.results) / "start_shares.json").write_text(json.dumps(out, indent=1))
    return out


def _check_regime(results: str, allow_miss: bool) -> None:
    shares = json.loads((Path(results) / "start_shares.json").read_text())["start_shares"]
    reg = shares.get("regime")
    if reg is None or not reg["ok"]:
        why = "; ".join(reg["failures"]) if reg else "start_shares.json has no regime check (built by older code)"
        if not allow_miss:
            raise SystemExit(
                f"refusing to run: the RL pool's step-0 shares miss the study's regime ({why}); rebuild "
                "(python -m benchmarks.cpu_study build) after changing SPEC, or pass --allow-regime-miss"
            )
        print(f"warning: regime not met ({why}); running anyway (--allow-regime-miss)")


def run(args) -> None:
    from benchmarks.cpu_study import run as runner

    deadline = None
    if args.deadline:
        hour, minute = map(int, args.deadline.split(":"))
        now = time.localtime()
        deadline = time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, -1))
    plan = Plan(
        results=args.results,
        work=args.work,
        steps=args.steps,
        test_freq=args.test_freq,
        seeds=_ints(args.seeds),
        variants=tuple(v for v in args.variants.split(",") if v),
        ra_seeds=_ints(args.ra_seeds),
        overrides=tuple(args.overrides),
        deadline=deadline,
        assets=args.assets,
        eval_k=args.eval_k,
    )
    plan.check()
    if args.probe:  # read (and refused) now, not after the whole study
        from benchmarks.cpu_study.probe import read_probe

        read_probe(args.probe)
    if not (Path(args.results) / "start_shares.json").exists():
        build(args)
    _check_regime(args.results, args.allow_regime_miss)
    start = time.time()
    runner.run(plan)
    runner.write_plan(plan, {"last_run_wall_s": round(time.time() - start, 1)})
    analyse(args)


def analyse(args) -> None:
    from benchmarks.cpu_study.analyse import analyse_study

    out = analyse_study(
        args.results, figures=not args.no_figures, probe=args.probe, allow_mixed_commits=args.allow_mixed_commits
    )
    print(out["table_path"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.cpu_study", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("build", "run", "analyse"):
        p = sub.add_parser(name)
        p.add_argument("--results", default=RESULTS, help="study folder (small files, committed)")
        p.add_argument("--assets", default=ASSETS, help="model + data folder (assets.study_dir)")
        p.add_argument("--n", type=int, default=8, help="start shares: samples per prompt")
        p.add_argument("--temperature", type=float, default=1.0, help="start shares: the base temperature")
        p.add_argument("--no-figures", action="store_true", help="skip executing notebooks/cpu_study.ipynb")
        if name in ("run", "analyse"):
            p.add_argument(
                "--probe",
                help="JSON of python -m erpo.probe (its T = base entry is the revival control; "
                "format: benchmarks/cpu_study/probe.py)",
            )
            p.add_argument(
                "--allow-mixed-commits",
                action="store_true",
                help="analyse runs whose recorded code differs (refused otherwise)",
            )
        if name == "run":
            p.add_argument("--work", default=WORK, help="checkpoints, validation dumps, Hydra folders")
            p.add_argument(
                "--steps",
                type=int,
                default=20,
                help="steps per run (recipe/conf/experiment/cpu_study/_base.yaml says why 20)",
            )
            p.add_argument(
                "--test-freq",
                type=int,
                default=0,
                help="verl's held-out validation every N steps and at the end (0 = none)",
            )
            p.add_argument("--seeds", default="1,2,3", help="seeds of the main variants")
            p.add_argument("--variants", default=",".join(MAIN_VARIANTS))
            p.add_argument("--ra-seeds", default="", help="seeds of the RA-on-GRPO ablation (erpo_ra); empty = none")
            p.add_argument("--eval-k", type=int, default=16, help="offline held-out evaluation: samples per problem")
            p.add_argument(
                "--allow-regime-miss",
                action="store_true",
                help="run although the build's start shares miss the regime (refused otherwise)",
            )
            p.add_argument("--deadline", help="HH:MM (local time): start no job that would not finish by then")
            p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    if args.cmd == "run" and args.assets != ASSETS:
        args.overrides = [*args.overrides, f"assets.study_dir={Path(args.assets).resolve()}"]
    out = {"build": build, "run": run, "analyse": analyse}[args.cmd](args)
    if args.cmd == "build" and not out["start_shares"]["regime"]["ok"]:
        return 2  # the build is kept, and flagged: `run` refuses it unless --allow-regime-miss
    return 0


if __name__ == "__main__":
    sys.exit(main())
