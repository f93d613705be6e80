"""Validated ERPO configuration, built from the Hydra ``erpo`` node before Ray starts."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from erpo.temperature import TemperatureConfig


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field and the fix."""


@dataclass(frozen=True)
class RAConfig:
    # Add a small positive advantage to all-correct groups (ERPO paper's "RA").
    enabled: bool = False
    # Reward of the virtual response added to an all-correct group's baseline.
    pseudo_reward: float = 0.0


@dataclass(frozen=True)
class ERPOConfig:
    # Adapt temperatures; false = only track and log residual prompts (baselines).
    enabled: bool = True
    # Visits kept per prompt in the tracker's history window.
    window: int = 8
    # A response is correct when its accuracy (or score) is >= this.
    correct_threshold: float = 0.5
    # On resume, continue with an empty tracker when the checkpoint has none (logged).
    allow_fresh_tracker: bool = False
    # Append each step's (data_source, index, temperature) assignments to erpo_assignments.jsonl
    # in the checkpoint directory: per-prompt temperature trajectories for analysis and resume checks.
    log_assignments: bool = True
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    ra: RAConfig = field(default_factory=RAConfig)

    def validate(self, prefix: str = "erpo") -> ERPOConfig:
        if not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"{prefix}.window={self.window!r} must be an integer >= 1 (visits kept per prompt).")
        if not 0.0 < float(self.correct_threshold) <= 1.0:
            raise ConfigError(
                f"{prefix}.correct_threshold={self.correct_threshold!r} must be in (0, 1]; 0.5 suits 0/1 rewards."
            )
        self.temperature.validate(prefix=f"{prefix}.temperature")
        return self

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, prefix: str = "erpo") -> ERPOConfig:
        """Build and validate; unknown keys are refused with a did-you-mean."""
        return _build(cls, values or {}, prefix).validate(prefix)


def _build(cls, values: Mapping[str, Any], prefix: str):
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix} must be a mapping of fields, got {type(values).__name__}.")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" Did you mean {prefix}.{close[0]}?" if close else f" Known fields: {', '.join(sorted(known))}."
            raise ConfigError(f"Unknown field {prefix}.{key}.{hint}")
        default = known[key].default_factory() if callable(known[key].default_factory) else None
        if is_dataclass(default):
            kwargs[key] = _build(type(default), value or {}, f"{prefix}.{key}")
        elif isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)
