"""ERPO metrics of one training step, namespaced ``erpo/`` (verl's loggers take scalars).

| metric | meaning | unit |
|---|---|---|
| erpo/frac_all_correct | groups of this step whose responses were all correct (residual) | fraction |
| erpo/frac_all_wrong | groups whose responses were all wrong (residual) | fraction |
| erpo/frac_mixed | groups with both correct and wrong responses (carry gradient) | fraction |
| erpo/revival_candidates | groups whose prompt was all-correct on its previous visit | count |
| erpo/revived_frac | of those, the fraction that came back mixed (signal revived) | fraction |
| erpo/temperature_mean, _min, _max | sampling temperature of this step's groups | temperature |
| erpo/frac_raised_temperature | groups sampled above the base temperature | fraction |
| erpo/temperature_hist/<lo>-<hi> | groups sampled with temperature in [lo, hi) | fraction |
| erpo/groups | groups recorded this step (DAPO-evicted groups included) | count |
| erpo/prompts_tracked | prompts with at least one recorded visit | count |
| erpo/timing_s | wall time of the step's ERPO data-side work (logged by the trainer) | seconds |
"""

from __future__ import annotations

import numpy as np

from erpo.erpo.tracker import Outcome, RecordResult

DEFAULT_EDGES = (0.0, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 2.0, np.inf)


def visit_metrics(
    result: RecordResult, temperature_used: np.ndarray, num_tracked: int, base: float, hist_edges=DEFAULT_EDGES
) -> dict[str, float]:
    """The ``erpo/`` metrics of one ``update`` call from what the tracker recorded."""
    outcome = np.asarray(result.outcome)
    temps = np.asarray(temperature_used, dtype=np.float64)
    size = max(len(outcome), 1)
    candidates = np.asarray(result.previous_outcome) == Outcome.ALL_CORRECT
    revived = candidates & (outcome == Outcome.MIXED)
    metrics = {
        "erpo/groups": float(len(outcome)),
        "erpo/frac_all_correct": float(np.sum(outcome == Outcome.ALL_CORRECT) / size),
        "erpo/frac_all_wrong": float(np.sum(outcome == Outcome.ALL_WRONG) / size),
        "erpo/frac_mixed": float(np.sum(outcome == Outcome.MIXED) / size),
        "erpo/revival_candidates": float(candidates.sum()),
        "erpo/revived_frac": float(revived.sum() / candidates.sum()) if candidates.any() else 0.0,
        "erpo/temperature_mean": float(temps.mean()) if len(temps) else base,
        "erpo/temperature_min": float(temps.min()) if len(temps) else base,
        "erpo/temperature_max": float(temps.max()) if len(temps) else base,
        "erpo/frac_raised_temperature": float(np.sum(temps > base + 1e-6) / size),
        "erpo/prompts_tracked": float(num_tracked),
    }
    counts, _ = np.histogram(temps, bins=np.asarray(hist_edges, dtype=np.float64))
    for lo, hi, count in zip(hist_edges[:-1], hist_edges[1:], counts, strict=True):
        metrics[f"erpo/temperature_hist/{lo:g}-{hi:g}"] = float(count / size)
    return metrics
