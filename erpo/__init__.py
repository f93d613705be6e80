"""ERPO: Explore Residual Prompts in Policy Optimization.

The core algorithm (tracker, temperature schedules, controller, GRESO's and PREPO's pure parts, rewards,
configs, run plan, metrics) is pure Python and imports no torch, Ray, verl, vLLM or transformers, so it can be
read and tested in isolation; tests/test_core_purity.py lists its modules and checks it. The tools beside it
here (data, eval, probe, sim, tables, analysis, tiny) run around the algorithm. verl glue lives in ``recipe/``.
"""

__version__ = "0.1.0"
