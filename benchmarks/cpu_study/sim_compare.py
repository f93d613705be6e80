"""The simulator's prediction for the study's settings, beside what the runs measured.

Matching settings: the study's pool size, prompts per step, group size, steps and ERPO temperature
settings (from a run's resolved config). The simulator's initial logit distribution is fitted (grid
search) so that its first-step shares of all-correct / mixed / all-wrong groups match the measured start
shares of the base model; its slope, learning rate and transfer keep their defaults (recipe/conf/sim/sim.yaml),
which is what a user would run before a GPU job. Everything else is the simulator's own model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmarks.cpu_study.outcomes import LABELS
from erpo.analysis.revival import revival
from erpo.sim.model import SimConfig, simulate, summarise

# Measured variant -> (simulator variant, base temperature: None = the runs' own, "hot" = the ERPO arm's mean).
# dapo_ra and erpo_ra: the simulator has no RA (erpo/sim/variants.py), so they are not modelled, and erpo_dapo's
# prediction is ERPO on DAPO without RA (its all-correct groups are filtered like DAPO's).
SIM_VARIANTS = {
    "grpo": ("grpo", None),
    "erpo": ("erpo", None),
    "grpo_hot": ("grpo", "hot"),
    "dapo": ("dapo", None),
    "erpo_dapo": ("erpo_dapo", None),
}
KEYS = tuple(LABELS)


def _first_shares(cfg: SimConfig, repeats: int = 5) -> np.ndarray:
    out = []
    for seed in range(repeats):
        series = simulate("grpo", replace(cfg, steps=1, seed=seed))
        ac, aw = series["frac_all_correct"][0], series["frac_all_wrong"][0]
        out.append((ac, 1 - ac - aw, aw))
    return np.mean(out, axis=0)


def fit_initial_logits(cfg: SimConfig, shares: dict) -> tuple[float, float, float]:
    """(init_logit_mean, init_logit_std, squared error) whose first-step shares best match ``shares``
    (all_correct, mixed, all_wrong); the pool is the study's, the batch its whole size (one step sees all)."""
    target = np.array([shares["all_correct"], shares["mixed"], shares["all_wrong"]])
    probe = replace(cfg, batch_size=cfg.num_prompts)
    best = (0.0, 1.0, np.inf)
    for mean in np.arange(-3.0, 4.01, 0.25):
        for std in np.arange(0.25, 4.01, 0.25):
            err = float(np.sum((_first_shares(replace(probe, init_logit_mean=mean, init_logit_std=std)) - target) ** 2))
            if err < best[2]:
                best = (float(mean), float(std), err)
    return best


def _with_base(cfg: SimConfig, base: float) -> SimConfig:
    erpo = {**cfg.erpo, "temperature": {**cfg.erpo["temperature"], "base": base}}
    return replace(cfg, erpo=erpo)


def simulate_study(
    config: dict,
    steps: int,
    start_shares: dict,
    num_prompts: int,
    seeds=(1, 2, 3),
    hot_temperature: float | None = None,
) -> dict:
    """Per measured variant: the simulator's outcomes, mean over ``seeds``, for the study's settings
    (``num_prompts`` train prompts; ``start_shares`` of those prompts at the base temperature); grpo_hot at
    ``hot_temperature`` (skipped without it)."""
    erpo = config["erpo"]
    temperature = {k: erpo["temperature"][k] for k in ("base", "t_max", "schedule", "on_mixed")}
    if erpo["temperature"].get("step") is not None:
        temperature["step"] = erpo["temperature"]["step"]
    cfg = SimConfig(
        num_prompts=num_prompts,
        steps=steps,
        batch_size=int(config["data"]["train_batch_size"]),
        n=int(config["actor_rollout_ref"]["rollout"]["n"]),
        # a history above any simulated prompt's visits (DAPO refills), for revival over whole runs
        erpo={"history_length": max(int(erpo["history_length"]), 1024), "temperature": temperature},
    )
    mean, std, err = fit_initial_logits(cfg, start_shares)
    cfg = replace(cfg, init_logit_mean=mean, init_logit_std=std)
    out = {
        "fit": {"init_logit_mean": mean, "init_logit_std": std, "squared_error": err},
        "settings": {
            "num_prompts": cfg.num_prompts,
            "batch_size": cfg.batch_size,
            "n": cfg.n,
            "steps": steps,
            "slope": cfg.slope,
            "lr": cfg.lr,
            "transfer": cfg.transfer,
            "hot_temperature": hot_temperature,
        },
        "variants": {},
    }
    for measured, (variant, base) in SIM_VARIANTS.items():
        if base == "hot" and hot_temperature is None:
            continue
        run_cfg = _with_base(cfg, hot_temperature) if base == "hot" else cfg
        rows = []
        for seed in seeds:
            series, controller = simulate(variant, replace(run_cfg, seed=seed), return_controller=True)
            summary = summarise(series)
            rev = revival(controller.tracker)
            ac, aw = float(np.mean(series["frac_all_correct"])), float(np.mean(series["frac_all_wrong"]))
            rows.append(
                {
                    "frac_all_correct": ac,
                    "frac_mixed": 1 - ac - aw,
                    "frac_all_wrong": aw,
                    "effective_prompts_per_step": summary["effective_prompts_per_step"],
                    "rollouts_per_effective_prompt": summary["rollouts_per_effective_prompt"],
                    "mean_temperature": summary["mean_temperature"],
                    "revived_within_1": rev["revived_within_1"],
                    "revived_within_2": rev["revived_within_2"],
                }
            )
        out["variants"][measured] = {
            k: float(np.mean([r[k] for r in rows if r[k] is not None])) if any(r[k] is not None for r in rows) else None
            for k in rows[0]
        }
    return out


def comparison_table(measured: dict, simulated: dict) -> str:
    """Markdown: per measured variant and outcome, measured (pooled [95 % CI]) beside simulated."""
    header = ["variant"] + [f"{LABELS[k]}: measured [CI] / sim" for k in KEYS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant, stats in measured.items():
        sim = simulated["variants"].get(variant, {})
        cells = [variant]
        for key in KEYS:
            m, s = stats.get(key), sim.get(key)
            got = f"{m['rate']:.2f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}]" if m and m.get("rate") is not None else "-"
            cells.append(f"{got} / {s:.2f}" if s is not None else f"{got} / -")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
