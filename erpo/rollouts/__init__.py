"""Rollout accounting's pure core: what was generated and what carried gradient (glue: recipe/rollouts/)."""

from erpo.rollouts.counter import RolloutCounter, refill_ceiling_error

__all__ = ["RolloutCounter", "refill_ceiling_error"]
