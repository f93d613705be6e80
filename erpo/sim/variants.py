"""How each simulated variant fills one training step of ``batch_size`` prompts (B).

- grpo / erpo: roll out the next B prompts once.
- dapo / erpo_dapo (dynamic sampling): then replace each zero-variance group by a fresh prompt, for up to
  ``dapo_max_rounds`` more rounds, each draw costing n rollouts.
- prepo: draw ``prepo.candidate_multiplier`` x B candidates, rank them by a perplexity proxy and roll
  out the B in the pacing window (erpo.prepo.window); scoring costs no rollouts.
- greso / erpo_greso: GRESO's loop (Infini-AI-Lab/GRESO@b277843, ray_trainer.py lines 988-1235): draw
  candidates and skip with GRESO's ``select`` (erpo.sim.greso, on the tracker's shared streaks) until
  ceil(sampling_batch_multiplier x B) are kept, roll them out, train on up to B of the mixed groups; while
  fewer than B, another round of min(S, ceil(remaining x 1.25 / (1 - zero-variance share of the last round)))
  kept prompts (at least B/4), the last one once that estimate fits in S, at most ``dapo_max_rounds`` more.
  Then GRESO's end_step.
erpo_* variants use ERPO's temperatures (assign/update), the others the base temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from erpo.prepo.pacing import schedule_progress
from erpo.prepo.window import select_window
from erpo.sim.world import SOURCE, World


@dataclass
class StepResult:
    trained: int = 0  # informative groups trained on (<= B)
    rollouts: int = 0
    candidates: int = 0  # prompts drawn from the loader
    first: dict = field(default_factory=dict)  # erpo/ metrics of the step's first rollout round
    greso: dict = field(default_factory=dict)  # greso/ metrics (GRESO variants)


def plain(world: World, step: int, dynamic: bool) -> StepResult:
    cfg, out = world.cfg, StepResult()
    prompts = world.loader.draw(cfg.batch_size)
    for round_ in range(cfg.dapo_max_rounds + 1 if dynamic else 1):
        out.candidates += len(prompts)
        mixed, metrics = world.rollout(step, prompts)
        out.first = out.first or metrics
        out.rollouts += cfg.n * len(prompts)
        out.trained += int(mixed.sum())
        world.train_on(prompts[mixed])
        if not dynamic or mixed.all() or round_ == cfg.dapo_max_rounds:
            break
        prompts = world.loader.draw(int((~mixed).sum()))
    return out


def prepo(world: World, step: int, total_steps: int) -> StepResult:
    """PREPO's selection; the perplexity proxy is the model's assumption (docs/simulator.md)."""
    cfg, pcfg = world.cfg, world.prepo
    candidates = world.loader.draw(pcfg.candidate_multiplier * cfg.batch_size)
    perplexity = -world.logits[candidates] + world.ppl_noise[candidates]
    progress = schedule_progress(step + 1, pcfg.total_steps or total_steps)
    chosen, _ = select_window(perplexity, cfg.batch_size, progress, pcfg.pacing)
    prompts = candidates[np.sort(chosen)]
    mixed, metrics = world.rollout(step, prompts)
    world.train_on(prompts[mixed])
    return StepResult(int(mixed.sum()), cfg.n * len(prompts), len(candidates), metrics)


def greso(world: World, step: int) -> StepResult:
    cfg, greso, out = world.cfg, world.greso, StepResult()
    full_round = greso.rollout_batch(cfg.batch_size)
    size, smallest, last = full_round, math.ceil(cfg.batch_size / 4), False
    for _ in range(cfg.dapo_max_rounds + 1):
        prompts = _kept_candidates(world, size, out)
        if not len(prompts):
            break  # every candidate of a whole pool was skipped
        mixed, metrics = world.rollout(step, prompts)
        out.first = out.first or metrics
        out.rollouts += cfg.n * len(prompts)
        used = prompts[mixed][: cfg.batch_size - out.trained]  # surplus mixed groups are dropped, not trained on
        world.train_on(used)
        out.trained += len(used)
        remaining = cfg.batch_size - out.trained
        if remaining == 0 or last:
            break  # after GRESO's `last_sampling` round it trains on what there is
        informative = max(float(mixed.mean()), 1.0 / len(prompts))
        estimate = math.ceil(remaining * 1.25 / informative)
        last = estimate <= full_round
        size = max(min(estimate, full_round), smallest)
    out.greso = greso.end_step(world.loader.epoch)
    return out


def _kept_candidates(world: World, wanted: int, out: StepResult) -> np.ndarray:
    """Draw candidates and let GRESO skip until ``wanted`` are kept (at most one pool's worth examined).

    Each draw is sized by the last draw's keep rate, so a high skip rate costs a few draws, not hundreds;
    kept candidates beyond ``wanted`` go back to the loader and are not counted as examined.
    """
    kept, examined, keep_rate = [], 0, 1.0
    while wanted > 0 and examined < world.cfg.num_prompts:
        size = min(math.ceil(wanted / keep_rate), world.cfg.num_prompts - examined)
        candidates = world.loader.draw_up_to(size)
        selection = world.greso.select([SOURCE] * len(candidates), candidates, wanted, world.select_rng)
        kept.append(candidates[selection.kept])
        world.loader.give_back(candidates[selection.unused])
        keep_rate = max((len(selection.kept) + len(selection.unused)) / len(candidates), 0.01)
        wanted -= len(selection.kept)
        examined += len(candidates) - len(selection.unused)
    out.candidates += examined
    return np.concatenate(kept) if kept else np.zeros(0, np.int64)
