"""PREPO configuration (Hydra group ``prepo``). Every field carries help text in its metadata.

Fields marked "paper silent" are details arXiv 2511.00794 does not publish; the default is our
choice and docs/prepo.md explains it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from erpo.prepo.pacing import get_pacing

# Name of the registered policy loss (recipe/prepo/loss.py); here so the preflight needs no torch.
PREPO_LOSS_MODE = "prepo_entropy_weighted"
PERPLEXITY_ON = ("templated", "raw_question")
ENTROPY_SOURCES = ("current", "old")
# "batch": H_bar over the step's whole training batch, from the old-policy entropies verl computes
# before the update (the trainer passes it to the loss); "micro_batch": over the rollouts of one
# loss call (depends on the micro-batch size). See docs/prepo.md.
NORMALISER_SCOPES = ("batch", "micro_batch")


def _help(text: str, **kwargs) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass
class WeightingConfig:
    enabled: bool = _help(
        "Multiply each rollout's policy-loss term by w_i = H_i / H_bar (relative entropy weight). "
        "Requires actor_rollout_ref.actor.policy_loss.loss_mode=prepo_entropy_weighted.",
        default=True,
    )
    detach: bool = _help(
        "Stop gradients through w_i, so it only rescales the PPO gradient (paper silent; default True).",
        default=True,
    )
    entropy_source: str = _help(
        "'current': token entropies of the policy-loss forward pass (needs "
        "actor_rollout_ref.actor.calculate_entropy=True); 'old': entropies of the old-policy log-prob "
        "pass that verl's V1 trainer stores as batch field 'entropy' (paper silent; default current).",
        default="current",
    )
    normaliser_scope: str = _help(
        "Which rollouts H_bar (token-weighted mean entropy) averages over: 'batch' (the step's whole "
        "training batch, old-policy entropies; the paper's 'mean over the batch') or 'micro_batch' "
        "(the rollouts of one loss call on one rank; depends on the micro-batch size).",
        default="batch",
    )
    clip_min: Optional[float] = _help("Lower bound on w_i; None = unbounded (paper reports ~0.7).", default=None)
    clip_max: Optional[float] = _help("Upper bound on w_i; None = unbounded (paper reports ~1.5).", default=None)

    def __post_init__(self):
        _check_choice("prepo.weighting.entropy_source", self.entropy_source, ENTROPY_SOURCES)
        _check_choice("prepo.weighting.normaliser_scope", self.normaliser_scope, NORMALISER_SCOPES)
        for name in ("clip_min", "clip_max"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"prepo.weighting.{name} must be > 0 or null, got {value}")
        if self.clip_min is not None and self.clip_max is not None and self.clip_min > self.clip_max:
            raise ValueError(f"prepo.weighting.clip_min={self.clip_min} exceeds clip_max={self.clip_max}")


@dataclass
class PREPOConfig:
    enabled: bool = _help("Turn on the perplexity schedule (online batch selection).", default=False)
    candidate_multiplier: int = _help(
        "|B|/K: candidates scored per kept prompt. The paper keeps 20%, i.e. 5.", default=5
    )
    pacing: str = _help("Pacing function moving the window with progress: linear, quadratic, exponential.", default="linear")
    total_steps: Optional[int] = _help(
        "Steps over which progress goes 0 -> 1; None = the trainer's total training steps.", default=None
    )
    perplexity_on: str = _help(
        "'templated': score the chat-templated prompt tokens exactly as the policy sees them; "
        "'raw_question': score the bare question text (paper silent; default templated).",
        default="templated",
    )
    weighting: WeightingConfig = _help("Relative-entropy weighting of the policy loss.", default_factory=WeightingConfig)

    def __post_init__(self):
        if isinstance(self.weighting, dict):
            self.weighting = _from_dict(WeightingConfig, self.weighting, "prepo.weighting")
        if int(self.candidate_multiplier) != self.candidate_multiplier or self.candidate_multiplier < 1:
            raise ValueError(f"prepo.candidate_multiplier must be an integer >= 1, got {self.candidate_multiplier}")
        get_pacing(self.pacing)  # raises naming prepo.pacing and the known names
        if self.total_steps is not None and self.total_steps < 1:
            raise ValueError(f"prepo.total_steps must be >= 1 or null, got {self.total_steps}")
        _check_choice("prepo.perplexity_on", self.perplexity_on, PERPLEXITY_ON)

    @classmethod
    def from_dict(cls, values: dict) -> "PREPOConfig":
        """Build from a plain dict (e.g. OmegaConf.to_container(cfg.prepo)); unknown keys are errors."""
        return _from_dict(cls, values, "prepo")


def _check_choice(name: str, value: str, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {list(choices)}")


def _from_dict(cls, values: dict, prefix: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {[f'{prefix}.{k}' for k in unknown]}; known keys: {sorted(known)}")
    return cls(**values)
