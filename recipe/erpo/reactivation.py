"""RA ("reactivate training signal"): a non-zero advantage for all-correct groups.

A GRPO group whose responses are all correct has zero advantage. RA adds one *virtual*
response with a small pseudo-negative reward to such a group's baseline, so every real
response is scored against (G real + 1 virtual) rewards and gets a small positive advantage.
Mixed and all-wrong groups are left exactly as GRPO computes them.

The ERPO paper (arXiv 2511.04800) describes RA as "a small pseudo-negative reward for
all-correct groups"; the virtual-sample reading is ours and documented in docs/erpo.md.

Registered with verl's advantage-estimator registry as ``erpo_grpo``; with RA disabled it
returns verl's GRPO advantages unchanged (tested). The estimator runs in the trainer process;
the trainer calls :func:`configure` once at start-up because verl's AlgoConfig has no field
for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

ESTIMATOR_NAME = "erpo_grpo"


@dataclass
class _RASettings:
    enabled: bool = False
    pseudo_reward: float = 0.0
    correct_threshold: float = 0.5


_settings = _RASettings()


def configure(enabled: bool, pseudo_reward: float, correct_threshold: float) -> None:
    """Set RA for this process (called by the ERPO trainer at init)."""
    _settings.enabled = bool(enabled)
    _settings.pseudo_reward = float(pseudo_reward)
    _settings.correct_threshold = float(correct_threshold)


def ra_group_advantage(scores: torch.Tensor, pseudo_reward: float, norm_by_std: bool, eps: float) -> torch.Tensor:
    """Advantages of one all-correct group scored against its rewards plus one virtual reward."""
    augmented = torch.cat([scores, scores.new_tensor([pseudo_reward])])
    centred = scores - augmented.mean()
    return centred / (augmented.std() + eps) if norm_by_std else centred


@register_adv_est(ESTIMATOR_NAME)
def compute_erpo_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    config=None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl's GRPO advantage, plus RA on all-correct groups when enabled."""
    norm_by_std = True if config is None else bool(config.get("norm_adv_by_std_in_grpo", True))
    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        index=index,
        epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm_by_std,
        config=config,
    )
    if not _settings.enabled:
        return advantages, returns

    scores = token_level_rewards.sum(dim=-1)
    rows_by_group: dict = defaultdict(list)
    for row, group in enumerate(index):
        rows_by_group[group].append(row)
    for rows in rows_by_group.values():
        group_scores = scores[rows]
        if len(rows) > 1 and bool((group_scores >= _settings.correct_threshold).all()):
            adv = ra_group_advantage(group_scores, _settings.pseudo_reward, norm_by_std, epsilon)
            advantages[rows] = adv.unsqueeze(-1) * response_mask[rows]
    return advantages, advantages
