"""Residual-prompt simulator: which temperature schedule or sampling variant keeps the most prompts informative?

Runs the same :class:`erpo.erpo.controller.ERPOController` (tracker, temperature policy) and, beside it, GRESO's
:class:`erpo.greso.GRESOSelector` (erpo/sim/greso.py) as training against a toy model of RLVR data dynamics, in
seconds on a CPU. It ranks schedules and variants; it does not predict accuracy. See docs/simulator.md for the
assumptions.
"""

from erpo.sim.model import SimConfig, run_variants, simulate

__all__ = ["SimConfig", "simulate", "run_variants"]
