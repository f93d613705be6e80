"""A toy model of RLVR data dynamics, driving the real ERPO controller (and GRESO's selector beside it).

The world (erpo.sim.world) and the variants' sampling (erpo.sim.variants) state their assumptions;
docs/simulator.md collects them. Every variant runs on the same prompt pool and seed, either for
``steps`` steps or, with ``rollout_budget``, until that many rollouts are spent (the step in progress
finishes), so variants that re-draw compare at one budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from erpo.components import PROMPT_HISTORY
from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.errors import ConfigError
from erpo.greso import GRESOConfig
from erpo.greso.config import refuse_mean_score_with_erpo
from erpo.sim import variants as sampling
from erpo.sim.greso import SimGRESO
from erpo.sim.world import World

VARIANTS = ("grpo", "dapo", "erpo", "erpo_dapo", "prepo", "greso", "erpo_greso")
SERIES = (
    "effective_prompts",
    "rollouts",
    "rollouts_per_effective",
    "candidates",
    "frac_all_correct",
    "frac_all_wrong",
    "temperature_mean",
    "temperature_max",
    "revived_frac",
    "mean_solve_prob",
)
GRESO_SERIES = ("skipped", "p_easy", "p_hard", "zero_variance_share")


@dataclass
class SimConfig:
    # Prompts in the training pool.
    num_prompts: int = 10_000
    # Training steps (ignored when rollout_budget is set).
    steps: int = 200
    # Stop once this many rollouts are spent (the step in progress finishes); None = run `steps` steps.
    rollout_budget: int | None = None
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
    # Logit gain of a prompt per informative group trained on.
    lr: float = 0.3
    # Fraction of the per-prompt gain that reaches every prompt (per informative fraction).
    transfer: float = 0.05
    # Max extra sampling rounds of DAPO's dynamic sampling (and of GRESO's refills).
    dapo_max_rounds: int = 3
    # Std of the fixed per-prompt noise added to -logit to make PREPO's perplexity proxy.
    prepo_ppl_noise: float = 0.5
    # Seed of prompt difficulties, batches and binomial draws.
    seed: int = 0
    # ERPO controller settings (the `erpo` node of the training config).
    erpo: dict = field(default_factory=dict)
    # GRESO settings (the `greso` node; `enabled` is set by the variant).
    greso: dict = field(default_factory=dict)
    # PREPO selection settings (the `prepo` node: candidate_multiplier, pacing, total_steps).
    prepo: dict = field(default_factory=dict)


def simulate(variant: str, cfg: SimConfig, return_controller: bool = False):
    """Per-step series for one variant (and its controller, whose tracker holds every prompt's visits)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: choose one of {VARIANTS}")
    if cfg.rollout_budget is not None and cfg.rollout_budget < 1:
        raise ValueError(f"rollout_budget={cfg.rollout_budget} must be >= 1 or None")
    world = World(cfg, *compose(variant, cfg))
    # PREPO's progress runs over the whole run: its steps, or the budget at B x n rollouts per step.
    total_steps = cfg.steps if cfg.rollout_budget is None else max(cfg.rollout_budget // (cfg.batch_size * cfg.n), 1)
    keys = SERIES + (GRESO_SERIES if variant.endswith("greso") else ())
    series: dict[str, list[float]] = {k: [] for k in keys}
    spent, step = 0, 0
    while (step < cfg.steps) if cfg.rollout_budget is None else (spent < cfg.rollout_budget):
        if variant.endswith("greso"):
            out = sampling.greso(world, step)
        elif variant == "prepo":
            out = sampling.prepo(world, step, total_steps)
        else:
            out = sampling.plain(world, step, dynamic=variant.endswith("dapo"))
        world.generalise(out.trained)
        spent += out.rollouts
        _append(series, out, world)
        step += 1
    return (series, world.controller) if return_controller else series


def compose(variant: str, cfg: SimConfig) -> tuple[ERPOController, SimGRESO | None, dict]:
    """ERPO's controller and, for the GRESO variants, GRESO beside it, as the verl trainer composes them: the
    controller publishes its tracker's ``prompt_history``, GRESO reads its streaks from there and may publish
    its ``outcome_rule``; returns (controller, GRESO or None, the shared pieces by name)."""
    erpo_cfg = ERPOConfig.from_dict({**cfg.erpo, "enabled": variant.startswith("erpo")})
    # Built for every variant, so that a bad `greso` node is refused whichever variants run.
    greso_cfg = GRESOConfig.from_dict({**cfg.greso, "enabled": variant.endswith("greso")})
    controller = ERPOController(erpo_cfg)
    shared = {PROMPT_HISTORY: controller.history()}
    if not greso_cfg.enabled:
        return controller, None, shared
    try:
        refuse_mean_score_with_erpo(greso_cfg, erpo_cfg.enabled)
    except ConfigError as err:
        raise ConfigError(f"variant={variant}: {err}") from err
    greso = SimGRESO(greso_cfg, shared)
    shared.update(greso.publishes())
    return controller, greso, shared


def _append(series: dict[str, list[float]], out: sampling.StepResult, world: World) -> None:
    first = {key.removeprefix("erpo/"): value for key, value in out.first.items()}
    values = {
        "effective_prompts": float(out.trained),
        "rollouts": float(out.rollouts),
        "rollouts_per_effective": out.rollouts / max(out.trained, 1),
        "candidates": float(out.candidates),
        "frac_all_correct": first.get("frac_all_correct", 0.0),
        "frac_all_wrong": first.get("frac_all_wrong", 0.0),
        "temperature_mean": first.get("temperature_mean", 1.0),
        "temperature_max": first.get("temperature_max", 1.0),
        "revived_frac": first.get("revived_frac", 0.0),
        "mean_solve_prob": world.mean_solve_prob(),
    }
    if out.greso:
        values.update(
            skipped=out.greso["greso/skipped"],
            p_easy=out.greso["greso/p_easy"],
            p_hard=out.greso["greso/p_hard"],
            zero_variance_share=out.greso["greso/zero_variance_share"],
        )
    for key in series:
        series[key].append(values[key])


def summarise(series: dict[str, list[float]]) -> dict[str, float]:
    eff = np.asarray(series["effective_prompts"])
    rollouts = float(np.sum(series["rollouts"]))
    out = {
        "steps": float(len(eff)),
        "effective_prompts_per_step": float(eff.mean()),
        "effective_prompts": float(eff.sum()),
        "total_rollouts": rollouts,
        "rollouts_per_effective_prompt": float(rollouts / max(eff.sum(), 1)),
        "total_candidates": float(np.sum(series["candidates"])),
        "final_frac_all_correct": float(np.mean(series["frac_all_correct"][-10:])),
        "mean_temperature": float(np.mean(series["temperature_mean"])),
        "mean_revived_frac": float(np.mean(series["revived_frac"])),
        "final_mean_solve_prob": float(series["mean_solve_prob"][-1]),
    }
    if "skipped" in series:
        out["skipped_share_of_candidates"] = float(np.sum(series["skipped"]) / max(out["total_candidates"], 1))
        out["final_p_easy"], out["final_p_hard"] = float(series["p_easy"][-1]), float(series["p_hard"][-1])
    return out


def run_variants(cfg: SimConfig, variants=VARIANTS) -> dict:
    """Every variant on the same prompt pool and seed."""
    return {
        "config": asdict(cfg),
        "variants": {v: {"series": (s := simulate(v, cfg)), "summary": summarise(s)} for v in variants},
    }
