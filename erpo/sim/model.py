"""A toy model of RLVR data dynamics, driving the real ERPO controller.

Assumptions (all configurable, all simplifications):
- prompt i is solved at temperature T with probability p_i(T) = sigmoid(a_i - slope * (T - 1)),
  a_i = skill_i - difficulty_i; a group of n responses is Binomial(n, p_i(T));
- GRPO learning raises a_i by ``lr`` after each informative (mixed) group of prompt i, and every
  prompt by ``transfer * lr * (informative fraction)`` per step (generalisation);
- DAPO dynamic sampling replaces each zero-variance group by a fresh prompt, up to
  ``dapo_max_rounds`` rounds, paying n rollouts per draw;
- a prompt's temperature comes from ERPOController.assign and is updated from every group drawn,
  exactly as the verl recipe does (DAPO-evicted groups included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from erpo.config import ERPOConfig
from erpo.controller import ERPOController

VARIANTS = ("grpo", "dapo", "erpo", "erpo_dapo")


@dataclass
class SimConfig:
    # Prompts in the training pool.
    num_prompts: int = 10_000
    # Training steps.
    steps: int = 200
    # Prompts per step (train_batch_size).
    batch_size: int = 512
    # Responses per prompt (rollout.n).
    n: int = 8
    # Mean of the initial logit a_i = skill - difficulty (> 0: most prompts solved often).
    init_logit_mean: float = 1.5
    # Spread of the initial logits across prompts.
    init_logit_std: float = 2.0
    # How fast solve probability falls with temperature (per unit of T).
    slope: float = 3.0
    # Logit gain of a prompt per informative group.
    lr: float = 0.3
    # Fraction of the per-prompt gain that reaches every prompt (per informative fraction).
    transfer: float = 0.05
    # Max redraw rounds for DAPO's dynamic sampling.
    dapo_max_rounds: int = 3
    # Seed of prompt difficulties, batches and binomial draws.
    seed: int = 0
    # ERPO controller settings (the `erpo` node of the training config).
    erpo: dict = field(default_factory=dict)


def _solve_prob(logit: np.ndarray, temperature: np.ndarray, slope: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(logit - slope * (temperature - 1.0))))


def simulate(variant: str, cfg: SimConfig, return_controller: bool = False):
    """Per-step series for one variant (and its controller, whose tracker holds every prompt's visits)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: choose one of {VARIANTS}")
    rng = np.random.default_rng(cfg.seed)
    logits = rng.normal(cfg.init_logit_mean, cfg.init_logit_std, cfg.num_prompts)
    erpo_cfg = ERPOConfig.from_dict({**cfg.erpo, "enabled": variant.startswith("erpo")})
    controller = ERPOController(erpo_cfg)
    sources = np.full(cfg.num_prompts, "sim", dtype=object)
    dapo = variant.endswith("dapo")
    order, cursor = rng.permutation(cfg.num_prompts), 0

    def next_prompts(k: int) -> np.ndarray:
        nonlocal order, cursor
        if cursor + k > len(order):
            order, cursor = rng.permutation(cfg.num_prompts), 0
        cursor += k
        return order[cursor - k:cursor]

    series: dict[str, list[float]] = {k: [] for k in (
        "effective_prompts", "rollouts", "rollouts_per_effective", "frac_all_correct", "frac_all_wrong",
        "temperature_mean", "temperature_max", "revived_frac", "mean_solve_prob")}
    total_rollouts = 0
    for step in range(cfg.steps):
        prompts = next_prompts(cfg.batch_size)
        effective, rollouts, recorded = 0, 0, []
        for round_ in range(cfg.dapo_max_rounds + 1 if dapo else 1):
            temps = controller.assign(sources[prompts], prompts).astype(np.float64)
            correct = rng.binomial(cfg.n, _solve_prob(logits[prompts], temps, cfg.slope))
            rollouts += cfg.n * len(prompts)
            metrics = controller.update(step, sources[prompts], prompts, np.full(len(prompts), cfg.n), correct,
                                        correct / cfg.n, temps)
            recorded.append(metrics)
            mixed = (correct > 0) & (correct < cfg.n)
            effective += int(mixed.sum())
            logits[prompts[mixed]] += cfg.lr
            if not dapo or mixed.all() or round_ == cfg.dapo_max_rounds:
                break
            prompts = next_prompts(int((~mixed).sum()))  # DAPO: replace zero-variance groups
        logits += cfg.transfer * cfg.lr * effective / cfg.batch_size
        total_rollouts += rollouts
        first = recorded[0]
        series["effective_prompts"].append(float(min(effective, cfg.batch_size)))
        series["rollouts"].append(float(rollouts))
        series["rollouts_per_effective"].append(rollouts / max(effective, 1))
        series["frac_all_correct"].append(first["erpo/frac_all_correct"])
        series["frac_all_wrong"].append(first["erpo/frac_all_wrong"])
        series["temperature_mean"].append(first["erpo/temperature_mean"])
        series["temperature_max"].append(first["erpo/temperature_max"])
        series["revived_frac"].append(first["erpo/revived_frac"])
        series["mean_solve_prob"].append(float(_solve_prob(logits, np.ones_like(logits), cfg.slope).mean()))
    return (series, controller) if return_controller else series


def summarise(series: dict[str, list[float]]) -> dict[str, float]:
    eff = np.asarray(series["effective_prompts"])
    return {
        "effective_prompts_per_step": float(eff.mean()),
        "total_rollouts": float(np.sum(series["rollouts"])),
        "rollouts_per_effective_prompt": float(np.sum(series["rollouts"]) / max(eff.sum(), 1)),
        "final_frac_all_correct": float(np.mean(series["frac_all_correct"][-10:])),
        "mean_temperature": float(np.mean(series["temperature_mean"])),
        "mean_revived_frac": float(np.mean(series["revived_frac"])),
    }


def run_variants(cfg: SimConfig, variants=VARIANTS) -> dict:
    """Every variant on the same prompt pool and seed."""
    return {"config": asdict(cfg),
            "variants": {v: {"series": (s := simulate(v, cfg)), "summary": summarise(s)} for v in variants}}
