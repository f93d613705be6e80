"""Sample-efficiency ledger: rollouts per effective prompt, and revival of all-correct prompts.

From the simulator (same ERPOController, and GRESO's selector beside it, as training): GRPO, DAPO (dynamic
sampling), ERPO, ERPO on DAPO, PREPO, GRESO and ERPO on GRESO's kept prompts, at one rollout budget
(GRPO's spend over ``--steps`` steps: every variant stops once it has spent it): steps taken, effective
(non-zero-variance) prompts trained on, rollouts per effective prompt, candidates drawn, and among visits
where a prompt was all-correct, the share whose *next* visit was mixed (revived within 1 revisit) and
whose next or second-next visit was (within 2). Revival is read from each prompt's visit history in the
tracker (a history long enough to hold every visit). Then a sweep of GRESO's target zero-variance share,
in this pool and in two harder ones (initial mean logit 0 and -1.5), each beside DAPO without skipping.

With ``--logs`` it adds the same ledger from training runs' JSONL metrics where the logs allow:
rollouts per effective prompt = sum(erpo/groups x n) / sum(erpo/groups x erpo/frac_mixed), and the
per-step revival share erpo/revived_frac (= within 1 revisit); "within 2" needs per-prompt
histories, which the logs do not hold (read erpo_assignments.jsonl + checkpoints for that).

    python -m benchmarks.ledger [--steps 200 --prompts 10000 --batch 512] [--logs run.jsonl ...] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace

import numpy as np

from benchmarks.common import table, write
from erpo.analysis.revival import revival as tracker_revival
from erpo.sim.model import VARIANTS, SimConfig, simulate, summarise

GRESO_TARGETS = (0.1, 0.25, 0.4, 0.6)
# The sweep runs in the ledger's pool and in two harder ones (initial mean logit 0 and -1.5): in the
# default pool over half the groups are all correct, above target / 3 for every target <= 1, and hardly
# any all wrong, so p_easy sinks to p_min and p_hard rises to p_max whatever the target.
SWEEP_POOL_LOGIT_MEANS = (None, 0.0, -1.5)
FIRST_HISTORY = 64  # visits kept per prompt on a first run; a variant whose prompts had more runs again


def revival(controller) -> dict:
    """Share of all-correct visits followed by a mixed visit within 1 and within 2 revisits (erpo.analysis.revival)."""
    return tracker_revival(controller.tracker)


def ledger_row(variant: str, cfg: SimConfig) -> dict:
    """Summary + revival of one variant; the history is made long enough for every prompt's visits."""
    series, controller = simulate(variant, cfg, return_controller=True)
    most = max((int(v.max(initial=0)) for v, _ in controller.tracker.outcome_histories().values()), default=0)
    if most > cfg.erpo["history_length"]:  # history length does not change the dynamics: same run, longer memory
        series, controller = simulate(variant, replace(cfg, erpo={**cfg.erpo, "history_length": most}), True)
    row = {**summarise(series), **revival(controller)}
    if "zero_variance_share" in series:
        row["mean_zero_variance_share"] = float(np.mean(series["zero_variance_share"]))
    return row


def simulated(cfg: SimConfig, variants=VARIANTS) -> dict:
    return {variant: ledger_row(variant, cfg) for variant in variants}


def greso_sweep(cfg: SimConfig, targets=GRESO_TARGETS, pools=SWEEP_POOL_LOGIT_MEANS) -> dict:
    """Per pool (its initial mean logit), DAPO without skipping, then GRESO at each target."""
    out = {}
    for mean in pools:
        pool = cfg if mean is None else replace(cfg, init_logit_mean=mean)
        rows = {"dapo (no skip)": ledger_row("dapo", pool)}
        rows.update(
            {
                f"greso {target:g}": ledger_row(
                    "greso", replace(pool, greso={**cfg.greso, "target_zero_variance": target})
                )
                for target in targets
            }
        )
        out[f"init_logit_mean={pool.init_logit_mean:g}"] = rows
    return out


def from_logs(paths: list[str], n: int) -> dict:
    out = {}
    for path in paths:
        rows = [json.loads(line)["data"] for line in open(path) if line.strip()]
        rows = [r for r in rows if "erpo/groups" in r]
        groups = np.asarray([r["erpo/groups"] for r in rows])
        mixed = groups * np.asarray([r["erpo/frac_mixed"] for r in rows])
        candidates = np.asarray([r.get("erpo/revival_candidates", 0.0) for r in rows])
        revived = candidates * np.asarray([r.get("erpo/revived_frac", 0.0) for r in rows])
        out[os.path.basename(path)] = {
            "steps": len(rows),
            "rollouts": float(groups.sum() * n),
            "effective_prompts": float(mixed.sum()),
            "rollouts_per_effective_prompt": float(groups.sum() * n / max(mixed.sum(), 1)),
            "revived_within_1": float(revived.sum() / candidates.sum()) if candidates.sum() else None,
            "revived_within_2": None,
        }
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=200, help="budget = GRPO's rollouts over this many steps")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--logs", nargs="*", default=[], help="training JSONL logs (verl file logger)")
    parser.add_argument("--log-n", type=int, default=8, help="rollouts per prompt of the logged runs")
    parser.add_argument("--quick", action="store_true", help="tiny simulation (tests)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    prompts, steps, batch = (300, 12, 32) if args.quick else (args.prompts, args.steps, args.batch)
    budget = steps * batch * args.n
    cfg = SimConfig(
        num_prompts=prompts, batch_size=batch, n=args.n, rollout_budget=budget, erpo={"history_length": FIRST_HISTORY}
    )
    sim = simulated(cfg)
    print(
        f"simulator: {prompts} prompts, batch {batch}, n={args.n}, one budget of {budget} rollouts "
        f"(GRPO's {steps} steps), same seed for every variant"
    )
    print(
        table(
            [
                "variant",
                "steps",
                "rollouts",
                "effective prompts",
                "effective prompts/step",
                "rollouts per effective prompt",
                "candidates",
                "skipped",
                "revived within 1",
                "within 2",
            ],
            [
                [
                    v,
                    s["steps"],
                    s["total_rollouts"],
                    s["effective_prompts"],
                    s["effective_prompts_per_step"],
                    s["rollouts_per_effective_prompt"],
                    s["total_candidates"],
                    s.get("skipped_share_of_candidates", "-"),
                    s["revived_within_1"],
                    s["revived_within_2"],
                ]
                for v, s in sim.items()
            ],
        )
    )
    sweep = greso_sweep(cfg)
    for pool, rows in sweep.items():
        print(f"\nGRESO's target zero-variance share (greso.target_zero_variance), same budget, pool {pool}:")
        print(
            table(
                [
                    "run",
                    "steps",
                    "mean zero-variance share",
                    "skipped",
                    "final p_easy",
                    "final p_hard",
                    "effective prompts/step",
                    "rollouts per effective prompt",
                    "revived within 1",
                ],
                [
                    [
                        t,
                        s["steps"],
                        s.get("mean_zero_variance_share", "-"),
                        s.get("skipped_share_of_candidates", "-"),
                        s.get("final_p_easy", "-"),
                        s.get("final_p_hard", "-"),
                        s["effective_prompts_per_step"],
                        s["rollouts_per_effective_prompt"],
                        s["revived_within_1"],
                    ]
                    for t, s in rows.items()
                ],
            )
        )
    payload = {
        "simulator": {
            "config": {
                "prompts": prompts,
                "rollout_budget": budget,
                "budget_steps": steps,
                "batch": batch,
                "n": args.n,
            },
            "variants": sim,
            "greso_target_sweep": sweep,
        }
    }
    if args.logs:
        logs = from_logs(args.logs, args.log_n)
        print(f"\nfrom training logs (n={args.log_n}):")
        print(
            table(
                ["run", "steps", "rollouts", "rollouts per effective prompt", "revived within 1"],
                [
                    [k, v["steps"], v["rollouts"], v["rollouts_per_effective_prompt"], v["revived_within_1"]]
                    for k, v in logs.items()
                ],
            )
        )
        payload["logs"] = logs
    write("ledger", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
