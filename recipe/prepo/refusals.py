"""PREPO's refusals: its fields, and the verl fields its loss needs, agree (docs/prepo.md).

Called through the method registry (erpo/components.py) before Ray starts; each raises ConfigError naming the
field and the fix.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from erpo.errors import ConfigError
from erpo.prepo.config import PREPO_LOSS_MODE, PREPOConfig


def check_prepo_fields(config) -> PREPOConfig:
    prepo_cfg = PREPOConfig.from_dict(OmegaConf.to_container(config.get("prepo") or {}, resolve=True))
    actor = config.actor_rollout_ref.actor
    loss_mode = actor.policy_loss.get("loss_mode", "vanilla")
    weighting = prepo_cfg.weighting
    if weighting.enabled and loss_mode != PREPO_LOSS_MODE:
        raise ConfigError(
            f"prepo.weighting.enabled=true needs actor_rollout_ref.actor.policy_loss.loss_mode={PREPO_LOSS_MODE} "
            f"(got {loss_mode!r}); use algorithm=prepo or set prepo.weighting.enabled=false."
        )
    if loss_mode == PREPO_LOSS_MODE and not weighting.enabled:
        raise ConfigError(
            f"actor_rollout_ref.actor.policy_loss.loss_mode={PREPO_LOSS_MODE} needs prepo.weighting.enabled=true "
            "(the weights come from it); set the loss_mode back to vanilla or enable the weighting."
        )
    if weighting.enabled and weighting.entropy_source == "current" and not actor.get("calculate_entropy", False):
        raise ConfigError(
            "prepo.weighting.entropy_source=current needs actor_rollout_ref.actor.calculate_entropy=true "
            "(the loss forward pass must compute token entropies)."
        )
    if weighting.enabled and weighting.normaliser_scope == "mini_batch":
        refuse_split_mini_batch(config)
    return prepo_cfg


def refuse_split_mini_batch(config) -> None:
    """normaliser_scope=mini_batch sums entropies across ranks inside one loss call, so each GPU's micro-batch
    must be its whole share of the PPO mini-batch (no gradient accumulation, fixed micro-batch sizes)."""
    actor, trainer = config.actor_rollout_ref.actor, config.trainer
    if actor.get("use_dynamic_bsz", False):
        raise ConfigError(
            "prepo.weighting.normaliser_scope=mini_batch with actor_rollout_ref.actor.use_dynamic_bsz=true: "
            "micro-batches then vary in rows; set use_dynamic_bsz=false or normaliser_scope=batch."
        )
    ranks = int(trainer.get("n_gpus_per_node", 1)) * int(trainer.get("nnodes", 1))
    dp = max(ranks // int(actor.get("ulysses_sequence_parallel_size", 1) or 1), 1)
    share = int(actor.ppo_mini_batch_size) * int(config.actor_rollout_ref.rollout.n) // dp
    micro = actor.get("ppo_micro_batch_size_per_gpu")
    if micro is None or int(micro) != share:
        raise ConfigError(
            f"prepo.weighting.normaliser_scope=mini_batch needs actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu="
            f"{share} (ppo_mini_batch_size {actor.ppo_mini_batch_size} x rollout.n "
            f"{config.actor_rollout_ref.rollout.n} / {dp} data-parallel ranks), got {micro}: H_bar is summed over "
            "the ranks' micro-batches of one optimiser step. Or use normaliser_scope=batch."
        )
