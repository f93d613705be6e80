"""Pure arithmetic of the temperature probe: per-prompt rates, intervals over prompts, the choose-T rule and
the additive schedule that reaches the chosen T (no torch, no I/O).

The probe draws groups of ``n`` responses for the prompts that were all correct at the base temperature,
at every temperature of a grid, ``R`` repeats each. Arrays are indexed ``[prompt, temperature, repeat]``.
For prompt ``i`` at temperature ``T``:

    mixed_i(T)    = (1/R) sum_r [0 < c_irT < n]        (a group with a training signal: "revived")
    all_wrong_i(T) = (1/R) sum_r [c_irT = 0]
    accuracy_i(T) = sum_r c_irT / (R n)
    length_i(T)   = sum_r tokens_irT / (R n)            (response tokens, EOS included, per response)
    entropy_i(T)  = sum_r H_irT / sum_r tokens_irT      (mean per-token entropy of the sampling distribution)

and the probe's value at ``T`` is the mean over prompts. The control is the second, independent draw at the
base temperature: prompts selected for being all correct once are not all correct again as often (regression
to the mean), so the effect of ``T`` is ``value(T) - value(control)``, paired by prompt.

Intervals (our choice): percentile bootstrap over prompts, the unit that was selected; every metric and every
difference uses the same resamples, so a difference is paired. With few prompts (say < 10) a percentile
bootstrap under-covers: the report prints the number of prompts beside every interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from erpo.erpo.temperature import TemperatureConfig, TemperaturePolicy
from erpo.erpo.tracker import Outcome
from erpo.errors import InputError

METRICS = ("mixed", "all_wrong", "accuracy", "length", "entropy")


@dataclass(frozen=True)
class Draws:
    """Every group of the grid stage. ``correct``, ``tokens``, ``entropy`` have shape [prompts, temps, repeats]."""

    temperatures: tuple[float, ...]
    control: int  # index of the base temperature (the control) in ``temperatures``
    n: int  # responses per group
    correct: np.ndarray  # correct responses per group (int, 0..n)
    tokens: np.ndarray  # response tokens per group, summed over its n responses (int)
    entropy: np.ndarray  # per-token entropy summed over the group's tokens (float; NaN = not measured)

    def validate(self) -> Draws:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 2:
            raise InputError(f"n={self.n!r}: a group needs n >= 2 responses to be mixed; raise n.")
        shape = np.shape(self.correct)
        if len(shape) != 3 or shape[0] < 1 or shape[2] < 1:
            raise InputError(f"correct has shape {shape}; need [prompts >= 1, temperatures, repeats >= 1].")
        if shape[1] != len(self.temperatures):
            raise InputError(f"correct has {shape[1]} temperatures but temperatures lists {len(self.temperatures)}.")
        for name in ("tokens", "entropy"):
            if np.shape(getattr(self, name)) != shape:
                raise InputError(f"{name} has shape {np.shape(getattr(self, name))}; it must match correct's {shape}.")
        correct = np.asarray(self.correct)
        if not np.issubdtype(correct.dtype, np.integer) or correct.min() < 0 or correct.max() > self.n:
            raise InputError(f"correct holds values outside 0..n={self.n} (or non-integers); each is a count.")
        if np.asarray(self.tokens).min() < self.n:
            raise InputError(f"tokens holds a group with fewer than n={self.n} tokens; every response has >= 1 token.")
        if isinstance(self.control, bool) or not isinstance(self.control, int) or not 0 <= self.control < shape[1]:
            raise InputError(f"control={self.control!r} is not an index of temperatures={list(self.temperatures)}.")
        check_grid(self.temperatures, self.temperatures[self.control])
        return self


def check_grid(temperatures, base) -> tuple[float, ...]:
    """The grid as floats, sorted, distinct, positive, with the base temperature in it (the control)."""
    grid = tuple(float(t) for t in temperatures)
    if not grid:
        raise InputError("grid is empty; list the temperatures to probe, the base temperature included.")
    if any(t <= 0 for t in grid):
        raise InputError(f"grid={list(grid)} has a temperature <= 0; sampling needs T > 0.")
    if list(grid) != sorted(set(grid)):
        raise InputError(f"grid={list(grid)} must be sorted ascending without repeats.")
    if base is None or float(base) not in grid:
        raise InputError(
            f"grid={list(grid)} lacks base_temperature={base}: the control is the second draw at the "
            "base temperature; add it to the grid."
        )
    return grid


def group_outcome(correct: int, n: int) -> str:
    """all_correct | mixed | all_wrong of a group with ``correct`` of ``n`` correct."""
    if not 0 <= correct <= n:
        raise InputError(f"correct={correct} outside 0..n={n}.")
    return "all_correct" if correct == n else "all_wrong" if correct == 0 else "mixed"


def per_prompt(draws: Draws) -> dict[str, np.ndarray]:
    """Each metric as a [prompts, temperatures] array (formulas in the module docstring)."""
    d = draws.validate()
    c = np.asarray(d.correct)
    repeats = c.shape[2]
    tokens = np.asarray(d.tokens, dtype=np.float64).sum(axis=2)
    return {
        "mixed": ((c > 0) & (c < d.n)).mean(axis=2),
        "all_wrong": (c == 0).mean(axis=2),
        "accuracy": c.sum(axis=2) / (repeats * d.n),
        "length": tokens / (repeats * d.n),
        "entropy": np.asarray(d.entropy, dtype=np.float64).sum(axis=2) / tokens,
    }


def bootstrap_indices(prompts: int, iters: int, seed: int) -> np.ndarray:
    """[iters, prompts] resampled prompt indices, shared by every metric (paired differences)."""
    if iters < 100:
        raise InputError(f"bootstrap_iters={iters}: use at least 100 resamples (1000+ for reported intervals).")
    return np.random.default_rng(seed).integers(0, prompts, size=(iters, prompts))


def summarize(values: np.ndarray, control: int, idx: np.ndarray, level: float) -> list[dict]:
    """Per temperature: mean over prompts, its percentile interval, and the paired difference from the control
    column with its interval. ``values`` is [prompts, temperatures]; NaN columns (not measured) give None."""
    if not 0.5 < level < 1:
        raise InputError(f"ci_level={level}: give a coverage in (0.5, 1), e.g. 0.95.")
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    values = np.asarray(values, dtype=np.float64)
    out = []
    for t in range(values.shape[1]):
        col, diff = values[:, t], values[:, t] - values[:, control]
        if np.isnan(col).any():
            out.append({"mean": None, "lo": None, "hi": None, "diff": None, "diff_lo": None, "diff_hi": None})
            continue
        means, diffs = col[idx].mean(axis=1), diff[idx].mean(axis=1)
        out.append(
            {
                "mean": float(col.mean()),
                "lo": float(np.quantile(means, lo_q)),
                "hi": float(np.quantile(means, hi_q)),
                "diff": float(diff.mean()),
                "diff_lo": float(np.quantile(diffs, lo_q)),
                "diff_hi": float(np.quantile(diffs, hi_q)),
            }
        )
    return out


def summary(draws: Draws, iters: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, list[dict]]:
    """``summarize`` for every metric of :func:`per_prompt`, on one set of bootstrap resamples."""
    values = per_prompt(draws)
    idx = bootstrap_indices(draws.correct.shape[0], iters, seed)
    return {m: summarize(values[m], draws.control, idx, level) for m in METRICS}


def choose_temperature(
    temperatures,
    control: int,
    stats: dict[str, list[dict]],
    min_gain: float,
    max_accuracy_drop: float,
    by: str = "interval",
) -> dict:
    """Our rule (not a paper's): the smallest T above the base whose revival gain over the control,
    P(mixed|T) - P(mixed|control), exceeds ``min_gain`` while accuracy drops less than ``max_accuracy_drop``,
    acc(control) - acc(T) < max_accuracy_drop. ``by=interval`` judges the gain by its interval's lower end
    and the drop by its interval's upper end (both must hold with the interval's confidence); ``by=point``
    judges the point estimates. Returns the chosen T (None when no T passes) and every T's verdict."""
    if by not in ("interval", "point"):
        raise InputError(f"choose.by={by!r}: use interval (the conservative ends of the intervals) or point.")
    if min_gain < 0 or not 0 <= max_accuracy_drop <= 1:
        raise InputError(
            f"choose.min_gain={min_gain} must be >= 0 and choose.max_accuracy_drop="
            f"{max_accuracy_drop} in [0, 1] (both are differences of proportions)."
        )
    verdicts, chosen = [], None
    for t, temp in enumerate(temperatures):
        if t <= control:
            continue
        mixed, acc = stats["mixed"][t], stats["accuracy"][t]
        gain = mixed["diff_lo"] if by == "interval" else mixed["diff"]
        drop = -(acc["diff_lo"] if by == "interval" else acc["diff"])  # upper end of the drop = -lower end of diff
        ok_gain, ok_drop = gain > min_gain, drop < max_accuracy_drop
        verdicts.append(
            {
                "temperature": float(temp),
                "gain_judged": gain,
                "drop_judged": drop,
                "gain_ok": bool(ok_gain),
                "drop_ok": bool(ok_drop),
            }
        )
        if chosen is None and ok_gain and ok_drop:
            chosen = float(temp)
    return {
        "temperature": chosen,
        "by": by,
        "min_gain": min_gain,
        "max_accuracy_drop": max_accuracy_drop,
        "verdicts": verdicts,
    }


def schedule_to_reach(
    target: float, base: float, visits: float, reach_fraction: float = 0.5, resolution: float = 0.01
) -> dict:
    """ERPO's additive schedule (erpo/erpo/temperature.py) with ``t_max = target`` and the smallest ``step`` (on a
    ``resolution`` grid) that puts a prompt which stays all correct at ``target`` by visit
    ``v = max(2, floor(reach_fraction * visits))``: the temperature at visit ``j`` is
    ``min(base + (j - 1) * step, t_max)``, so ``step = (target - base) / (v - 1)``, rounded up. Our choice of
    ``reach_fraction`` (0.5: the prompt spends about half of its visits at ``t_max``). The reach is checked by
    stepping erpo.erpo.temperature.TemperaturePolicy itself."""
    if visits < 2:
        raise InputError(
            f"visits={visits:g} per prompt: ERPO raises a temperature only on a revisit after an "
            "all-correct visit, so a run needs >= 2 visits per prompt (more steps or fewer rows)."
        )
    if not 0 < reach_fraction <= 1:
        raise InputError(f"schedule.reach_fraction={reach_fraction}: give a fraction of the visits in (0, 1].")
    if target <= base:
        raise InputError(f"target={target} must exceed base={base}; a schedule raises the temperature.")
    visit = max(2, math.floor(reach_fraction * visits))
    step = math.ceil(round((target - base) / (visit - 1) / resolution, 9)) * resolution
    step = round(step, 10)
    policy = TemperaturePolicy(TemperatureConfig(base=base, t_max=target, schedule="additive", step=step))
    temps, current = [base], np.array([base])
    while len(temps) < max(visit, math.ceil(visits)):
        current = policy.next_temperature(current, np.array([Outcome.ALL_CORRECT]), np.array([len(temps)]))
        temps.append(round(float(current[0]), 10))
    reached = next((j + 1 for j, t in enumerate(temps) if t >= target - 1e-9), None)
    if reached is None or reached > visit:  # the arithmetic above and the policy disagree: a bug, not an input
        raise RuntimeError(f"step={step} does not reach t_max={target} by visit {visit}: {temps}")
    return {
        "t_max": float(target),
        "step": step,
        "base": base,
        "visits": visits,
        "reach_fraction": reach_fraction,
        "reach_visit": visit,
        "reached_at_visit": reached,
        "temperature_per_visit": temps,
    }
