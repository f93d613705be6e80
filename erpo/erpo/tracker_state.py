"""The tracker's checkpoint state (part of ``erpo_state.json``): to a JSON-ready dict and back, strictly.

Format ``erpo.tracker`` version 2: per data source, the sorted dataset indices (``keys``), the row of
each key (``rows``), and every column of the rows in use, each as base64 of little-endian bytes.
Loading checks everything before it returns (a refused state changes nothing) and refuses a state of
another history length or base temperature: resuming under a changed ``erpo.temperature.base`` would
leave two bases in use (the stored temperatures of the old one, the policy's new one).
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from erpo.erpo.prompt_table import COLUMNS, RING, PromptTable
from erpo.errors import ConfigError, InputError

FORMAT = "erpo.tracker"
VERSION = 2  # 2: sparse keys, `history_length`, zero-variance streaks. 1: dense tables, `window`.
_OUTCOMES = (1, 2, 3)  # ALL_CORRECT, ALL_WRONG, MIXED: the outcome of a recorded visit


def tables_to_state(tables: dict[str, PromptTable], history_length: int, base_temperature: float) -> dict:
    sources = {}
    for source, table in tables.items():
        blobs = {"keys": _encode(table.keys), "rows": _encode(table.key_rows)}
        blobs.update({name: _encode(table.used(name)) for name in table.arrays})
        sources[source] = blobs
    return {
        "format": FORMAT,
        "version": VERSION,
        "history_length": history_length,
        "base_temperature": base_temperature,
        "sources": sources,
    }


def tables_from_state(state, history_length: int, base_temperature: float) -> dict[str, PromptTable]:
    """The tables held by ``state``; InputError (bad state) or ConfigError (other settings) otherwise."""
    _check_header(state, history_length, base_temperature)
    if not isinstance(state.get("sources"), dict):
        raise InputError("tracker state has no 'sources' mapping; it is not an erpo.tracker version 2 state")
    return {
        source: _table(source, blobs, history_length, base_temperature) for source, blobs in state["sources"].items()
    }


def _check_header(state, history_length: int, base_temperature: float) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise InputError(f"not an ERPO tracker state (format={found!r}, expected {FORMAT!r})")
    if state.get("version") == 1:
        raise InputError(
            "tracker state version 1 (dense tables keyed by `window`) is not read by this erpo (version 2: sparse "
            "keys, `history_length`, zero-variance streaks). Resume with the erpo commit that wrote it, or move the "
            "checkpoint's erpo_state.json away and set erpo.allow_fresh_tracker=true to continue with an empty tracker."
        )
    if state.get("version") != VERSION:
        raise InputError(f"tracker state version {state.get('version')!r} is not supported (expected {VERSION})")
    if state.get("history_length") != history_length:
        raise ConfigError(
            f"tracker state keeps a history window of {state.get('history_length')!r} visits per prompt but "
            f"erpo.history_length={history_length}; resume with erpo.history_length={state.get('history_length')!r}."
        )
    saved_base = state.get("base_temperature")
    if saved_base != base_temperature:
        raise ConfigError(
            f"tracker state was written with erpo.temperature.base={saved_base!r} but the config says "
            f"{base_temperature}; resume with erpo.temperature.base={saved_base!r} (its tracked temperatures are "
            "relative to that base; a changed base would leave two bases in use)."
        )


def _table(source, blobs, history_length: int, base_temperature: float) -> PromptTable:
    where = f"tracker state sources[{source!r}]"
    if not isinstance(source, str) or not isinstance(blobs, dict):
        raise InputError(f"{where} must map a data_source string to its arrays")
    names = ["keys", "rows", *COLUMNS, *RING]
    missing = [name for name in names if name not in blobs]
    if missing:
        raise InputError(f"{where} lacks arrays {missing}")
    keys = _decode(blobs["keys"], np.int64, 1, f"{where}.keys")
    size = len(keys)
    table = PromptTable(history_length, base_temperature)
    table.keys, table.size = keys, size
    table.key_rows = _decode(blobs["rows"], np.int32, 1, f"{where}.rows")
    for name, dtype in {**COLUMNS, **RING}.items():
        table.arrays[name] = _decode(blobs[name], dtype, 1 if name in COLUMNS else 2, f"{where}.{name}")
    _check_table(table, size, history_length, where)
    table.dense_prefix = 0
    table.update_dense_prefix()
    return table


def _check_table(table: PromptTable, size: int, history_length: int, where: str) -> None:
    a = table.arrays
    for name, arr in [("rows", table.key_rows), *a.items()]:
        expected = (size, history_length) if name in RING else (size,)
        if arr.shape != expected:
            raise InputError(f"{where}.{name} has shape {arr.shape}, expected {expected}")
    problems = {
        "keys": size and (table.keys[0] < 0 or np.any(np.diff(table.keys) <= 0)),
        "rows": size and not _is_permutation(table.key_rows, size),
        "visits": np.any(a["visits"] < 1),
        "last_outcome": np.any((a["last_outcome"] < min(_OUTCOMES)) | (a["last_outcome"] > max(_OUTCOMES))),
        "zero_variance_streak": np.any((a["zero_variance_streak"] < 0) | (a["zero_variance_streak"] > a["visits"])),
        "temperature": not np.all(np.isfinite(a["temperature"]) & (a["temperature"] > 0)),
        "last_step": np.any(a["last_step"] < 0),
    }
    why = {
        "keys": "must be non-negative dataset indices, sorted and distinct",
        "rows": "must be a permutation of the rows",
        "visits": "must be >= 1 for every stored prompt",
        "last_outcome": "must be 1, 2 or 3 (all correct, all wrong, mixed)",
        "zero_variance_streak": "must be within [0, visits]",
        "temperature": "must be finite and > 0",
        "last_step": "must be >= 0",
    }
    for name, bad in problems.items():
        if bad:
            raise InputError(f"{where}.{name} {why[name]}; the state is corrupt")


def _is_permutation(rows: np.ndarray, size: int) -> bool:
    """Every row 0..size-1 exactly once (O(N), unlike a sort)."""
    return bool(rows.min() >= 0 and rows.max() < size and np.all(np.bincount(rows, minlength=size) == 1))


def _encode(arr: np.ndarray) -> dict:
    little = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
    return {
        "dtype": little.dtype.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(memoryview(little).cast("B")).decode("ascii"),
    }


def _decode(blob, dtype, ndim: int, where: str) -> np.ndarray:
    expected = np.dtype(dtype).newbyteorder("<")
    if not isinstance(blob, dict) or blob.get("dtype") != expected.str:
        found = blob.get("dtype") if isinstance(blob, dict) else type(blob).__name__
        raise InputError(f"{where} must be an encoded {expected.str} array, found {found!r}")
    shape = blob.get("shape")
    if not isinstance(shape, list) or len(shape) != ndim or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InputError(f"{where} has shape {shape!r}, expected {ndim} non-negative dimensions")
    try:
        # Not validate=True (30 % slower): a damaged string decodes to the wrong length, which reshape refuses.
        raw = base64.b64decode(blob.get("b64", ""))
        arr = np.frombuffer(raw, dtype=expected).reshape(shape)
    except (binascii.Error, ValueError, TypeError) as err:
        raise InputError(f"{where} is not valid base64 of a {shape} array ({err})") from None
    return arr.astype(np.dtype(dtype), copy=True)
