"""Per-prompt history tracker, keyed by a stable prompt key (data_source, dataset index).

Never keyed by verl's per-dispatch ``uid``: the same prompt gets a new uid every epoch. Storage is
:class:`erpo.erpo.prompt_table.PromptTable`, one per data source: compact numpy columns in rows found through
sorted keys, so memory follows the prompts seen (about 125 bytes each with an 8-visit history), not
the largest dataset index, and a batch update is a handful of vectorised array operations.

Contract: every public call checks its arguments (:mod:`erpo.inputs`) and raises one
:class:`~erpo.errors.InputError` naming the argument before anything changes; ``record`` is a
transaction (a failure half way restores every row it touched), so a refused call leaves the
tracker as it was.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from erpo.erpo.prompt_table import PromptTable
from erpo.erpo.tracker_state import tables_from_state, tables_to_state
from erpo.errors import InputError
from erpo.inputs import float_array, integer_array, integer_scalar, source_names

# Limits of the storage dtypes (erpo.erpo.prompt_table): a value beyond them is refused, never wrapped.
STEP_MAX = 2**31 - 1  # int32 step columns
GROUP_MAX = 2**16 - 1  # uint16 group size and correct count
FLOAT16_MAX = 65504.0  # float16 history of rewards and temperatures
VISITS_MAX = 2**31 - 1  # int32 visit counter
INDEX_FIX = "extra_info.index must be the prompt's non-negative integer dataset index (python -m erpo.data writes it)."


class Outcome(enum.IntEnum):
    UNSEEN = 0
    ALL_CORRECT = 1
    ALL_WRONG = 2
    MIXED = 3


def classify(n_correct, n) -> np.ndarray:
    """Outcome code of each group: all correct (n_correct == n), all wrong (0), or mixed."""
    n = integer_array(n, "n", np.size(n), 1, GROUP_MAX, "n is the group size (responses per prompt).")
    n_correct = integer_array(n_correct, "n_correct", len(n), 0, GROUP_MAX, "n_correct counts correct responses.")
    return _classify_checked(n_correct, n)


def _classify_checked(n_correct: np.ndarray, n: np.ndarray) -> np.ndarray:
    above = np.flatnonzero(n_correct > n)
    if len(above):
        pos = int(above[0])
        raise InputError(
            f"n_correct[{pos}]={n_correct[pos]} exceeds n[{pos}]={n[pos]}: a group has at most n correct responses."
        )
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
    """Per recorded group, in call order (a prompt seen twice shows each visit's own values)."""

    outcome: np.ndarray
    previous_outcome: np.ndarray
    all_correct_streak: np.ndarray
    visits: np.ndarray


# next temperatures = move(current temperatures, outcomes, all-correct streaks), vectorised over prompts.
MoveTemperature = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class PromptTracker:
    """History of every prompt seen: visits, outcomes, temperature, a ring of its last visits."""

    def __init__(self, history_length: int = 8, base_temperature: float = 1.0):
        self.history_length = integer_scalar(
            history_length,
            "history_length",
            1,
            GROUP_MAX,
            "erpo.history_length is the number of visits kept per prompt.",
        )
        (base,) = float_array([base_temperature], "base_temperature", 1, 0.0, FLOAT16_MAX, low_inclusive=False)
        self.base_temperature = float(base)
        self._tables: dict[str, PromptTable] = {}

    # ---- lookup ------------------------------------------------------------------------
    def temperatures(self, sources, indices) -> np.ndarray:
        """Temperature currently assigned to each prompt (the base for a prompt never recorded)."""
        return self._lookup(sources, indices, "temperature", self.base_temperature).astype(np.float32)

    def zero_variance_streaks(self, sources, indices) -> tuple[np.ndarray, np.ndarray]:
        """(streak, kind) of each prompt: consecutive latest visits whose group was all correct
        (kind ALL_CORRECT) or all wrong (ALL_WRONG); streak 0 after a mixed visit or none."""
        return (
            self._lookup(sources, indices, "zero_variance_streak", 0).astype(np.int64),
            self._lookup(sources, indices, "last_outcome", Outcome.UNSEEN).astype(np.int8),
        )

    def _lookup(self, sources, indices, column: str, default) -> np.ndarray:
        sources, indices = self._keys(sources, indices)
        out = np.full(len(indices), default, dtype=np.float64)
        for source, pos in _positions_by_source(sources).items():
            table = self._tables.get(source)
            if table is not None:
                rows = table.find(indices[pos])
                seen = rows >= 0
                out[pos[seen]] = table.arrays[column][rows[seen]]
        return out

    def _keys(self, sources, indices) -> tuple[list[str], np.ndarray]:
        sources = source_names(sources)
        return sources, integer_array(indices, "indices", len(sources), fix=INDEX_FIX)

    # ---- update ------------------------------------------------------------------------
    def record(
        self,
        step: int,
        sources,
        indices,
        n,
        n_correct,
        mean_reward,
        temperature_used,
        move_temperature: MoveTemperature | None = None,
        outcome=None,
    ) -> RecordResult:
        """Record one visit per group, in call order.

        A prompt that occurs twice is recorded as two visits, the second from the state the first left
        (its history slot, streak, previous outcome, and the temperature ``move_temperature`` moved).
        ``move_temperature`` moves the prompt's stored temperature, never ``temperature_used``: the
        latter is only logged in the history. ``outcome`` (Outcome codes, one per group) replaces the
        classification by n_correct (GRESO's mean-score rule, erpo/greso/config.py); None = by n_correct.
        """
        sources, indices = self._keys(sources, indices)
        size = len(indices)
        step = integer_scalar(step, "step", 0, STEP_MAX, "step is the training step (stored as int32).")
        n = integer_array(n, "n", size, 1, GROUP_MAX, "n is each group's size, 1..65535 (stored as uint16).")
        n_correct = integer_array(
            n_correct,
            "n_correct",
            size,
            0,
            GROUP_MAX,
            "n_correct counts the responses whose acc >= erpo.correct_threshold.",
        )
        if outcome is None:
            outcome = _classify_checked(n_correct, n)
        else:
            outcome = np.asarray(outcome, dtype=np.int8)
            allowed = (Outcome.ALL_CORRECT, Outcome.ALL_WRONG, Outcome.MIXED)
            if outcome.shape != (size,) or not np.isin(outcome, allowed).all():
                raise InputError(f"outcome must hold one of {[int(o) for o in allowed]} per group ({size}).")
        mean_reward = float_array(
            mean_reward, "mean_reward", size, -FLOAT16_MAX, FLOAT16_MAX, fix="mean_reward is stored as float16."
        )
        temperature_used = float_array(
            temperature_used,
            "temperature_used",
            size,
            0.0,
            FLOAT16_MAX,
            low_inclusive=False,
            fix="a sampling temperature is > 0 (stored as float16).",
        )
        by_source = _positions_by_source(sources)
        found = {
            s: self._tables[s].find(indices[pos]) if s in self._tables else np.full(len(pos), -1)
            for s, pos in by_source.items()
        }
        for source, pos in by_source.items():
            self._check_visit_room(source, indices[pos], found[source])

        visit = _VisitBatch(step, n, n_correct, mean_reward, temperature_used, outcome)
        result = RecordResult(outcome, *(np.zeros(size, np.int64) for _ in range(3)))
        # One source visited once per prompt (the common case) is written by one _apply, which computes
        # everything before it writes; only several writes need the rows copied to undo earlier ones.
        several_writes = len(by_source) > 1 or any(_has_repeats(indices[pos]) for pos in by_source.values())
        undo = _Undo(self)
        try:
            for source, pos in by_source.items():
                undo.save(source, found[source], copy_rows=several_writes)
                rows = self._rows_adding_new(source, indices[pos], found[source])
                for round_rows, round_pos in _occurrence_rounds(rows, pos):
                    self._apply(self._tables[source], round_rows, round_pos, visit, result, move_temperature)
        except BaseException:
            undo.restore()
            raise
        return result

    def _check_visit_room(self, source: str, indices: np.ndarray, rows: np.ndarray) -> None:
        if source not in self._tables or not (rows >= 0).any():
            return
        seen, counts = np.unique(rows[rows >= 0], return_counts=True)
        full = np.flatnonzero(self._tables[source].arrays["visits"][seen].astype(np.int64) + counts > VISITS_MAX)
        if len(full):
            index = int(indices[np.flatnonzero(rows == seen[full[0]])[0]])
            raise InputError(
                f"prompt ({source!r}, {index}) already has {VISITS_MAX} visits, the most its int32 "
                "counter holds; nothing was recorded."
            )

    def _rows_adding_new(self, source: str, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
        table = self._tables.setdefault(source, PromptTable(self.history_length, self.base_temperature))
        new = rows < 0
        if new.any():
            keys = np.unique(indices[new])
            added = table.add(keys)
            rows = rows.copy()
            rows[new] = added[np.searchsorted(keys, indices[new])]
        return rows

    def _apply(
        self,
        table: PromptTable,
        rows,
        pos,
        visit: _VisitBatch,
        result: RecordResult,
        move_temperature: MoveTemperature | None,
    ) -> None:
        """One visit to each of ``rows`` (distinct), from batch positions ``pos``: computed first, then
        written (writes of checked values cannot fail)."""
        a = table.arrays
        outcome = visit.outcome[pos]
        previous = a["last_outcome"][rows]
        visits = a["visits"][rows]
        zero_variance = outcome != Outcome.MIXED
        continues = zero_variance & (outcome == previous)
        streak = np.where(continues, a["zero_variance_streak"][rows] + 1, zero_variance.astype(np.int32))
        all_correct_streak = np.where(outcome == Outcome.ALL_CORRECT, streak, 0)
        moved = None
        if move_temperature is not None:
            current = a["temperature"][rows].astype(np.float64)
            moved = np.asarray(move_temperature(current, outcome, all_correct_streak), dtype=np.float64)
            if moved.shape != current.shape or not np.all(np.isfinite(moved) & (moved > 0) & (moved <= FLOAT16_MAX)):
                raise InputError("move_temperature must return one finite temperature in (0, 65504] per prompt")
        slot = visits % self.history_length
        for column, values in (
            ("h_step", visit.step),
            ("h_n", visit.n[pos]),
            ("h_correct", visit.n_correct[pos]),
            ("h_reward", visit.mean_reward[pos]),
            ("h_temperature", visit.temperature_used[pos]),
        ):
            a[column][rows, slot] = values
        a["visits"][rows] = visits + 1
        a["last_step"][rows] = visit.step
        a["zero_variance_streak"][rows] = streak
        a["last_outcome"][rows] = outcome
        if moved is not None:
            a["temperature"][rows] = moved
        result.previous_outcome[pos], result.visits[pos] = previous, visits + 1
        result.all_correct_streak[pos] = all_correct_streak

    # ---- inspection --------------------------------------------------------------------
    def history(self, source: str, index: int) -> list[Visit]:
        """The prompt's kept visits, oldest first ([] for a prompt never recorded)."""
        (source,) = source_names([source], "source")
        index = integer_scalar(index, "index", fix=INDEX_FIX)
        table = self._tables.get(source)
        row = int(table.find(np.array([index]))[0]) if table is not None else -1
        if row < 0:
            return []
        a, total = table.arrays, int(table.arrays["visits"][row])
        slots = [(total - k) % self.history_length for k in range(min(total, self.history_length), 0, -1)]
        return [
            Visit(
                int(a["h_step"][row, s]),
                int(a["h_n"][row, s]),
                int(a["h_correct"][row, s]),
                float(a["h_reward"][row, s]),
                float(a["h_temperature"][row, s]),
            )
            for s in slots
        ]

    def outcome_histories(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per data source, (visits per prompt, outcomes of the kept visits oldest first, UNSEEN-padded)."""
        out = {}
        for source, table in self._tables.items():
            visits = table.used("visits").astype(np.int64)
            kept = np.minimum(visits, self.history_length)
            order = np.arange(self.history_length)[None, :]
            slot = (visits[:, None] - kept[:, None] + order) % self.history_length
            n = np.take_along_axis(table.used("h_n"), slot, axis=1)
            correct = np.take_along_axis(table.used("h_correct"), slot, axis=1)
            outcome = np.where(
                correct == n, Outcome.ALL_CORRECT, np.where(correct == 0, Outcome.ALL_WRONG, Outcome.MIXED)
            )
            out[source] = (visits, np.where(order < kept[:, None], outcome, Outcome.UNSEEN).astype(np.int8))
        return out

    def prompt_indices(self) -> dict[str, np.ndarray]:
        """Per data source, the dataset index of each row of ``outcome_histories``' arrays."""
        out = {}
        for source, table in self._tables.items():
            index = np.empty(table.size, np.int64)
            index[table.key_rows[: table.size]] = table.keys[: table.size]
            out[source] = index
        return out

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def nbytes(self) -> int:
        return sum(t.nbytes() for t in self._tables.values())

    # ---- persistence -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Versioned, JSON-serialisable state (arrays as base64 of little-endian bytes)."""
        return tables_to_state(self._tables, self.history_length, self.base_temperature)

    def load_state_dict(self, state: dict) -> None:
        """Replace the tracker's contents with ``state`` (checked in full first; refused states change nothing)."""
        self._tables = tables_from_state(state, self.history_length, self.base_temperature)


@dataclass(frozen=True)
class _VisitBatch:
    step: int
    n: np.ndarray
    n_correct: np.ndarray
    mean_reward: np.ndarray
    temperature_used: np.ndarray
    outcome: np.ndarray


class _Undo:
    """The rows a record() touches, as they were, so a failure half way restores them all."""

    def __init__(self, tracker: PromptTracker):
        self.tracker, self.saved = tracker, []

    def save(self, source: str, rows: np.ndarray, copy_rows: bool) -> None:
        """Remember the source's key index, and (``copy_rows``) the existing rows among ``rows``."""
        table = self.tracker._tables.get(source)
        if table is None:
            self.saved.append((source, None))
            return
        rows = np.unique(rows[rows >= 0]) if copy_rows else np.zeros(0, np.int64)
        columns = {name: arr[rows] for name, arr in table.arrays.items()}
        self.saved.append((source, (table, rows, columns, table.size, table.keys, table.key_rows)))

    def restore(self) -> None:
        for source, saved in reversed(self.saved):
            if saved is None:
                self.tracker._tables.pop(source, None)
                continue
            table, rows, columns, size, keys, key_rows = saved
            for name, values in columns.items():
                table.arrays[name][rows] = values
            table.size, table.keys, table.key_rows = size, keys, key_rows
            table.dense_prefix = 0
            table.update_dense_prefix()


def _positions_by_source(sources: list[str]) -> dict[str, np.ndarray]:
    """Batch positions of each distinct source, in first-occurrence order."""
    if not sources:
        return {}
    if sources.count(sources[0]) == len(sources):  # the common case: one data source per batch
        return {sources[0]: np.arange(len(sources))}
    codes = {s: i for i, s in enumerate(dict.fromkeys(sources))}
    code = np.fromiter((codes[s] for s in sources), np.int64, len(sources))
    return {s: np.flatnonzero(code == i) for s, i in codes.items()}


def _has_repeats(values: np.ndarray) -> bool:
    ordered = np.sort(values)
    return bool(np.any(ordered[1:] == ordered[:-1]))


def _occurrence_rounds(rows: np.ndarray, pos: np.ndarray):
    """(rows, positions) rounds holding each row at most once; a row's k-th occurrence is in round k."""
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    repeat = ordered[1:] == ordered[:-1]
    if not repeat.any():
        yield rows, pos
        return
    first = np.concatenate([[True], ~repeat])
    starts = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    rank = np.empty(len(rows), np.int64)
    rank[order] = np.arange(len(rows)) - starts
    for r in range(int(rank.max()) + 1):
        chosen = rank == r
        yield rows[chosen], pos[chosen]
