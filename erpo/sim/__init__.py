"""Residual-prompt simulator: which temperature schedule keeps the most prompts informative?

Runs the same :class:`erpo.controller.ERPOController` as training against a toy model of RLVR
data dynamics, in seconds on a CPU. It ranks schedules; it does not predict accuracy. See
docs/simulator.md for the assumptions.
"""

from erpo.sim.model import SimConfig, run_variants, simulate

__all__ = ["SimConfig", "simulate", "run_variants"]
