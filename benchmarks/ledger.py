"""Sample-efficiency ledger: rollouts per effective prompt, and revival of all-correct prompts (issue 6.4).

From the simulator (same ERPOController as training), GRPO / DAPO (dynamic sampling) / ERPO /
ERPO+DAPO at equal batch: rollouts spent per effective (non-zero-variance) prompt, and among
visits where a prompt was all-correct, the share whose *next* visit was mixed (revived within 1
revisit) and whose next or second-next visit was (within 2). Revival is read from each prompt's
visit history in the tracker (window large enough to hold every visit).

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

import numpy as np

from benchmarks.common import table, write
from erpo.sim.model import VARIANTS, SimConfig, simulate, summarise
from erpo.tracker import Outcome


def revival(controller) -> dict:
    """Share of all-correct visits followed by a mixed visit within 1 and within 2 revisits."""
    hits1 = hits2 = base1 = base2 = 0
    for table in controller.tracker._tables.values():
        a, window = table.arrays, table.window
        visits = a["visits"].astype(np.int64)
        seen = np.flatnonzero(visits)
        if (visits[seen] > window).any():
            raise ValueError("history window too small for the ledger: raise erpo.history_length above the visits per prompt")
        n, c = a["h_n"][seen].astype(np.int64), a["h_correct"][seen].astype(np.int64)
        valid = np.arange(window)[None, :] < visits[seen, None]  # slots filled in visit order (no wrap)
        outcome = np.where(c == n, Outcome.ALL_CORRECT, np.where(c == 0, Outcome.ALL_WRONG, Outcome.MIXED))
        all_correct = valid & (outcome == Outcome.ALL_CORRECT)
        mixed = valid & (outcome == Outcome.MIXED)
        nxt1 = np.zeros_like(mixed)
        nxt1[:, :-1] = mixed[:, 1:]
        nxt2 = np.zeros_like(mixed)
        nxt2[:, :-2] = mixed[:, 2:]
        has1 = np.zeros_like(valid)
        has1[:, :-1] = valid[:, 1:]
        has2 = np.zeros_like(valid)
        has2[:, :-2] = valid[:, 2:]
        base1 += int((all_correct & has1).sum())
        hits1 += int((all_correct & has1 & nxt1).sum())
        base2 += int((all_correct & has2).sum())
        hits2 += int((all_correct & has2 & (nxt1 | nxt2)).sum())
    # Each share is over the all-correct visits that had that many revisits before the run ended.
    return {"all_correct_visits_with_a_revisit": base1, "all_correct_visits_with_two_revisits": base2,
            "revived_within_1": hits1 / base1 if base1 else None,
            "revived_within_2": hits2 / base2 if base2 else None}


def simulated(cfg: SimConfig) -> dict:
    out = {}
    for variant in VARIANTS:
        series, controller = simulate(variant, cfg, return_controller=True)
        out[variant] = {**summarise(series), **revival(controller)}
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
            "steps": len(rows), "rollouts": float(groups.sum() * n), "effective_prompts": float(mixed.sum()),
            "rollouts_per_effective_prompt": float(groups.sum() * n / max(mixed.sum(), 1)),
            "revived_within_1": float(revived.sum() / candidates.sum()) if candidates.sum() else None,
            "revived_within_2": None,
        }
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--logs", nargs="*", default=[], help="training JSONL logs (verl file logger)")
    parser.add_argument("--log-n", type=int, default=8, help="rollouts per prompt of the logged runs")
    parser.add_argument("--quick", action="store_true", help="tiny simulation (tests)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    prompts, steps, batch = (200, 20, 64) if args.quick else (args.prompts, args.steps, args.batch)
    # History long enough to hold every visit of every prompt (DAPO re-draws add visits).
    window = int(np.ceil(steps * batch * 4 / prompts)) + 4
    cfg = SimConfig(num_prompts=prompts, steps=steps, batch_size=batch, n=args.n, erpo={"history_length": window})
    sim = simulated(cfg)
    print(f"simulator: {prompts} prompts, {steps} steps, batch {batch}, n={args.n} (same seed for every variant)")
    print(table(["variant", "rollouts", "effective prompts/step", "rollouts per effective prompt",
                 "revived within 1 revisit", "within 2"],
                [[v, s["total_rollouts"], s["effective_prompts_per_step"], s["rollouts_per_effective_prompt"],
                  s["revived_within_1"], s["revived_within_2"]] for v, s in sim.items()]))
    payload = {"simulator": {"config": {"prompts": prompts, "steps": steps, "batch": batch, "n": args.n},
                             "variants": sim}}
    if args.logs:
        logs = from_logs(args.logs, args.log_n)
        print(f"\nfrom training logs (n={args.log_n}):")
        print(table(["run", "steps", "rollouts", "rollouts per effective prompt", "revived within 1"],
                    [[k, v["steps"], v["rollouts"], v["rollouts_per_effective_prompt"], v["revived_within_1"]]
                     for k, v in logs.items()]))
        payload["logs"] = logs
    write("ledger", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
