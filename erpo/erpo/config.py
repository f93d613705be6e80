"""ERPO's configuration (the Hydra node ``erpo``), built with :func:`erpo.config_builder.build_config`.

Each field is documented by its comment in ``recipe/conf/train.yaml``; ``ERPOConfig.from_dict`` refuses
unknown keys, wrong types and values that cannot work, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from erpo.config_builder import build_config, require, require_choice
from erpo.erpo.temperature import TemperatureConfig

# Temperature of the old-policy, reference and actor log-prob passes: each sample's own (sampled) or base.
LOGPROB_TEMPERATURES = ("sampled", "base")
# How RA gives an all-correct group an advantage (docs/erpo.md "RA forms"; recipe/erpo/reactivation.py).
RA_FORMS = ("virtual_response", "fixed_advantage")


@dataclass(frozen=True)
class RAConfig:
    """RA's form and its one magnitude; a field the chosen form does not read must stay null.

    virtual_response reads ``pseudo_reward`` (and only without std normalisation does its value matter:
    recipe/erpo/refusals.py refuses it otherwise); fixed_advantage reads ``advantage``.
    """

    enabled: bool = False
    form: str = "virtual_response"
    pseudo_reward: float | None = None
    advantage: float | None = None

    def validate(self, prefix: str = "erpo.ra") -> RAConfig:
        require_choice(prefix, "form", self.form, RA_FORMS)
        if not self.enabled:
            for name in ("pseudo_reward", "advantage"):
                require(
                    getattr(self, name) is None,
                    prefix,
                    name,
                    getattr(self, name),
                    f"is read only with {prefix}.enabled=true; set it to null or turn RA on.",
                )
            return self
        if self.form == "fixed_advantage":
            require(
                self.pseudo_reward is None,
                prefix,
                "pseudo_reward",
                self.pseudo_reward,
                f"is not read by {prefix}.form=fixed_advantage (its magnitude is {prefix}.advantage); set it "
                "to null, or use form=virtual_response.",
            )
            require(
                self.advantage is not None and 0.0 < self.advantage <= 10.0,
                prefix,
                "advantage",
                self.advantage,
                "must be in (0, 10] under form=fixed_advantage: the advantage every response "
                "of an all-correct group gets, in units of GRPO's normalised advantage.",
            )
        else:
            require(
                self.advantage is None,
                prefix,
                "advantage",
                self.advantage,
                f"is read only by {prefix}.form=fixed_advantage; set it to null (virtual_response's "
                f"magnitude is {prefix}.pseudo_reward).",
            )
            require(
                self.pseudo_reward is None or self.pseudo_reward < 1.0,
                prefix,
                "pseudo_reward",
                self.pseudo_reward,
                "must be below a correct answer's reward, 1.0 (a pseudo-negative reward: "
                "the real responses must score above the virtual one).",
            )
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
        require(
            self.history_length >= 1,
            prefix,
            "history_length",
            self.history_length,
            "must be an integer >= 1 (visits kept per prompt).",
        )
        require(
            0.0 < self.correct_threshold <= 1.0,
            prefix,
            "correct_threshold",
            self.correct_threshold,
            "must be in (0, 1]; 0.5 suits 0/1 accuracies.",
        )
        require(
            self.min_expected_visits >= 0.0,
            prefix,
            "min_expected_visits",
            self.min_expected_visits,
            "must be >= 0 (expected visits per prompt below which an ERPO run is refused).",
        )
        require_choice(prefix, "logprob_temperature", self.logprob_temperature, LOGPROB_TEMPERATURES)
        self.temperature.validate(f"{prefix}.temperature")
        self.ra.validate(f"{prefix}.ra")
        return self

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, prefix: str = "erpo") -> ERPOConfig:
        return build_config(cls, values, prefix)
