"""Per-prompt temperature policy: how a prompt's temperature moves after each visit.

All functions are vectorised over prompts (numpy arrays), so a batch of thousands of groups
costs microseconds. Schedules live in a registry: ``@register_schedule("name")`` adds one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from erpo.config_builder import require
from erpo.erpo.tracker import Outcome

ScheduleFn = Callable[[np.ndarray, np.ndarray, "TemperatureConfig"], np.ndarray]
SCHEDULES: dict[str, ScheduleFn] = {}
ON_MIXED = ("reset", "hold", "decay")
ALL_WRONG = ("off", "lower", "raise")


def register_schedule(name: str) -> Callable[[ScheduleFn], ScheduleFn]:
    """Register ``fn(current, streak, cfg) -> raised temperatures`` (capped at t_max afterwards)."""

    def decorator(fn: ScheduleFn) -> ScheduleFn:
        SCHEDULES[name] = fn
        return fn

    return decorator


@register_schedule("constant")
def _constant(current, streak, cfg):
    high = cfg.t_max if cfg.high is None else cfg.high
    return np.full_like(current, high)


@register_schedule("additive")
def _additive(current, streak, cfg):
    return current + cfg.step


@register_schedule("multiplicative")
def _multiplicative(current, streak, cfg):
    return current * cfg.factor


@register_schedule("table")
def _table(current, streak, cfg):
    table = np.asarray(cfg.table, dtype=current.dtype)
    return table[np.clip(streak, 1, len(table)) - 1]


@dataclass(frozen=True)
class TemperatureConfig:
    base: float = 1.0
    t_max: float = 1.4
    schedule: str = "additive"
    step: float = 0.1
    factor: float = 1.1
    high: float | None = None
    table: tuple[float, ...] = ()
    on_mixed: str = "hold"
    decay: float = 0.5
    all_wrong: str = "off"
    all_wrong_step: float = 0.1
    t_min: float = 0.5

    def validate(self, prefix: str = "erpo.temperature") -> TemperatureConfig:
        def check(condition: bool, name: str, why: str) -> None:
            require(condition, prefix, name, getattr(self, name), why)

        for name in ("base", "t_max", "t_min"):
            check(getattr(self, name) > 0, name, "must be > 0 (a temperature).")
        check(self.t_max >= self.base, "t_max", f"must be >= {prefix}.base={self.base}; raise t_max or lower base.")
        check(
            self.schedule in SCHEDULES,
            "schedule",
            f"is not a known schedule; choose one of {sorted(SCHEDULES)} or register one.",
        )
        check(self.on_mixed in ON_MIXED, "on_mixed", f"must be one of {ON_MIXED}.")
        check(self.all_wrong in ALL_WRONG, "all_wrong", f"must be one of {ALL_WRONG}.")
        check(0.0 <= self.decay <= 1.0, "decay", "must be in [0, 1].")
        if self.schedule == "additive":
            check(self.step > 0, "step", "must be > 0 for the additive schedule.")
        if self.schedule == "multiplicative":
            check(self.factor > 1, "factor", "must be > 1 for the multiplicative schedule.")
        if self.schedule == "constant" and self.high is not None:
            check(0 < self.high <= self.t_max, "high", f"must be in (0, t_max={self.t_max}] or null.")
        if self.schedule == "table":
            check(len(self.table) > 0, "table", "must list at least one temperature for the table schedule.")
            check(all(0 < t <= self.t_max for t in self.table), "table", f"entries must be in (0, t_max={self.t_max}].")
        if self.all_wrong == "lower":
            check(self.t_min <= self.base, "t_min", f"must be <= {prefix}.base={self.base} for all_wrong=lower.")
        if self.all_wrong != "off":
            check(self.all_wrong_step > 0, "all_wrong_step", "must be > 0.")
        return self


class TemperaturePolicy:
    """Next temperature of each prompt from its current one and this visit's outcome."""

    def __init__(self, cfg: TemperatureConfig):
        self.cfg = cfg.validate()

    def next_temperature(self, current: np.ndarray, outcome: np.ndarray, streak: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        current = np.asarray(current, dtype=np.float64)
        outcome = np.asarray(outcome)
        nxt = current.copy()

        correct = outcome == Outcome.ALL_CORRECT
        if correct.any():
            nxt[correct] = SCHEDULES[cfg.schedule](current[correct], np.asarray(streak)[correct], cfg)

        mixed = outcome == Outcome.MIXED
        if cfg.on_mixed == "reset":
            nxt[mixed] = cfg.base
        elif cfg.on_mixed == "decay":
            nxt[mixed] = cfg.base + cfg.decay * (current[mixed] - cfg.base)

        wrong = outcome == Outcome.ALL_WRONG
        if cfg.all_wrong == "lower":
            nxt[wrong] = current[wrong] - cfg.all_wrong_step
        elif cfg.all_wrong == "raise":
            nxt[wrong] = current[wrong] + cfg.all_wrong_step

        # Only the opt-in `lower` rule may go below the schedule values; otherwise stay positive.
        floor = cfg.t_min if cfg.all_wrong == "lower" else 1e-3
        return np.clip(nxt, floor, cfg.t_max)
