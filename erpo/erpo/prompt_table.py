"""Storage of one data source's prompts: rows of compact numpy columns, found through sorted keys.

A prompt's key is its dataset index. Rows are appended in first-visit order; ``keys`` (sorted) and
``key_rows`` map a key to its row with one vectorised ``searchsorted``. Memory grows with the
prompts seen, never with the largest index: index 10**12 costs one row. Looking up B keys costs
O(B log N), or O(B) for keys in the dense prefix 0..m-1 that every dataset fills after an epoch;
adding new keys costs one O(N) merge of the key index (12 bytes per prompt).
"""

from __future__ import annotations

import numpy as np

# Per-prompt columns. The zero-variance streak counts consecutive visits, ending with the latest, whose
# group was all correct (or all wrong) like the latest one (0 after a mixed visit); `last_outcome` says which.
COLUMNS = {
    "visits": np.int32,
    "last_step": np.int32,
    "temperature": np.float32,
    "zero_variance_streak": np.int32,
    "last_outcome": np.int8,
}
# Ring buffer of the last `history_length` visits (float16: 3 significant digits are enough for a log).
RING = {
    "h_step": np.int32,
    "h_n": np.uint16,
    "h_correct": np.uint16,
    "h_reward": np.float16,
    "h_temperature": np.float16,
}
GROWTH = 1.25  # capacity grows by 25 %, so a large table wastes at most a fifth of its rows


class PromptTable:
    """Rows of one data source; ``len(table)`` rows are in use, the arrays may hold more capacity."""

    def __init__(self, history_length: int, base_temperature: float):
        self.history_length, self.base_temperature = history_length, base_temperature
        self.keys = np.zeros(0, np.int64)
        self.key_rows = np.zeros(0, np.int32)
        self.dense_prefix = 0  # keys[:m] == 0..m-1, so key k < m sits at position k
        self.arrays = {name: np.zeros(0, dtype) for name, dtype in COLUMNS.items()}
        self.arrays.update({name: np.zeros((0, history_length), dtype) for name, dtype in RING.items()})
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def find(self, indices: np.ndarray) -> np.ndarray:
        """Row of each dataset index, -1 where the prompt has no row."""
        rows = np.full(len(indices), -1, np.int64)
        if not len(self.keys):
            return rows
        inside = indices < self.dense_prefix
        if inside.all():
            return self.key_rows[indices].astype(np.int64)
        rows[inside] = self.key_rows[indices[inside]]
        rest = np.flatnonzero(~inside)
        pos = np.minimum(np.searchsorted(self.keys, indices[rest]), len(self.keys) - 1)
        found = self.keys[pos] == indices[rest]
        rows[rest[found]] = self.key_rows[pos[found]]
        return rows

    def add(self, new_keys: np.ndarray) -> np.ndarray:
        """Rows for ``new_keys`` (sorted, distinct, not yet present), initialised as unseen prompts."""
        count = len(new_keys)
        self._reserve(self.size + count)
        rows = np.arange(self.size, self.size + count, dtype=np.int64)
        for name in self.arrays:
            self.arrays[name][rows] = 0
        self.arrays["temperature"][rows] = self.base_temperature
        # One merge for both index arrays: the new keys land at their sorted places, the old ones around them.
        place = np.searchsorted(self.keys, new_keys) + np.arange(count)
        old = np.ones(len(self.keys) + count, bool)
        old[place] = False
        keys, key_rows = np.empty(len(old), np.int64), np.empty(len(old), np.int32)
        keys[old], keys[place] = self.keys, new_keys
        key_rows[old], key_rows[place] = self.key_rows, rows
        self.keys, self.key_rows = keys, key_rows
        self.size += count
        self.update_dense_prefix()
        return rows

    def update_dense_prefix(self) -> None:
        """m = how many leading keys equal their position (keys - position never decreases: distinct, sorted).

        It only grows, and only when a new key filled position m, so the scan starts there."""
        m = min(self.dense_prefix, len(self.keys))
        if m < len(self.keys) and self.keys[m] == m:
            m += int(np.searchsorted(self.keys[m:] - np.arange(m, len(self.keys)), 1))
        self.dense_prefix = m

    def _reserve(self, needed: int) -> None:
        capacity = len(self.arrays["visits"])
        if needed <= capacity:
            return
        new_capacity = max(needed, int(capacity * GROWTH) + 1, 1024)
        for name, arr in self.arrays.items():
            grown = np.zeros((new_capacity,) + arr.shape[1:], arr.dtype)
            grown[: self.size] = arr[: self.size]
            self.arrays[name] = grown

    def used(self, name: str) -> np.ndarray:
        """The rows in use of column ``name`` (a view)."""
        return self.arrays[name][: self.size]

    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.key_rows.nbytes + sum(arr.nbytes for arr in self.arrays.values()))
