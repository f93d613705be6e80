"""GRESO beside ERPO's controller in the simulator, composed as the verl trainer composes the two
(recipe/greso/component.py beside recipe/erpo/component.py; the sharing rules of erpo/components.py):

- GRESO reads the tracker's zero-variance streaks only through the ``prompt_history`` view it is handed
  (``ERPOController.history()``), never the controller;
- under ``greso.group_rule=mean_score`` it publishes its rule as ``outcome_rule``; the world passes that rule's
  codes to ``ERPOController.update(outcome=...)``, so the tracker records the outcomes GRESO counts;
- it classifies and counts each rolled-out group itself (``observe``), adapts once per step (``end_step``)
  and keeps its own state (``state_dict``; in training, ``greso_state.json``).

The simulator calls its own hooks rather than the protocol's ``choose`` / ``observe(groups, ctx)``: the tracker
is updated after every rollout round (the erpo/ metrics it logs are the first round's) and candidates GRESO
did not need go back to the loader, where the next draw examines them again (erpo/sim/variants.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY
from erpo.erpo.tracker import classify
from erpo.errors import ConfigError
from erpo.greso import GRESOConfig, GRESOSelector, Selection


class SimGRESO:
    name = "greso"
    # Shared pieces read (a publisher must be composed beside it).
    needs = (PROMPT_HISTORY,)

    def __init__(self, cfg: GRESOConfig, shared: Mapping[str, Any]):
        missing = [name for name in self.needs if name not in shared]
        if missing:
            raise ConfigError(
                f"GRESO needs {missing} and nothing composed beside it publishes it; pass "
                f"{{{PROMPT_HISTORY!r}: controller.history()}} from an erpo.erpo.controller.ERPOController."
            )
        self.cfg = cfg
        self.selector = GRESOSelector(cfg)
        self.history = shared[PROMPT_HISTORY]

    def publishes(self) -> dict[str, Any]:
        """``outcome_rule`` (mean scores -> Outcome codes) when GRESO's group rule is not the tracker's acc."""
        return {OUTCOME_RULE: self.cfg.outcomes_by_mean} if self.cfg.group_rule == "mean_score" else {}

    def rollout_batch(self, train_batch: int) -> int:
        """Prompts one full sampling round rolls out: ceil(sampling_batch_multiplier x train_batch)."""
        return self.selector.rollout_batch(train_batch)

    def select(self, sources: Sequence[str], indices, k: int, rng: np.random.Generator) -> Selection:
        """Which of these candidates to roll out (at most ``k``), on their streaks in the shared history."""
        streak, kind = self.history.zero_variance_streaks(sources, indices)
        return self.selector.select(streak, kind, k, rng)

    def observe(self, n_correct, n, mean_score) -> None:
        """Count the rolled-out groups' outcomes by GRESO's group rule toward this step's zero-variance shares."""
        if self.cfg.group_rule == "mean_score":
            outcome = self.cfg.outcomes_by_mean(mean_score)
        else:
            outcome = classify(n_correct, n)
        self.selector.observe(outcome)

    def end_step(self, epoch: int) -> dict[str, float]:
        """Adapt p_easy / p_hard from this step's groups; the step's ``greso/`` metrics."""
        return self.selector.end_step(epoch)

    def state_dict(self) -> dict:
        return self.selector.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.selector.load_state_dict(state)
