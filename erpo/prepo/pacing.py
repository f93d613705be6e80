"""Pacing functions: training progress rho in [0, 1] -> window position in [0, 1].

The paper uses linear pacing and mentions quadratic and exponential variants without giving
formulas; the two non-linear shapes below are our choice, documented in docs/prepo.md.
Every pacing function must be monotone non-decreasing with f(0) = 0 and f(1) = 1, so the window
starts at the lowest-perplexity prompts and ends at the highest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

PacingFn = Callable[[float], float]

_PACING_REGISTRY: dict[str, PacingFn] = {}

# Steepness of the exponential pacing: f(rho) = (e^(s*rho) - 1) / (e^s - 1). With s = 3 the
# window has covered only 18% of its travel at mid-training (f(0.5) ~ 0.18) and speeds up later.
EXPONENTIAL_STEEPNESS = 3.0


def register_pacing(name: str) -> Callable[[PacingFn], PacingFn]:
    """Decorator registering ``fn`` under ``name``; checks the endpoints so bad curves fail early."""

    def decorator(fn: PacingFn) -> PacingFn:
        if name in _PACING_REGISTRY:
            raise ValueError(f"prepo.pacing {name!r} is already registered; pick another name")
        if fn(0.0) != 0.0 or fn(1.0) != 1.0:
            raise ValueError(f"pacing {name!r} must map 0 -> 0 and 1 -> 1, got f(0)={fn(0.0)}, f(1)={fn(1.0)}")
        _PACING_REGISTRY[name] = fn
        return fn

    return decorator


def schedule_progress(global_steps: int, total_steps: int) -> float:
    """rho of training step ``global_steps`` (verl counts from 1): (s - 1) / (T - 1), 0 at the first step,
    1 at the last and after it; 0 when T = 1."""
    if total_steps < 1:
        raise ValueError(
            f"total steps must be >= 1, got {total_steps}; set prepo.total_steps or trainer.total_training_steps"
        )
    if total_steps == 1:
        return 0.0
    return min(max(global_steps - 1, 0) / (total_steps - 1), 1.0)


def known_pacings() -> list[str]:
    return sorted(_PACING_REGISTRY)


def get_pacing(name: str) -> PacingFn:
    """Return the pacing function registered as ``name`` (the value of config field prepo.pacing)."""
    if name not in _PACING_REGISTRY:
        raise ValueError(f"unknown prepo.pacing {name!r}; set it to one of {known_pacings()}")
    return _PACING_REGISTRY[name]


@register_pacing("linear")
def linear(progress: float) -> float:
    return float(progress)


@register_pacing("quadratic")
def quadratic(progress: float) -> float:
    return float(progress) ** 2


@register_pacing("exponential")
def exponential(progress: float) -> float:
    if progress >= 1.0:  # exact endpoint, independent of floating-point rounding in expm1
        return 1.0
    return math.expm1(EXPONENTIAL_STEEPNESS * progress) / math.expm1(EXPONENTIAL_STEEPNESS)
