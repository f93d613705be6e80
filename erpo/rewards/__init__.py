"""Math reward for every variant: ``reward.custom_reward_function.path=pkg://erpo.rewards``."""

from erpo.rewards.math_reward import compute_score, reward_stats

__all__ = ["compute_score", "reward_stats"]
