"""PREPO's configuration (the Hydra node ``prepo``), built with :func:`erpo.config_builder.build_config`.

Each field is documented by its comment in ``recipe/conf/train.yaml``. Fields marked there as paper silent are
details arXiv 2511.00794's available text does not give; the default is our choice (docs/prepo.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from erpo.config_builder import build_config, require, require_choice
from erpo.errors import ConfigError
from erpo.prepo.pacing import known_pacings

# Name of the registered policy loss (recipe/prepo/loss.py); here so the refusals need no torch.
PREPO_LOSS_MODE = "prepo_entropy_weighted"
PERPLEXITY_ON = ("templated", "raw_question")
ENTROPY_SOURCES = ("current", "old")
# "batch": H_bar over the step's whole training batch, from the old-policy entropies verl computes
# before the update (the trainer passes it to the loss); "mini_batch": over the PPO mini-batch of one
# optimiser step (the poster's "mini-batch (B rollouts)"), summed across data-parallel ranks in the loss,
# which needs each GPU's micro-batch to be its whole share of the mini-batch; "micro_batch": over the
# rollouts of one loss call (depends on the micro-batch size). See docs/prepo.md.
NORMALISER_SCOPES = ("batch", "mini_batch", "micro_batch")


@dataclass(frozen=True)
class WeightingConfig:
    # Off unless asked for, as in recipe/conf/train.yaml (the loss mode prepo_entropy_weighted means it on).
    enabled: bool = False
    detach: bool = True
    entropy_source: str = "current"
    normaliser_scope: str = "batch"
    clip_min: float | None = None
    clip_max: float | None = None

    def validate(self, prefix: str = "prepo.weighting") -> WeightingConfig:
        require_choice(prefix, "entropy_source", self.entropy_source, ENTROPY_SOURCES)
        require_choice(prefix, "normaliser_scope", self.normaliser_scope, NORMALISER_SCOPES)
        for name in ("clip_min", "clip_max"):
            value = getattr(self, name)
            require(value is None or value > 0, prefix, name, value, "must be > 0 or null.")
        if self.clip_min is not None and self.clip_max is not None and self.clip_min > self.clip_max:
            raise ConfigError(f"{prefix}.clip_min={self.clip_min} exceeds {prefix}.clip_max={self.clip_max}.")
        return self


@dataclass(frozen=True)
class PREPOConfig:
    enabled: bool = False
    candidate_multiplier: int = 5
    pacing: str = "linear"
    total_steps: int | None = None
    perplexity_on: str = "templated"
    weighting: WeightingConfig = field(default_factory=WeightingConfig)

    def validate(self, prefix: str = "prepo") -> PREPOConfig:
        require(
            self.candidate_multiplier >= 1,
            prefix,
            "candidate_multiplier",
            self.candidate_multiplier,
            "must be an integer >= 1 (candidates scored per kept prompt).",
        )
        require_choice(prefix, "pacing", self.pacing, known_pacings())
        require(
            self.total_steps is None or self.total_steps >= 1,
            prefix,
            "total_steps",
            self.total_steps,
            "must be >= 1 or null (null = the trainer's total training steps).",
        )
        require_choice(prefix, "perplexity_on", self.perplexity_on, PERPLEXITY_ON)
        self.weighting.validate(f"{prefix}.weighting")
        return self

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, prefix: str = "prepo") -> PREPOConfig:
        return build_config(cls, values, prefix)
