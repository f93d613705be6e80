"""PREPO's relative-entropy weighted PPO loss as a registered verl 0.9.1 policy loss.

verl 0.9.1 trains through the engine worker (verl/workers/engine_workers.py), whose loss is
``verl.workers.utils.losses.ppo_loss``. ppo_loss calls the registered policy loss with a fixed set
of keyword arguments that has no entropy, although it holds the current-policy entropies
(``model_output["entropy"]``). The least invasive bridge, without copying ppo_loss:

* ``prepo_ppo_loss`` wraps verl's ``ppo_loss`` and publishes the padded entropies in a
  ContextVar for the duration of that one call; the trainer installs it with
  ``actor_rollout_wg.set_loss_fn(make_prepo_loss_fn(actor_config, weighting))``.
* ``compute_policy_loss_prepo_entropy_weighted`` (loss_mode ``prepo_entropy_weighted``) reads
  them, turns them into per-sequence weights and delegates to verl's own ``vanilla`` loss through
  its ``rollout_is_weights`` argument, which multiplies the clipped per-token loss.
"""

from __future__ import annotations

import contextvars
from functools import partial
from typing import Any

import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn, register_policy_loss
from verl.utils import tensordict_utils as tu
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import no_padding_2_padding

from erpo.prepo.config import PREPO_LOSS_MODE, WeightingConfig
from recipe.prepo.weights import mini_batch_normaliser, relative_entropy_weights

# Non-tensor batch field with H_bar over the step's whole batch (scope "batch"); the trainer
# (recipe/prepo/component.py) sets it in the update's metadata.
NORMALISER_FIELD = "prepo_entropy_normaliser"

# Marker in place of H_bar: the policy loss computes it over the PPO mini-batch (scope "mini_batch").
MINI_BATCH = "mini_batch"

# (padded entropy [B, T], weighting config, H_bar / None / (MINI_BATCH, all_reduce)) of the ppo_loss call in
# progress, if any.
_ACTIVE_ENTROPY: contextvars.ContextVar[tuple[torch.Tensor, WeightingConfig, float | None] | None] = (
    contextvars.ContextVar("prepo_active_entropy", default=None)
)


@register_policy_loss(PREPO_LOSS_MODE)
def compute_policy_loss_prepo_entropy_weighted(
    old_log_prob: torch.Tensor,
    log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    loss_agg_mode: str = "token-mean",
    config: Any = None,
    rollout_is_weights: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    weighting: WeightingConfig | None = None,
    normaliser: float | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """verl's vanilla clipped loss with each sequence's term scaled by w_i = H_i / H_bar.

    ``entropy``/``weighting`` may be passed directly; inside verl they come from prepo_ppo_loss.
    """
    if entropy is None:
        active = _ACTIVE_ENTROPY.get()
        if active is None:
            raise ValueError(
                f"loss_mode={PREPO_LOSS_MODE} has no token entropies: install recipe.prepo.loss.make_prepo_loss_fn "
                "with actor_rollout_wg.set_loss_fn(...) and set actor_rollout_ref.actor.calculate_entropy=True"
            )
        entropy, weighting, normaliser = active
    if isinstance(normaliser, tuple) and normaliser[0] == MINI_BATCH:
        normaliser = mini_batch_normaliser(entropy, response_mask, normaliser[1])
    # The loss mode itself asks for the weighting: a call without a config gets it on, with the defaults.
    weighting = weighting or WeightingConfig(enabled=True)
    if not weighting.enabled:
        return get_policy_loss_fn("vanilla")(
            old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, config, rollout_is_weights
        )
    weights, weight_stats = relative_entropy_weights(
        entropy, response_mask, weighting.detach, weighting.clip_min, weighting.clip_max, normaliser
    )
    token_weights = weights.to(advantages.dtype).unsqueeze(-1)  # broadcast over the response tokens
    if rollout_is_weights is not None:  # keep verl's rollout correction, if configured
        token_weights = token_weights * rollout_is_weights
    pg_loss, pg_metrics = get_policy_loss_fn("vanilla")(
        old_log_prob, log_prob, advantages, response_mask, loss_agg_mode, config, token_weights
    )
    return pg_loss, {**pg_metrics, **weight_stats}


def _entropy_for_weighting(model_output: dict, data, source: str) -> torch.Tensor:
    if source == "current":
        entropy = model_output.get("entropy", None)
        if entropy is None:
            raise ValueError(
                "prepo.weighting.entropy_source=current but the loss forward pass computed no entropy; "
                "set actor_rollout_ref.actor.calculate_entropy=True"
            )
        return no_padding_2_padding(entropy, data)  # same conversion ppo_loss applies
    # "old": verl's V1 trainer stores old-policy entropies (response tokens only) as field "entropy".
    if "entropy" not in data.keys():
        raise ValueError(
            "prepo.weighting.entropy_source=old but the batch has no 'entropy' field "
            "(only verl's V1 trainer keeps it); use entropy_source=current"
        )
    entropy = data["entropy"]
    return torch.nested.to_padded_tensor(entropy, 0.0) if entropy.is_nested else entropy


def _mini_batch_marker(data, rows: int, dp_group):
    """(MINI_BATCH, all_reduce) after checking that these ``rows`` are this rank's whole share of the PPO
    mini-batch (verl's global_batch_size rows over dp_size ranks): otherwise the sum would miss the other
    micro-batches of the same optimiser step."""
    dp_size = int(tu.get_non_tensor_data(data=data, key="dp_size", default=1) or 1)
    global_rows = tu.get_non_tensor_data(data=data, key="global_batch_size", default=None)
    if global_rows is None or rows * dp_size != int(global_rows):
        raise ValueError(
            f"prepo.weighting.normaliser_scope=mini_batch needs each GPU's micro-batch to be its whole share of the "
            f"PPO mini-batch: this loss call has {rows} rows x {dp_size} data-parallel ranks, the mini-batch "
            f"{global_rows} rows. Set actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu = ppo_mini_batch_size x "
            "rollout.n / data-parallel size (and use_dynamic_bsz=false), or use normaliser_scope=batch."
        )
    if dp_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        return MINI_BATCH, partial(torch.distributed.all_reduce, op=torch.distributed.ReduceOp.SUM, group=dp_group)
    return MINI_BATCH, None


def _batch_normaliser(data, weighting: WeightingConfig) -> float | None:
    if weighting.normaliser_scope != "batch":
        return None
    value = tu.get_non_tensor_data(data=data, key=NORMALISER_FIELD, default=None)
    if value is None:
        raise ValueError(
            f"prepo.weighting.normaliser_scope=batch but the update batch has no {NORMALISER_FIELD!r}: it is set by "
            "the recipe's trainer (recipe.prepo.component); outside it use normaliser_scope=micro_batch"
        )
    return float(value)


def prepo_ppo_loss(config, model_output, data, dp_group=None, *, weighting: WeightingConfig):
    """Drop-in replacement for verl's ppo_loss that makes entropies visible to the PREPO policy loss."""
    entropy = _entropy_for_weighting(model_output, data, weighting.entropy_source)
    if weighting.enabled and weighting.normaliser_scope == MINI_BATCH:
        normaliser = _mini_batch_marker(data, int(entropy.shape[0]), dp_group)
    else:
        normaliser = _batch_normaliser(data, weighting)
    token = _ACTIVE_ENTROPY.set((entropy, weighting, normaliser))
    try:
        return ppo_loss(config=config, model_output=model_output, data=data, dp_group=dp_group)
    finally:
        _ACTIVE_ENTROPY.reset(token)


def make_prepo_loss_fn(actor_config, weighting: WeightingConfig):
    """Loss for ``ActorRolloutRefWorker.set_loss_fn``; mirrors the worker's own ``partial(ppo_loss, config=...)``."""
    loss_mode = actor_config.policy_loss.get("loss_mode", "vanilla")
    if weighting.enabled and loss_mode != PREPO_LOSS_MODE:
        raise ValueError(
            f"prepo.weighting.enabled=True needs actor_rollout_ref.actor.policy_loss.loss_mode={PREPO_LOSS_MODE}, "
            f"got {loss_mode!r}"
        )
    return partial(prepo_ppo_loss, config=actor_config, weighting=weighting)
