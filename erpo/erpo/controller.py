"""ERPO controller: the tracker and the temperature policy, behind the calls a trainer makes each step.

``assign`` before rollout (each prompt's temperature); ``update`` after scoring (record every group, move
temperatures; returns the ``erpo/`` metrics); ``history`` the tracker's read-only per-prompt view
(``prompt_history`` in erpo/components.py). ERPO has no per-step work of its own beyond these.
Framework-free: the verl recipe, the simulator and users' loops call the same object. Every call checks its
arguments first (erpo.inputs), so a refused call changes nothing.

GRESO is composed beside the controller, not inside it (as the verl trainer does, recipe/greso/component.py):
a :class:`erpo.greso.GRESOSelector` reads the streaks from ``controller.history().zero_variance_streaks``,
observes the groups' outcomes, and has its own ``end_step`` and state; under GRESO's mean-score rule the
caller passes the outcomes to ``update(outcome=...)`` (erpo/sim/greso.py shows the whole composition).
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
from erpo.errors import InputError

logger = logging.getLogger(__name__)

# Why ERPOController(cfg, greso=...) is refused, and what replaces it.
GRESO_MOVED = (
    "ERPOController no longer takes greso=: GRESO runs beside the controller, not inside it. Build "
    "erpo.greso.GRESOSelector(greso_cfg) (erpo/greso/selector.py) and feed it the streaks from "
    "controller.history().zero_variance_streaks(sources, indices); it observes the groups' outcomes and has its "
    "own end_step and state_dict (erpo/sim/greso.py composes the two; docs/greso.md)."
)


class TrackerHistory:
    """Read-only view of a controller's tracker (follows a tracker replaced by ``load_state_dict``)."""

    def __init__(self, controller: ERPOController):
        self._controller = controller

    def zero_variance_streaks(self, sources: Sequence[str], indices) -> tuple[np.ndarray, np.ndarray]:
        return self._controller.tracker.zero_variance_streaks(sources, indices)

    def temperatures(self, sources: Sequence[str], indices) -> np.ndarray:
        return self._controller.tracker.temperatures(sources, indices)


class ERPOController:
    def __init__(self, cfg: ERPOConfig, greso=None):
        """``greso``: a GRESO config that turns GRESO on is refused (TypeError naming the replacement); None or a
        disabled one (what callers passed when GRESO was composed here and off) asks for nothing."""
        if greso is not None and getattr(greso, "enabled", True):
            raise TypeError(GRESO_MOVED)
        self.cfg = cfg.validate()
        self.policy = TemperaturePolicy(cfg.temperature)
        self.tracker = PromptTracker(history_length=cfg.history_length, base_temperature=cfg.temperature.base)

    def assign(self, sources: Sequence[str], indices) -> np.ndarray:
        """Sampling temperature of each prompt for its next rollout (the base when ERPO is off)."""
        temperatures = self.tracker.temperatures(sources, indices)
        if not self.cfg.enabled:
            return np.full(len(temperatures), self.cfg.temperature.base, dtype=np.float32)
        return temperatures

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
        rule, passed by whoever composes GRESO beside this controller); None: from n_correct / n.
        """
        move = self.policy.next_temperature if self.cfg.enabled else None
        result = self.tracker.record(
            step, sources, indices, n, n_correct, mean_reward, temperature_used, move_temperature=move, outcome=outcome
        )
        # record() accepted temperature_used, so it reads as finite floats
        return visit_metrics(
            result, np.asarray(temperature_used, dtype=np.float64), len(self.tracker), self.cfg.temperature.base
        )

    def end_step(self, epoch: int) -> dict[str, float]:
        """Close a training step: ERPO has no per-step work ({}); a loop closes every piece's step alike."""
        return {}

    # ---- persistence -------------------------------------------------------------------
    def fingerprint(self) -> str:
        blob = json.dumps(asdict(self.cfg.temperature), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def state_dict(self) -> dict:
        """The tracker: the side file ``erpo_state.json`` of a checkpoint. Its ``greso`` entry is always None (GRESO
        keeps its own state, ``greso_state.json``); it stays so that every erpo_state.json has one shape."""
        return {
            "tracker": self.tracker.state_dict(),
            "temperature_fingerprint": self.fingerprint(),
            "enabled": self.cfg.enabled,
            "greso": None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()``; everything is checked before anything changes.

        A state of another history length or base temperature is refused (ConfigError). A ``greso`` entry
        (a checkpoint written when GRESO's state lived in this file) is not read here: GRESO's own component
        restores it (recipe/greso/component.py, ``legacy_state``).
        """
        if not isinstance(state, dict) or "tracker" not in state:
            raise InputError("ERPO controller state must be a dict with a 'tracker' entry (from state_dict())")
        tracker = PromptTracker(self.tracker.history_length, self.tracker.base_temperature)
        tracker.load_state_dict(state["tracker"])
        if state.get("temperature_fingerprint") != self.fingerprint():
            logger.warning(
                "ERPO temperature config changed since the checkpoint; tracked temperatures are kept "
                "and move under the new config from each prompt's next visit."
            )
        self.tracker = tracker
