"""The toy world the simulator's variants act in: prompts with a solve logit, a data loader, rollouts.

- prompt i is solved at temperature T with probability p_i(T) = sigmoid(a_i - slope * (T - 1)),
  a_i = skill - difficulty, initially Normal(init_logit_mean, init_logit_std); a group of n responses
  is Binomial(n, p_i(T));
- training on an informative (mixed) group raises a_i by ``lr``; every prompt gains
  ``transfer * lr * (informative groups trained on / batch size)`` per step (generalisation);
- the loader serves epochs of shuffled prompts; a draw that does not fit in what is left of the epoch
  starts the next epoch (the rest of the old one is dropped, like a dataloader with drop_last). GRESO's
  candidate draws instead take what is left (``draw_up_to``) and hand back candidates they did not
  need (``give_back``), which the next draws serve first.
"""

from __future__ import annotations

import numpy as np

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY
from erpo.erpo.controller import ERPOController
from erpo.prepo.config import PREPOConfig
from erpo.sim.greso import SimGRESO

SOURCE = "sim"


def solve_prob(logit: np.ndarray, temperature: np.ndarray, slope: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(logit - slope * (temperature - 1.0))))


class Loader:
    """Epochs of shuffled prompt indices; ``epoch`` counts from 0."""

    def __init__(self, num_prompts: int, rng: np.random.Generator):
        self.rng, self.num_prompts = rng, num_prompts
        self.order, self.cursor, self.epoch = rng.permutation(num_prompts), 0, 0
        self.returned = np.zeros(0, np.int64)

    def draw(self, k: int) -> np.ndarray:
        """The next k prompts of this epoch, or of a new one if fewer are left."""
        if k > self.num_prompts:
            raise ValueError(f"cannot draw {k} prompts from a pool of {self.num_prompts}; raise num_prompts")
        if self.cursor + k > len(self.order):
            self._next_epoch()
        self.cursor += k
        return self.order[self.cursor - k : self.cursor]

    def draw_up_to(self, k: int) -> np.ndarray:
        """Handed-back prompts first, then up to k of what is left of the epoch (a new one when none is)."""
        if len(self.returned):
            out, self.returned = self.returned[:k], self.returned[k:]
            return out
        if self.cursor == len(self.order):
            self._next_epoch()
        return self.draw(min(k, len(self.order) - self.cursor))

    def give_back(self, prompts: np.ndarray) -> None:
        self.returned = np.concatenate([prompts, self.returned])

    def _next_epoch(self) -> None:
        self.order, self.cursor, self.epoch = self.rng.permutation(self.num_prompts), 0, self.epoch + 1


class World:
    """Prompt logits, the loader, ERPO's controller and GRESO beside it (or None), and one rollout + training
    call. ``shared``: the pieces the two publish by name (erpo/components.py), the only way either reads the
    other's data (None: the controller's ``prompt_history`` and what GRESO publishes)."""

    def __init__(self, cfg, controller: ERPOController, greso: SimGRESO | None = None, shared=None):
        self.cfg, self.controller, self.greso = cfg, controller, greso
        if shared is None:
            shared = {PROMPT_HISTORY: controller.history(), **(greso.publishes() if greso is not None else {})}
        self.shared = dict(shared)
        self.rng = np.random.default_rng(cfg.seed)
        self.logits = self.rng.normal(cfg.init_logit_mean, cfg.init_logit_std, cfg.num_prompts)
        self.loader = Loader(cfg.num_prompts, self.rng)
        self.sources = np.full(cfg.num_prompts, SOURCE, dtype=object)
        # Own streams, so the variants that use them leave the others' draws unchanged.
        self.select_rng = np.random.default_rng([cfg.seed, 1])
        self.ppl_noise = np.random.default_rng([cfg.seed, 2]).normal(0.0, cfg.prepo_ppl_noise, cfg.num_prompts)
        self.prepo = PREPOConfig.from_dict({**cfg.prepo, "enabled": True}, "prepo")

    def rollout(self, step: int, prompts: np.ndarray) -> tuple[np.ndarray, dict]:
        """Sample a group per prompt at its assigned temperature and record it (every group drawn is a
        visit, as in the verl recipe): the tracker by the published ``outcome_rule`` when there is one (GRESO's
        mean-score rule), else by acc, and GRESO counts it; returns (mixed mask, the update's erpo/ metrics)."""
        cfg, controller = self.cfg, self.controller
        temps = controller.assign(self.sources[prompts], prompts).astype(np.float64)
        correct = self.rng.binomial(cfg.n, solve_prob(self.logits[prompts], temps, cfg.slope))
        n, mean_score = np.full(len(prompts), cfg.n), correct / cfg.n
        rule = self.shared.get(OUTCOME_RULE)
        outcome = None if rule is None else rule(mean_score)
        metrics = controller.update(
            step, self.sources[prompts], prompts, n, correct, mean_score, temps, outcome=outcome
        )
        if self.greso is not None:
            self.greso.observe(correct, n, mean_score)
        return (correct > 0) & (correct < cfg.n), metrics

    def train_on(self, prompts: np.ndarray) -> None:
        """GRPO learning from the informative groups of these prompts."""
        self.logits[prompts] += self.cfg.lr

    def generalise(self, trained: int) -> None:
        self.logits += self.cfg.transfer * self.cfg.lr * trained / self.cfg.batch_size

    def mean_solve_prob(self) -> float:
        return float(solve_prob(self.logits, np.ones_like(self.logits), self.cfg.slope).mean())
