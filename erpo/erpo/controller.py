"""ERPO controller: the tracker, the temperature policy and (optionally) GRESO's skip rule, behind the calls
a trainer makes each step.

``assign`` before rollout (each prompt's temperature); with GRESO on, ``select`` before rollout (which
candidates to roll out); ``update`` after scoring (record every group, move temperatures, count
GRESO's zero-variance shares; returns the ``erpo/`` metrics); ``end_step`` once per training step
(GRESO adapts its probabilities; returns the ``greso/`` metrics). Framework-free: the verl recipe, the
simulator and users' loops call the same object. Every call checks its arguments first
(erpo.inputs), so a refused call changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from erpo.erpo.config import ERPOConfig
from erpo.erpo.metrics import visit_metrics
from erpo.erpo.temperature import TemperaturePolicy
from erpo.erpo.tracker import PromptTracker
from erpo.errors import ConfigError, InputError
from erpo.greso import GRESOConfig, GRESOSelector, Selection

logger = logging.getLogger(__name__)


class TrackerHistory:
    """Read-only view of a controller's tracker (follows a tracker replaced by ``load_state_dict``)."""

    def __init__(self, controller: ERPOController):
        self._controller = controller

    def zero_variance_streaks(self, sources: Sequence[str], indices) -> tuple[np.ndarray, np.ndarray]:
        return self._controller.tracker.zero_variance_streaks(sources, indices)

    def temperatures(self, sources: Sequence[str], indices) -> np.ndarray:
        return self._controller.tracker.temperatures(sources, indices)


class ERPOController:
    def __init__(self, cfg: ERPOConfig, greso: GRESOConfig | None = None):
        self.cfg = cfg.validate()
        self.policy = TemperaturePolicy(cfg.temperature)
        self.tracker = PromptTracker(history_length=cfg.history_length, base_temperature=cfg.temperature.base)
        greso = (greso or GRESOConfig()).validate()
        if greso.enabled and greso.group_rule == "mean_score" and cfg.enabled:
            raise ConfigError(
                "greso.group_rule=mean_score with erpo.enabled=true: the tracker's outcomes would then come from "
                "mean scores, but ERPO's residual prompts are all-correct by acc (erpo/erpo/correctness.py). Use "
                "greso.group_rule=acc with ERPO, or erpo.enabled=false for GRESO's own rule."
            )
        self.greso = GRESOSelector(greso) if greso.enabled else None

    def assign(self, sources: Sequence[str], indices) -> np.ndarray:
        """Sampling temperature of each prompt for its next rollout (the base when ERPO is off)."""
        temperatures = self.tracker.temperatures(sources, indices)
        if not self.cfg.enabled:
            return np.full(len(temperatures), self.cfg.temperature.base, dtype=np.float32)
        return temperatures

    def select(self, sources: Sequence[str], indices, k: int, rng: np.random.Generator) -> Selection:
        """GRESO: which of these candidate prompts to roll out (at most ``k``); see GRESOSelector.select."""
        if self.greso is None:
            raise ConfigError("select() needs GRESO: set greso.enabled=true (or roll out every candidate).")
        streak, kind = self.tracker.zero_variance_streaks(sources, indices)
        return self.greso.select(streak, kind, k, rng)

    def history(self) -> TrackerHistory:
        """The tracker's read-only per-prompt view (``prompt_history`` in erpo/components.py)."""
        return TrackerHistory(self)

    def update(
        self, step: int, sources: Sequence[str], indices, n, n_correct, mean_reward, temperature_used, outcome=None
    ) -> dict[str, float]:
        """Record one visit per group and move each prompt's temperature from its stored one.

        A prompt that occurs twice is two visits in order: the second starts from the state the first
        left (its temperature, streak and previous outcome), whatever ``temperature_used`` says.
        ``outcome``: each group's Outcome code when another rule than acc decides it (GRESO's mean-score
        rule run as a component of its own); None: from n_correct / n, or this controller's GRESO rule.
        """
        move = self.policy.next_temperature if self.cfg.enabled else None
        if self.greso is not None and self.greso.cfg.group_rule == "mean_score":
            outcome = self.greso.cfg.outcomes_by_mean(mean_reward)
        result = self.tracker.record(
            step, sources, indices, n, n_correct, mean_reward, temperature_used, move_temperature=move, outcome=outcome
        )
        if self.greso is not None:
            self.greso.observe(result.outcome)
        # record() accepted temperature_used, so it reads as finite floats
        return visit_metrics(
            result, np.asarray(temperature_used, dtype=np.float64), len(self.tracker), self.cfg.temperature.base
        )

    def end_step(self, epoch: int) -> dict[str, float]:
        """Close a training step: GRESO adapts p_easy / p_hard ({} when GRESO is off)."""
        return self.greso.end_step(epoch) if self.greso is not None else {}

    # ---- persistence -------------------------------------------------------------------
    def fingerprint(self) -> str:
        blob = json.dumps(asdict(self.cfg.temperature), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def state_dict(self) -> dict:
        """Tracker + GRESO state: the one side file ``erpo_state.json`` of a checkpoint."""
        return {
            "tracker": self.tracker.state_dict(),
            "temperature_fingerprint": self.fingerprint(),
            "enabled": self.cfg.enabled,
            "greso": self.greso.state_dict() if self.greso is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()``; everything is checked before anything changes.

        A state of another history length or base temperature is refused (ConfigError). A GRESO state
        is restored when GRESO is on; a checkpoint without one starts GRESO from the config's
        probabilities (logged).
        """
        if not isinstance(state, dict) or "tracker" not in state:
            raise InputError("ERPO controller state must be a dict with a 'tracker' entry (from state_dict())")
        tracker = PromptTracker(self.tracker.history_length, self.tracker.base_temperature)
        tracker.load_state_dict(state["tracker"])
        greso = None
        if self.greso is not None:
            greso = GRESOSelector(self.greso.cfg)
            if state.get("greso") is None:
                logger.warning(
                    "The checkpoint holds no GRESO state; GRESO starts from greso.p_easy=%s, p_hard=%s.",
                    greso.p_easy,
                    greso.p_hard,
                )
            else:
                greso.load_state_dict(state["greso"])
        if state.get("temperature_fingerprint") != self.fingerprint():
            logger.warning(
                "ERPO temperature config changed since the checkpoint; tracked temperatures are kept "
                "and move under the new config from each prompt's next visit."
            )
        self.tracker = tracker
        if greso is not None:
            self.greso = greso
