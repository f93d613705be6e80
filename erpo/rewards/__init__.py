"""Math reward for every variant: ``reward.custom_reward_function.path=pkg://erpo.rewards``.

Pure stdlib in the caller's process; sympy / math-verify run in worker processes (worker_pool.py).
"""

from erpo.rewards.math_reward import compute_score, reward_stats, warm_up

__all__ = ["compute_score", "reward_stats", "warm_up"]
