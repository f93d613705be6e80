"""RA ("reactivate training signal"): a non-zero advantage for all-correct groups, in one of two forms.

A GRPO group whose responses are all correct has zero advantage. The ERPO abstract (arXiv 2511.04800)
names the goal, reactivating the training signal of such groups; the public ICLR 2026 reviews of the
submission describe RA as adding a pseudo-negative reward when the advantage is computed (docs/erpo.md
"RA forms" quotes them). How, and with what value, is not in any text available to us, so both forms are
our readings (``erpo.ra.form``):

- ``virtual_response``: one virtual response with reward ``p`` (``erpo.ra.pseudo_reward``; null = 0.0)
  joins the group's baseline, ``A_i = (r_i - mean(r U {p})) / std(r U {p})``. For G equal real rewards r
  and any p < r this is ``1 / sqrt(G + 1)`` whatever p is: p cancels under std normalisation, so a value
  is refused there (recipe/erpo/refusals.py). Without it (``algorithm.norm_adv_by_std_in_grpo=false``)
  ``A_i = (r - p) / (G + 1)`` and p is a real setting.
- ``fixed_advantage``: every response of the group gets ``A_i = a`` (``erpo.ra.advantage``), after GRPO's
  normalisation, so the magnitude survives it: the group's zero advantage plus a fixed term, as if a
  pseudo-negative reward of ``-a`` had lowered its baseline.

Mixed and all-wrong groups are left exactly as GRPO computes them.

"All correct" is decided by ``acc`` (erpo/erpo/correctness.py), the definition ERPO's tracker and DAPO's filter
use, not by the score (which carries DAPO's overlong penalty): the trainer reads each response's ``acc``
and calls :func:`set_all_correct_groups` before verl's advantage step (recipe/erpo/trainer.py), because
verl passes the estimator only token rewards and group ids.

Registered with verl's advantage-estimator registry as ``erpo_grpo``; with RA disabled it returns verl's
GRPO advantages unchanged (tested). The estimator runs in the trainer process; the trainer calls
:func:`configure` once at start-up because verl's AlgoConfig has no field for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

ESTIMATOR_NAME = "erpo_grpo"


# virtual_response's pseudo reward when erpo.ra.pseudo_reward is null: a wrong answer's 0/1 reward. Under std
# normalisation any value below the real rewards gives the same advantage (module docstring).
DEFAULT_PSEUDO_REWARD = 0.0


@dataclass
class _RASettings:
    enabled: bool = False
    form: str = "virtual_response"
    # virtual_response: the virtual response's reward; fixed_advantage: the advantage itself.
    magnitude: float = DEFAULT_PSEUDO_REWARD
    # uids of the groups whose responses are all correct by acc, for the advantage call in progress.
    all_correct: frozenset | None = None
    # Mean RA advantage of the responses of the last call's all-correct groups (None: no such group).
    last_ra_advantage_mean: float | None = None


_settings = _RASettings()


def configure(
    enabled: bool, form: str = "virtual_response", pseudo_reward: float | None = None, advantage: float | None = None
) -> None:
    """Set RA for this process (called by the ERPO trainer at init with the checked erpo.ra fields)."""
    if form not in ("virtual_response", "fixed_advantage"):
        raise ValueError(f"erpo.ra.form={form!r} is not supported; choose virtual_response or fixed_advantage.")
    if enabled and form == "fixed_advantage" and advantage is None:
        raise ValueError("erpo.ra.form=fixed_advantage needs erpo.ra.advantage (the advantage of each response).")
    _settings.enabled = bool(enabled)
    _settings.form = form
    if form == "fixed_advantage":
        _settings.magnitude = float(advantage) if advantage is not None else 0.0
    else:
        _settings.magnitude = DEFAULT_PSEUDO_REWARD if pseudo_reward is None else float(pseudo_reward)


def set_all_correct_groups(uids) -> None:
    """The all-correct groups (uids, by acc) of the batch whose advantage is computed next; None clears."""
    _settings.all_correct = None if uids is None else frozenset(str(u) for u in uids)


def last_ra_advantage_mean() -> float | None:
    """Mean RA advantage over the responses of the last estimator call's all-correct groups (None: none)."""
    return _settings.last_ra_advantage_mean


def ra_group_advantage(scores: torch.Tensor, pseudo_reward: float, norm_by_std: bool, eps: float) -> torch.Tensor:
    """virtual_response: advantages of one all-correct group scored against its rewards plus one virtual
    reward (torch's std, as verl's GRPO uses)."""
    augmented = torch.cat([scores, scores.new_tensor([pseudo_reward])])
    centred = scores - augmented.mean()
    return centred / (augmented.std() + eps) if norm_by_std else centred


def fixed_group_advantage(scores: torch.Tensor, advantage: float) -> torch.Tensor:
    """fixed_advantage: every response of one all-correct group gets ``advantage``."""
    return torch.full_like(scores, float(advantage))


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

    if _settings.all_correct is None:
        raise RuntimeError(
            "erpo.ra.enabled=true but no all-correct groups were set for this batch: RA decides correctness from the "
            "reward's acc, which the ERPO trainer reads before the advantage (recipe.erpo.reactivation."
            "set_all_correct_groups); run RA through recipe.driver.train."
        )
    scores = token_level_rewards.sum(dim=-1)
    ra_advantages = []
    rows_by_group: dict = defaultdict(list)
    for row, group in enumerate(index):
        rows_by_group[str(group)].append(row)
    for group, rows in rows_by_group.items():
        group_scores = scores[rows]
        if len(rows) > 1 and group in _settings.all_correct:
            if _settings.form == "fixed_advantage":
                adv = fixed_group_advantage(group_scores, _settings.magnitude)
            else:
                adv = ra_group_advantage(group_scores, _settings.magnitude, norm_by_std, epsilon)
            advantages[rows] = adv.unsqueeze(-1) * response_mask[rows]
            ra_advantages.append(adv)
    _settings.last_ra_advantage_mean = float(torch.cat(ra_advantages).mean()) if ra_advantages else None
    return advantages, advantages
