"""Relative-entropy weights w_i = H_i / H_bar (PREPO, arXiv 2511.00794)."""

from __future__ import annotations

import torch

from erpo.prepo.metrics import weight_metrics

# Below this mean token entropy (nats) there is no relative signal to weight by (a fully
# deterministic policy); all weights fall back to 1 instead of dividing by ~0.
MIN_NORMALISER = 1e-8


def relative_entropy_weights(
    entropy: torch.Tensor,
    response_mask: torch.Tensor,
    detach: bool = True,
    clip_min: float | None = None,
    clip_max: float | None = None,
    normaliser: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-sequence weights [B] and their metrics.

    H_i is the mean token entropy of rollout i; H_bar is the token-weighted mean over the batch
    (sum of all masked token entropies / number of masked tokens), so that without clipping
    sum_i |o_i| w_i / sum_i |o_i| == 1: under token-mean aggregation the loss scale is unchanged.
    Rollouts with no response tokens get weight 1 (they are masked out of the loss anyway).
    ``normaliser``: H_bar computed elsewhere (scope ``batch``: over the step's whole batch); None =
    over the rows given here (scope ``micro_batch``).
    """
    if entropy.shape != response_mask.shape or entropy.dim() != 2:
        raise ValueError(
            "entropy and response_mask must both be [B, T], "
            f"got {tuple(entropy.shape)} and {tuple(response_mask.shape)}"
        )
    if detach:
        entropy = entropy.detach()
    # Sums over thousands of tokens in float32: bf16 entropies (the actor's compute dtype) would
    # round H_bar by ~0.5%.
    entropy = entropy.float()
    mask = response_mask.to(entropy.dtype)
    token_sum = (entropy * mask).sum(dim=-1)
    lengths = mask.sum(dim=-1)
    seq_entropy = token_sum / lengths.clamp(min=1.0)
    if normaliser is None:
        normaliser = token_sum.sum() / lengths.sum().clamp(min=1.0)
    else:
        normaliser = torch.tensor(float(normaliser), dtype=entropy.dtype, device=entropy.device)
    has_tokens = lengths > 0
    usable = (normaliser > MIN_NORMALISER) & has_tokens
    weights = torch.where(usable, seq_entropy / normaliser.clamp(min=MIN_NORMALISER), torch.ones_like(seq_entropy))
    if clip_min is not None or clip_max is not None:
        weights = weights.clamp(min=clip_min, max=clip_max)
    if not has_tokens.any():
        return weights, {"prepo/entropy_normaliser": 0.0}
    metrics = weight_metrics(weights[has_tokens].detach().float().cpu().numpy())
    metrics["prepo/entropy_normaliser"] = float(normaliser.detach())
    return weights, metrics


def mini_batch_normaliser(entropy: torch.Tensor, response_mask: torch.Tensor, all_reduce=None) -> float:
    """H_bar over the PPO mini-batch: token-weighted mean entropy of these rows, summed with the other
    data-parallel ranks' rows by ``all_reduce`` (an in-place SUM over a float64 tensor [sum, count]; None =
    this rank holds the whole mini-batch). Exact when each rank's rows here are its whole share of the
    mini-batch (recipe/prepo/loss.py checks it)."""
    mask = response_mask.to(torch.float64)
    totals = torch.stack([(entropy.detach().to(torch.float64) * mask).sum(), mask.sum()])
    if all_reduce is not None:
        all_reduce(totals)
    return float(totals[0] / totals[1].clamp(min=1.0))
