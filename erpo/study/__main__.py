"""CPU study (issue 12): ``python -m erpo.study build | run | analyse``.

    python -m erpo.study build                      # model + data, then the measured start shares
    python -m erpo.study run [--steps 100 ...]      # the whole study: multiruns, then analyse
    python -m erpo.study analyse                    # tables and analysis.json from the run logs

Run ``run`` under ``flock /tmp/erpo-verl.lock`` on a shared machine (it runs verl, Ray and vLLM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from erpo.study.run import MAIN_VARIANTS, Plan

RESULTS = "benchmarks/results/cpu_study"
WORK = "outputs/cpu_study"
ASSETS = "outputs/assets/cpu_study"  # conf/model/cpu_study.yaml: assets.study_dir


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def build(args) -> dict:
    from erpo.study.model import build_assets, start_shares

    start = time.time()
    marker = build_assets(args.assets)
    print(f"assets in {args.assets} ({time.time() - start:.0f} s; built in {marker['build_s']} s): "
          f"{marker['sizes']}, {marker['parameters']:,} parameters, warm-start loss {marker['warm_start_final_loss']}")
    print(f"held-out greedy accuracy: {marker['heldout_greedy_accuracy']}")
    shares = start_shares(args.assets, n=args.n, temperature=args.temperature)
    o = shares["overall"]
    print(f"start shares over {shares['prompts']} train prompts at T={args.temperature}, n={args.n}: "
          f"all-correct {o['all_correct']:.3f}, mixed {o['mixed']:.3f}, all-wrong {o['all_wrong']:.3f} "
          f"(accuracy {o['accuracy']:.3f})")
    s = shares["train_small"]
    print(f"  the {s['prompts']} RL train prompts (train_small): all-correct {s['all_correct']:.3f}, "
          f"mixed {s['mixed']:.3f}, all-wrong {s['all_wrong']:.3f} (accuracy {s['accuracy']:.3f})")
    print(f"  held-out avg@{shares['heldout_step0']['k']} of the base model: {shares['heldout_step0']['avg@k']:.3f}")
    for level, s in shares["per_level"].items():
        print(f"  level {level}: all-correct {s['all_correct']:.3f}, mixed {s['mixed']:.3f}, "
              f"all-wrong {s['all_wrong']:.3f}, accuracy {s['accuracy']:.3f}")
    out = {"assets": marker, "start_shares": shares}
    if args.results:
        Path(args.results).mkdir(parents=True, exist_ok=True)
        (Path(args.results) / "start_shares.json").write_text(json.dumps(out, indent=1))
    return out


def run(args) -> None:
    from erpo.study import run as runner

    test_freq = args.test_freq or max(args.steps // 2, 1)
    deadline = None
    if args.deadline:
        hour, minute = map(int, args.deadline.split(":"))
        now = time.localtime()
        deadline = time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, -1))
    plan = Plan(results=args.results, work=args.work, steps=args.steps, test_freq=test_freq,
                seeds=_ints(args.seeds), variants=tuple(args.variants.split(",")), ra_seeds=_ints(args.ra_seeds),
                overrides=tuple(args.overrides), deadline=deadline)
    if not (Path(args.results) / "start_shares.json").exists():
        build(args)
    start = time.time()
    runner.run(plan)
    runner.write_plan(plan, {"last_run_wall_s": round(time.time() - start, 1)})
    analyse(args)


def analyse(args) -> None:
    from erpo.study.analyse import analyse_study

    out = analyse_study(args.results, figures=not args.no_figures)
    print(out["table_path"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m erpo.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("build", "run", "analyse"):
        p = sub.add_parser(name)
        p.add_argument("--results", default=RESULTS, help="study folder (small files, committed)")
        p.add_argument("--assets", default=ASSETS, help="model + data folder (assets.study_dir)")
        p.add_argument("--n", type=int, default=8, help="start shares: samples per prompt")
        p.add_argument("--temperature", type=float, default=1.0, help="start shares: the base temperature")
        p.add_argument("--no-figures", action="store_true", help="skip executing notebooks/cpu_study.ipynb")
        if name == "run":
            p.add_argument("--work", default=WORK, help="checkpoints, validation dumps, Hydra folders")
            p.add_argument("--steps", type=int, default=100)
            p.add_argument("--test-freq", type=int, default=0,
                           help="held-out evaluation every N steps and at the end (0 = half way and at the end)")
            p.add_argument("--seeds", default="1,2,3", help="seeds of the main variants")
            p.add_argument("--variants", default=",".join(MAIN_VARIANTS))
            p.add_argument("--ra-seeds", default="1", help="seeds of the RA ablation (erpo_ra); empty = none")
            p.add_argument("--deadline", help="HH:MM (local time): start no job that would not finish by then")
            p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    if args.cmd == "run" and args.assets != ASSETS:
        args.overrides = [*args.overrides, f"assets.study_dir={Path(args.assets).resolve()}"]
    {"build": build, "run": run, "analyse": analyse}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
