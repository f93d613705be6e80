"""Per-prompt temperature policy: how a prompt's temperature moves after each visit.

All moves are vectorised over prompts (numpy arrays), so a batch of thousands of groups costs microseconds.

After an all-correct visit the chosen **schedule** raises the temperature (then capped at ``t_max``). A schedule
is one object that owns its parameters: ``params`` names the ``TemperatureConfig`` fields it reads,
``check(cfg, prefix)`` refuses bad values of them, ``raise_(current, streak, cfg)`` moves temperatures. Built-in
(``streak`` = consecutive all-correct visits, this one included):

- ``additive``:        T <- T + step                      (step > 0)
- ``multiplicative``:  T <- T * factor                    (factor > 1)
- ``constant``:        T <- high, or t_max if high is null (high in (0, t_max])
- ``table``:           T <- table[min(streak, len) - 1]    (at least one entry, each in (0, t_max])

A new schedule is a ``Schedule`` subclass under ``@register_schedule("name")`` (docs/erpo.md, "Adding a
temperature schedule"), or, without knobs of its own, a function ``fn(current, streak, cfg)`` under the same
decorator; ``TemperatureConfig.validate`` checks the fields every schedule shares and then asks the
chosen schedule to check its own, so adding one edits nothing here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from erpo.config_builder import require
from erpo.erpo.tracker import Outcome

ON_MIXED = ("reset", "hold", "decay")
ALL_WRONG = ("off", "lower", "raise")


class Schedule(ABC):
    """How an all-correct visit raises a prompt's temperature; subclass it and register it by name.

    - ``params``: every ``TemperatureConfig`` field ``raise_`` reads, its own knobs and any shared field it uses
      (``constant`` reads ``t_max`` when ``high`` is null). ``raise_`` is handed only these: reading another
      field is an error naming it, so the list cannot drift from the code.
    - ``check(cfg, prefix)``: refuse bad values of its knobs with ``erpo.config_builder.require``, which names the
      field (``<prefix>.<field>=<value> <why>``); ``why`` says the fix. It sees the whole config (bounds may
      relate a knob to ``t_max``) and runs, only when this schedule is chosen, after the shared fields were
      checked. A schedule without knobs of its own says so with an empty body.
    - ``raise_(current, streak, cfg)``: the raised temperatures of the all-correct prompts, from their current
      ones and their all-correct streaks (>= 1); the policy caps them at ``t_max`` afterwards.
    """

    params: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        """Raise ConfigError (through ``require``) naming the first bad knob."""

    @abstractmethod
    def raise_(self, current: np.ndarray, streak: np.ndarray, cfg: ScheduleParams) -> np.ndarray:
        """Raised temperatures (float64, same shape as ``current``)."""

    def __call__(self, current: np.ndarray, streak: np.ndarray, cfg) -> np.ndarray:
        """``SCHEDULES[name](current, streak, cfg)``: the raise itself, as when schedules were functions."""
        return self.raise_(current, streak, cfg)


class FunctionSchedule(Schedule):
    """A schedule given as a function ``fn(current, streak, cfg)``: it may read any field and checks none of its
    own (the shared fields are still checked); a schedule with knobs of its own is a ``Schedule`` subclass."""

    params = ()  # every field: set per instance below

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray, TemperatureConfig], np.ndarray]):
        self.fn = fn
        self.params = tuple(f.name for f in fields(TemperatureConfig))

    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        pass

    def raise_(self, current, streak, cfg):
        return self.fn(current, streak, cfg)


SCHEDULES: dict[str, Schedule] = {}


def register_schedule(name: str) -> Callable[[type[Schedule]], type[Schedule]]:
    """Class decorator: ``@register_schedule("name")`` over a ``Schedule`` subclass makes it
    ``erpo.temperature.schedule=name``. Its ``params`` must be ``TemperatureConfig`` fields."""

    def decorator(cls: type[Schedule]) -> type[Schedule]:
        if not isinstance(cls, type) and callable(cls):
            # The short form: a function fn(current, streak, cfg) with no knobs of its own to check.
            SCHEDULES[name] = FunctionSchedule(cls)
            return cls
        if not (isinstance(cls, type) and issubclass(cls, Schedule)):
            raise TypeError(
                f"register_schedule({name!r}) decorates a subclass of erpo.erpo.temperature.Schedule (or a "
                f"function fn(current, streak, cfg)), got {cls!r}: write a class with `params` (the config fields "
                "it reads), `check(cfg, prefix)` and `raise_(current, streak, cfg)` "
                "(docs/erpo.md, 'Adding a temperature schedule')."
            )
        known = {f.name for f in fields(TemperatureConfig)}
        params = cls.params
        if not isinstance(params, tuple) or not all(isinstance(p, str) and p in known for p in params):
            raise TypeError(
                f"schedule {name!r} ({cls.__name__}.params={params!r}): params must be a tuple of "
                f"TemperatureConfig field names, from {sorted(known)}; a new knob is a new field there."
            )
        SCHEDULES[name] = cls()
        return cls

    return decorator


class ScheduleParams:
    """The fields of a ``TemperatureConfig`` that one schedule declared in ``params``, read-only."""

    __slots__ = ("_cfg", "_name", "_params")

    def __init__(self, cfg: TemperatureConfig, name: str, params: tuple[str, ...]):
        self._cfg, self._name, self._params = cfg, name, params

    def __getattr__(self, field: str):
        # Private and dunder names are not fields: answer them plainly, so copy and pickle (which probe for
        # hooks before the slots are set) neither loop nor read the config.
        if field.startswith("_"):
            raise AttributeError(field)
        if field in self._params:
            return getattr(self._cfg, field)
        raise AttributeError(
            f"temperature schedule {self._name!r} read erpo.temperature.{field}, which is not in its params "
            f"{self._params}; add it to params (every field raise_ reads)."
        )


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
            f"is not a known schedule; choose one of {sorted(SCHEDULES)} or register one "
            "(docs/erpo.md, 'Adding a temperature schedule').",
        )
        check(self.on_mixed in ON_MIXED, "on_mixed", f"must be one of {ON_MIXED}.")
        check(self.all_wrong in ALL_WRONG, "all_wrong", f"must be one of {ALL_WRONG}.")
        check(0.0 <= self.decay <= 1.0, "decay", "must be in [0, 1].")
        SCHEDULES[self.schedule].check(self, prefix)
        if self.all_wrong == "lower":
            check(self.t_min <= self.base, "t_min", f"must be <= {prefix}.base={self.base} for all_wrong=lower.")
        if self.all_wrong != "off":
            check(self.all_wrong_step > 0, "all_wrong_step", "must be > 0.")
        return self


@register_schedule("constant")
class Constant(Schedule):
    """T <- high (t_max when high is null) on every all-correct visit: one fixed exploration temperature."""

    params = ("high", "t_max")

    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        if cfg.high is not None:
            require(0 < cfg.high <= cfg.t_max, prefix, "high", cfg.high, f"must be in (0, t_max={cfg.t_max}] or null.")

    def raise_(self, current, streak, cfg):
        high = cfg.t_max if cfg.high is None else cfg.high
        return np.full_like(current, high)


@register_schedule("additive")
class Additive(Schedule):
    """T <- T + step."""

    params = ("step",)

    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        require(cfg.step > 0, prefix, "step", cfg.step, "must be > 0 for the additive schedule.")

    def raise_(self, current, streak, cfg):
        return current + cfg.step


@register_schedule("multiplicative")
class Multiplicative(Schedule):
    """T <- T * factor."""

    params = ("factor",)

    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        require(cfg.factor > 1, prefix, "factor", cfg.factor, "must be > 1 for the multiplicative schedule.")

    def raise_(self, current, streak, cfg):
        return current * cfg.factor


@register_schedule("table")
class Table(Schedule):
    """T <- table[k - 1] after the k-th consecutive all-correct visit; the last entry repeats."""

    params = ("table",)

    def check(self, cfg: TemperatureConfig, prefix: str) -> None:
        require(
            len(cfg.table) > 0, prefix, "table", cfg.table, "must list at least one temperature for the table schedule."
        )
        require(
            all(0 < t <= cfg.t_max for t in cfg.table),
            prefix,
            "table",
            cfg.table,
            f"entries must be in (0, t_max={cfg.t_max}].",
        )

    def raise_(self, current, streak, cfg):
        table = np.asarray(cfg.table, dtype=current.dtype)
        return table[np.clip(streak, 1, len(table)) - 1]


class TemperaturePolicy:
    """Next temperature of each prompt from its current one and this visit's outcome."""

    def __init__(self, cfg: TemperatureConfig):
        self.cfg = cfg.validate()
        schedule = SCHEDULES[cfg.schedule]
        self._raise = schedule.raise_
        self._params = ScheduleParams(cfg, cfg.schedule, schedule.params)

    def next_temperature(self, current: np.ndarray, outcome: np.ndarray, streak: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        current = np.asarray(current, dtype=np.float64)
        outcome = np.asarray(outcome)
        nxt = current.copy()

        correct = outcome == Outcome.ALL_CORRECT
        if correct.any():
            nxt[correct] = self._raise(current[correct], np.asarray(streak)[correct], self._params)

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
