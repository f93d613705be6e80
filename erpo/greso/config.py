"""GRESO's configuration (the Hydra node ``greso``), built with :func:`erpo.config_builder.build_config`.

GRESO (Zheng et al., arXiv 2506.02177) skips, before rollout, prompts whose recent groups had zero
reward variance. Each default below comes from the authors' public code, Infini-AI-Lab/GRESO at commit
b277843 (a verl fork), and is cited by file and line in its comment in ``recipe/conf/train.yaml``; values the
code does not fix are marked there as our choice. Off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from erpo.config_builder import build_config, require, require_choice
from erpo.erpo.tracker import Outcome
from erpo.errors import ConfigError

# How a group is judged easy (all correct) or hard (all wrong) for GRESO's streaks: acc (every response's
# acc, the project's one definition of correct) | mean_score (the group's mean score against thresholds,
# as GRESO's code does with its 1 / 0.1 / 0 reward).
GROUP_RULES = ("acc", "mean_score")


@dataclass(frozen=True)
class GRESOConfig:
    enabled: bool = False
    p_easy: float = 0.5
    p_hard: float = 0.5
    target_zero_variance: float = 0.25
    hard_target_weight: float = 2.0
    adapt_step: float = 0.01
    p_min: float = 0.05
    p_max: float = 0.95
    keep_floor: float = 0.01
    adapt_from_epoch: int = 1
    sampling_batch_multiplier: float = 1.5
    group_rule: str = "acc"
    easy_mean_at_least: float | None = None
    hard_mean_at_most: float | None = None

    def validate(self, prefix: str = "greso") -> GRESOConfig:
        def check(condition: bool, name: str, why: str) -> None:
            require(condition, prefix, name, getattr(self, name), why)

        require_choice(prefix, "group_rule", self.group_rule, GROUP_RULES)
        for name in ("easy_mean_at_least", "hard_mean_at_most"):
            if self.group_rule == "acc":
                check(
                    getattr(self, name) is None,
                    name,
                    f"is read only with {prefix}.group_rule=mean_score; set it to null.",
                )
            else:
                check(
                    getattr(self, name) is not None,
                    name,
                    f"is required with {prefix}.group_rule=mean_score (GRESO's code: easy 0.98, hard 0.11).",
                )
        if self.group_rule == "mean_score" and self.hard_mean_at_most >= self.easy_mean_at_least:
            raise ConfigError(
                f"{prefix}.hard_mean_at_most={self.hard_mean_at_most} must be below "
                f"{prefix}.easy_mean_at_least={self.easy_mean_at_least} (a group cannot be both)."
            )

        for name in ("p_min", "p_max", "target_zero_variance", "keep_floor"):
            check(0.0 <= getattr(self, name) <= 1.0, name, "must be in [0, 1] (a probability or a share).")
        if self.p_min > self.p_max:
            raise ConfigError(f"{prefix}.p_min={self.p_min} exceeds {prefix}.p_max={self.p_max}.")
        for name in ("p_easy", "p_hard"):
            check(
                self.p_min <= getattr(self, name) <= self.p_max,
                name,
                f"must be in [{prefix}.p_min, {prefix}.p_max] = [{self.p_min}, {self.p_max}].",
            )
        check(self.hard_target_weight >= 0, "hard_target_weight", "must be >= 0 (0 = the whole target is easy groups).")
        check(0.0 <= self.adapt_step <= 1.0, "adapt_step", "must be in [0, 1] (0 = fixed probabilities).")
        check(self.adapt_from_epoch >= 0, "adapt_from_epoch", "must be an integer >= 0.")
        check(
            self.sampling_batch_multiplier >= 1.0,
            "sampling_batch_multiplier",
            "must be >= 1 (prompts rolled out per sampling round / train batch size).",
        )
        return self

    def outcomes_by_mean(self, mean_score):
        """Outcome codes under group_rule=mean_score: easy (all correct) at mean >= easy_mean_at_least, hard
        (all wrong) at mean <= hard_mean_at_most, else mixed (GRESO's presampling_selector.py: `< 0.98`
        breaks an easy streak, `> 0.11` a hard one)."""
        mean = np.asarray(mean_score, dtype=np.float64)
        return np.where(
            mean >= self.easy_mean_at_least,
            Outcome.ALL_CORRECT,
            np.where(mean <= self.hard_mean_at_most, Outcome.ALL_WRONG, Outcome.MIXED),
        ).astype(np.int8)

    @property
    def easy_target(self) -> float:
        """Share of all-correct groups GRESO aims for: target / (1 + hard_target_weight)."""
        return self.target_zero_variance / (1.0 + self.hard_target_weight)

    @property
    def hard_target(self) -> float:
        """Share of all-wrong groups GRESO aims for: target * w / (1 + w), w = hard_target_weight."""
        return self.target_zero_variance * self.hard_target_weight / (1.0 + self.hard_target_weight)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, prefix: str = "greso") -> GRESOConfig:
        return build_config(cls, values, prefix)


def refuse_mean_score_with_erpo(cfg: GRESOConfig, erpo_enabled: bool) -> None:
    """GRESO's mean-score rule and ERPO are not combined, wherever the two are composed (the verl recipe's
    refusals, the simulator): GRESO's rule would decide the tracker's outcomes, but ERPO's residual prompts are
    the all-correct ones by acc (erpo/erpo/correctness.py), so ERPO would raise temperatures on other groups."""
    if cfg.enabled and cfg.group_rule == "mean_score" and erpo_enabled:
        raise ConfigError(
            "greso.group_rule=mean_score with erpo.enabled=true: GRESO's mean-score rule would decide the tracker's "
            "outcomes, but ERPO's residual prompts are all-correct by acc; set greso.group_rule=acc (and the two "
            "thresholds to null) with ERPO, or erpo.enabled=false."
        )
