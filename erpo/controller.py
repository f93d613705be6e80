"""ERPO controller: the tracker plus the temperature policy, behind two calls.

``assign`` before rollout (temperature of each prompt), ``update`` after scoring (record
every group, move temperatures, return metrics). Framework-free: the verl recipe and the
simulator call the same object.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from erpo.config import ERPOConfig
from erpo.metrics import visit_metrics
from erpo.temperature import TemperaturePolicy
from erpo.tracker import PromptTracker, RecordResult

logger = logging.getLogger(__name__)


class ERPOController:
    def __init__(self, cfg: ERPOConfig):
        self.cfg = cfg.validate()
        self.policy = TemperaturePolicy(cfg.temperature)
        self.tracker = PromptTracker(window=cfg.history_length, base_temperature=cfg.temperature.base)

    def assign(self, sources: Sequence[str], indices) -> np.ndarray:
        """Sampling temperature of each prompt for its next rollout."""
        if not self.cfg.enabled:
            return np.full(len(sources), self.cfg.temperature.base, dtype=np.float32)
        return self.tracker.temperatures(sources, indices)

    def update(self, step: int, sources: Sequence[str], indices, n, n_correct, mean_reward,
               temperature_used) -> dict[str, float]:
        """Record one visit per group; a prompt seen twice in one batch is applied in order."""
        sources = list(sources)
        indices = np.asarray(indices, dtype=np.int64)
        arrays = [np.asarray(a) for a in (n, n_correct, mean_reward, temperature_used)]
        results = []
        for rows in _occurrence_rounds(sources, indices):
            src = [sources[i] for i in rows]
            n_r, c_r, r_r, t_r = (a[rows] for a in arrays)
            result = self.tracker.record(step, src, indices[rows], n_r, c_r, r_r, t_r)
            if self.cfg.enabled:
                nxt = self.policy.next_temperature(t_r, result.outcome, result.all_correct_streak)
                self.tracker.set_temperatures(src, indices[rows], nxt)
            results.append((rows, result))
        merged = _merge(results, len(sources))
        return visit_metrics(merged, arrays[3], len(self.tracker), self.cfg.temperature.base)

    @staticmethod
    def group_samples(sample_sources, sample_indices, sample_correct, sample_reward, sample_temperature):
        """Per-sample arrays (responses of one prompt share a key) to per-prompt arrays."""
        sources = np.asarray(sample_sources, dtype=object)
        indices = np.asarray(sample_indices, dtype=np.int64)
        _, source_ids = np.unique(sources, return_inverse=True)
        keys = source_ids.astype(np.int64) << 40 | indices
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        n = np.bincount(inverse)
        n_correct = np.bincount(inverse, weights=np.asarray(sample_correct, dtype=np.float64)).astype(np.int64)
        mean_reward = np.bincount(inverse, weights=np.asarray(sample_reward, dtype=np.float64)) / n
        temps = np.asarray(sample_temperature, dtype=np.float64)
        if np.any(np.abs(temps - temps[first][inverse]) > 1e-6):
            raise ValueError("responses of one prompt were sampled at different temperatures")
        return sources[first].tolist(), indices[first], n, n_correct, mean_reward, temps[first]

    # ---- persistence -------------------------------------------------------------------
    def fingerprint(self) -> str:
        blob = json.dumps(asdict(self.cfg.temperature), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def state_dict(self) -> dict:
        return {"tracker": self.tracker.state_dict(), "temperature_fingerprint": self.fingerprint(),
                "enabled": self.cfg.enabled}

    def load_state_dict(self, state: dict) -> None:
        if state.get("temperature_fingerprint") != self.fingerprint():
            logger.warning("ERPO temperature config changed since the checkpoint; tracked temperatures are kept.")
        self.tracker.load_state_dict(state["tracker"])


def _occurrence_rounds(sources: list[str], indices: np.ndarray) -> list[np.ndarray]:
    """Split rows so each round holds each prompt at most once, in batch order."""
    seen: dict[tuple[str, int], int] = {}
    rank = np.empty(len(sources), dtype=np.int64)
    if len(set(zip(sources, indices.tolist()))) == len(sources):
        return [np.arange(len(sources))]
    for row, key in enumerate(zip(sources, indices.tolist())):
        rank[row] = seen.get(key, 0)
        seen[key] = rank[row] + 1
    return [np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)]


def _merge(results: list[tuple[np.ndarray, RecordResult]], size: int) -> RecordResult:
    if len(results) == 1:
        return results[0][1]
    merged = RecordResult(*(np.zeros(size, dtype=np.int64) for _ in range(4)))
    for rows, res in results:
        merged.outcome[rows], merged.previous_outcome[rows] = res.outcome, res.previous_outcome
        merged.all_correct_streak[rows], merged.visits[rows] = res.all_correct_streak, res.visits
    return merged
