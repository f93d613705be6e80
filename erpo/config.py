"""ERPO's configuration (the Hydra node ``erpo``), built with :func:`erpo.config_builder.build_config`.

Each field is documented by its comment in ``conf/train.yaml``; ``ERPOConfig.from_dict`` refuses
unknown keys, wrong types and values that cannot work, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from erpo.config_builder import build_config, require, require_choice
from erpo.temperature import TemperatureConfig

# Temperature of the old-policy, reference and actor log-prob passes: each sample's own (sampled) or base.
LOGPROB_TEMPERATURES = ("sampled", "base")


@dataclass(frozen=True)
class RAConfig:
    enabled: bool = False
    pseudo_reward: float = 0.0

    def validate(self, prefix: str = "erpo.ra") -> RAConfig:
        return self


@dataclass(frozen=True)
class ERPOConfig:
    enabled: bool = True
    history_length: int = 8
    correct_threshold: float = 0.5
    allow_fresh_tracker: bool = False
    log_assignments: bool = True
    min_expected_visits: float = 2.0
    logprob_temperature: str = "sampled"
    temperature: TemperatureConfig = field(default_factory=TemperatureConfig)
    ra: RAConfig = field(default_factory=RAConfig)

    def validate(self, prefix: str = "erpo") -> ERPOConfig:
        require(self.history_length >= 1, prefix, "history_length", self.history_length,
                "must be an integer >= 1 (visits kept per prompt).")
        require(0.0 < self.correct_threshold <= 1.0, prefix, "correct_threshold", self.correct_threshold,
                "must be in (0, 1]; 0.5 suits 0/1 accuracies.")
        require(self.min_expected_visits >= 0.0, prefix, "min_expected_visits", self.min_expected_visits,
                "must be >= 0 (expected visits per prompt below which an ERPO run is refused).")
        require_choice(prefix, "logprob_temperature", self.logprob_temperature, LOGPROB_TEMPERATURES)
        self.temperature.validate(f"{prefix}.temperature")
        self.ra.validate(f"{prefix}.ra")
        return self

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, prefix: str = "erpo") -> ERPOConfig:
        return build_config(cls, values, prefix)
