"""Per-prompt history tracker, keyed by a stable prompt key (data_source, dataset index).

Never keyed by verl's per-dispatch ``uid``: the same prompt gets a new uid every epoch.
Storage is struct-of-arrays numpy, one dense table per data source indexed directly by the
dataset index (dense, non-negative), so 10^7 prompts fit in about a gigabyte and a batch
update is a handful of vectorised array operations.
"""

from __future__ import annotations

import base64
import enum
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FORMAT = "erpo.tracker"
VERSION = 1


class Outcome(enum.IntEnum):
    UNSEEN = 0
    ALL_CORRECT = 1
    ALL_WRONG = 2
    MIXED = 3


def classify(n_correct: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Outcome code of each group: all correct, all wrong, or mixed."""
    n_correct, n = np.asarray(n_correct), np.asarray(n)
    if np.any(n < 1):
        raise ValueError("group size n must be >= 1 for every group")
    if np.any((n_correct < 0) | (n_correct > n)):
        raise ValueError("n_correct must be within [0, n] for every group")
    out = np.full(n.shape, Outcome.MIXED, dtype=np.int8)
    out[n_correct == n] = Outcome.ALL_CORRECT
    out[n_correct == 0] = Outcome.ALL_WRONG
    return out


@dataclass(frozen=True)
class Visit:
    step: int
    n: int
    n_correct: int
    mean_reward: float
    temperature: float


@dataclass
class RecordResult:
    outcome: np.ndarray
    previous_outcome: np.ndarray
    all_correct_streak: np.ndarray
    visits: np.ndarray


# Per-prompt columns and ring-buffer columns (compact dtypes: see the memory benchmark).
_COLUMNS = {"visits": np.int32, "last_step": np.int32, "temperature": np.float32, "streak": np.int16,
            "last_outcome": np.int8}
_RING = {"h_step": np.int32, "h_n": np.uint16, "h_correct": np.uint16, "h_reward": np.float16,
         "h_temperature": np.float16}


class _SourceTable:
    """Dense arrays for the prompts of one data source."""

    def __init__(self, window: int, base_temperature: float, capacity: int = 0):
        self.window, self.base = window, base_temperature
        self.arrays = {name: np.zeros(capacity, dtype) for name, dtype in _COLUMNS.items()}
        self.arrays.update({name: np.zeros((capacity, window), dtype) for name, dtype in _RING.items()})
        self.arrays["temperature"][:] = base_temperature

    @property
    def capacity(self) -> int:
        return len(self.arrays["visits"])

    def ensure(self, max_index: int) -> None:
        if max_index < self.capacity:
            return
        new_cap = max(max_index + 1, 2 * self.capacity, 1024)
        for name, arr in self.arrays.items():
            grown = np.zeros((new_cap,) + arr.shape[1:], arr.dtype)
            grown[: len(arr)] = arr
            if name == "temperature":
                grown[len(arr):] = self.base
            self.arrays[name] = grown


class PromptTracker:
    """History of every prompt seen: visits, outcomes, temperatures, a window of recent visits."""

    def __init__(self, window: int = 8, base_temperature: float = 1.0):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window, self.base_temperature = int(window), float(base_temperature)
        self._tables: dict[str, _SourceTable] = {}

    # ---- lookup ------------------------------------------------------------------------
    def _groups(self, sources: Sequence[str], indices) -> list[tuple[_SourceTable | None, str, np.ndarray, np.ndarray]]:
        """(table, source, positions in the batch, dataset indices) per distinct source."""
        indices = _checked_indices(indices, len(sources))
        sources = np.asarray(sources, dtype=object)
        out = []
        for source in dict.fromkeys(sources.tolist()):
            pos = np.flatnonzero(sources == source)
            out.append((self._tables.get(source), source, pos, indices[pos]))
        return out

    def temperatures(self, sources: Sequence[str], indices) -> np.ndarray:
        """Temperature currently assigned to each prompt (base for unseen prompts)."""
        out = np.full(len(sources), self.base_temperature, dtype=np.float32)
        for table, _, pos, idx in self._groups(sources, indices):
            if table is not None:
                inside = idx < table.capacity
                out[pos[inside]] = table.arrays["temperature"][idx[inside]]
        return out

    def set_temperatures(self, sources: Sequence[str], indices, temps) -> None:
        temps = np.asarray(temps, dtype=np.float32)
        for _, source, pos, idx in self._groups(sources, indices):
            table = self._table(source)
            table.ensure(int(idx.max()))
            table.arrays["temperature"][idx] = temps[pos]

    def _table(self, source: str) -> _SourceTable:
        if source not in self._tables:
            self._tables[source] = _SourceTable(self.window, self.base_temperature)
        return self._tables[source]

    # ---- update ------------------------------------------------------------------------
    def record(self, step: int, sources, indices, n, n_correct, mean_reward, temperature_used) -> RecordResult:
        """Record one visit per prompt. Keys must be distinct within one call (see ERPOController)."""
        n, n_correct = np.asarray(n, np.int64), np.asarray(n_correct, np.int64)
        mean_reward = np.asarray(mean_reward, np.float64)
        temperature_used = np.asarray(temperature_used, np.float64)
        outcome = classify(n_correct, n)
        size = len(outcome)
        prev = np.zeros(size, np.int8)
        streak = np.zeros(size, np.int16)
        visits = np.zeros(size, np.int32)
        for _, source, pos, idx in self._groups(sources, indices):
            if len(np.unique(idx)) != len(idx):
                raise ValueError(f"duplicate prompt keys for data_source {source!r} in one record() call")
            table = self._table(source)
            table.ensure(int(idx.max()))
            a = table.arrays
            prev[pos] = a["last_outcome"][idx]
            slot = a["visits"][idx] % self.window
            a["h_step"][idx, slot] = step
            a["h_n"][idx, slot] = n[pos]
            a["h_correct"][idx, slot] = n_correct[pos]
            a["h_reward"][idx, slot] = mean_reward[pos]
            a["h_temperature"][idx, slot] = temperature_used[pos]
            a["visits"][idx] += 1
            a["last_step"][idx] = step
            a["last_outcome"][idx] = outcome[pos]
            correct = outcome[pos] == Outcome.ALL_CORRECT
            a["streak"][idx] = np.where(correct, a["streak"][idx] + 1, 0)
            streak[pos] = a["streak"][idx]
            visits[pos] = a["visits"][idx]
        return RecordResult(outcome, prev, streak, visits)

    # ---- inspection --------------------------------------------------------------------
    def history(self, source: str, index: int) -> list[Visit]:
        table = self._tables.get(source)
        if table is None or index >= table.capacity or table.arrays["visits"][index] == 0:
            return []
        a, total = table.arrays, int(table.arrays["visits"][index])
        slots = [(total - k) % self.window for k in range(min(total, self.window), 0, -1)]
        return [Visit(int(a["h_step"][index, s]), int(a["h_n"][index, s]), int(a["h_correct"][index, s]),
                      float(a["h_reward"][index, s]), float(a["h_temperature"][index, s])) for s in slots]

    def __len__(self) -> int:
        return int(sum(np.count_nonzero(t.arrays["visits"]) for t in self._tables.values()))

    def nbytes(self) -> int:
        return int(sum(arr.nbytes for t in self._tables.values() for arr in t.arrays.values()))

    # ---- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Versioned, JSON-serialisable state (arrays as base64 of little-endian bytes)."""
        tables = {}
        for source, table in self._tables.items():
            used = _used_capacity(table)
            tables[source] = {name: _encode(arr[:used]) for name, arr in table.arrays.items()}
        return {"format": FORMAT, "version": VERSION, "window": self.window,
                "base_temperature": self.base_temperature, "tables": tables}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"not an ERPO tracker state (format={state.get('format') if isinstance(state, dict) else None!r})")
        if state.get("version") != VERSION:
            raise ValueError(f"tracker state version {state.get('version')!r} is not supported (expected {VERSION})")
        if int(state["window"]) != self.window:
            raise ValueError(
                f"tracker state has window={state['window']} but erpo.window={self.window}; resume with the same window"
            )
        tables = {}
        for source, arrays in state["tables"].items():
            table = _SourceTable(self.window, float(state["base_temperature"]))
            table.arrays = {name: _decode(arrays[name]) for name in list(_COLUMNS) + list(_RING)}
            sizes = {len(arr) for arr in table.arrays.values()}
            if len(sizes) != 1 or any(table.arrays[n].shape[1:] != (self.window,) for n in _RING):
                raise ValueError(f"tracker state for {source!r} has inconsistent array shapes")
            tables[source] = table
        self._tables = tables
        self.base_temperature = float(state["base_temperature"])

    def save(self, path: str) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.state_dict(), f)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> PromptTracker:
        try:
            with open(path) as f:
                state = json.load(f)
            tracker = cls(window=int(state["window"]), base_temperature=float(state["base_temperature"]))
            tracker.load_state_dict(state)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"cannot load ERPO tracker state from {path!r}: {err}") from err
        return tracker


def _checked_indices(indices, size: int) -> np.ndarray:
    arr = np.asarray(indices)
    if arr.shape != (size,):
        raise ValueError(f"got {arr.shape} indices for {size} data sources")
    if size and (arr.dtype.kind not in "iu" or arr.min() < 0):
        raise ValueError(
            "extra_info.index must be a non-negative integer dataset index for every prompt "
            f"(got dtype {arr.dtype}, min {arr.min() if arr.dtype.kind in 'iuf' else 'n/a'})"
        )
    return arr.astype(np.int64, copy=False)


def _used_capacity(table: _SourceTable) -> int:
    seen = np.flatnonzero(table.arrays["visits"])
    touched = np.flatnonzero(table.arrays["temperature"] != table.base)
    last = max(seen[-1] if len(seen) else -1, touched[-1] if len(touched) else -1)
    return int(last) + 1


def _encode(arr: np.ndarray) -> dict:
    little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return {"dtype": little.dtype.str, "shape": list(arr.shape), "b64": base64.b64encode(little.tobytes()).decode()}


def _decode(blob: dict) -> np.ndarray:
    raw = base64.b64decode(blob["b64"])
    arr = np.frombuffer(raw, dtype=np.dtype(blob["dtype"])).reshape(blob["shape"])
    return arr.astype(arr.dtype.newbyteorder("="), copy=True)
