"""ERPO: Explore Residual Prompts in Policy Optimization.

The core algorithm (tracker, temperature policy, reactivation, metrics) is pure Python and
imports no torch, Ray or verl, so it can be read and tested in isolation. verl glue lives in
``recipe/erpo``.
"""

__version__ = "0.1.0"
