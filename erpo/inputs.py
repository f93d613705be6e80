"""Checks of the arguments to the core's public calls (tracker, controller, GRESO selector).

The core is called by verl's trainer, the simulator and users' own loops, so every public entry point
checks its arguments before it changes anything, and refuses bad ones with one
:class:`~erpo.errors.InputError` that names the argument, the first offending position and the fix.
Integer arguments accept integer arrays, and float arrays only when every value is a whole number
below 2**53 (exact in a float); booleans, fractions, NaN and values that wrap in a cast are refused.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from erpo.errors import InputError

INT64_MAX = 2**63 - 1
_EXACT_FLOAT = 2**53


def source_names(sources, name: str = "sources") -> list[str]:
    """``sources`` as a list of str (one data_source per prompt)."""
    if isinstance(sources, (str, bytes)) or not isinstance(sources, (Sequence, np.ndarray)):
        raise InputError(
            f"{name} must be a sequence of data_source strings, one per prompt; got {type(sources).__name__}"
        )
    out = list(sources.tolist() if isinstance(sources, np.ndarray) else sources)
    if set(map(type, out)) <= {str}:
        return out
    for pos, source in enumerate(out):
        if not isinstance(source, str):
            raise InputError(f"{name}[{pos}]={source!r} is a {type(source).__name__}; each data_source is a string")
    return out


def integer_array(values, name: str, size: int, low: int = 0, high: int = INT64_MAX, fix: str = "") -> np.ndarray:
    """``values`` as a 1-D int64 array of length ``size`` with every value in [low, high]."""
    arr = _array(values, name)
    _check_length(arr, name, size)
    if arr.dtype.kind == "O":
        return _python_integers(arr, name, low, high, fix)
    if arr.dtype.kind == "f" or (arr.size == 0 and arr.dtype.kind != "b"):
        arr = _whole_floats(arr.astype(np.float64, copy=False), name, fix)
    elif arr.dtype.kind not in "iu":
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}. {fix}".rstrip())
    if arr.size:
        # Compared in the array's own dtype, so an unsigned value above INT64_MAX is caught before it wraps.
        bad = np.flatnonzero((arr < low) | (arr > high))
        if len(bad):
            pos = int(bad[0])
            raise InputError(f"{name}[{pos}]={arr[pos]} is outside [{low}, {high}]. {fix}".rstrip())
    return arr.astype(np.int64)


def float_array(
    values, name: str, size: int, low: float, high: float, low_inclusive: bool = True, fix: str = ""
) -> np.ndarray:
    """``values`` as a 1-D float64 array of length ``size``, finite, in [low, high] (or (low, high])."""
    arr = _array(values, name)
    _check_length(arr, name, size)
    if arr.dtype.kind not in "iuf" and not (arr.dtype.kind == "O" and _all_real(arr)) and arr.size:
        raise InputError(f"{name} must hold numbers, got dtype {arr.dtype}. {fix}".rstrip())
    arr = arr.astype(np.float64)
    too_low = arr < low if low_inclusive else arr <= low
    bad = np.flatnonzero(~np.isfinite(arr) | too_low | (arr > high))
    if len(bad):
        pos = int(bad[0])
        bound = f"[{low}, {high}]" if low_inclusive else f"({low}, {high}]"
        raise InputError(f"{name}[{pos}]={arr[pos]} must be finite and in {bound}. {fix}".rstrip())
    return arr


def integer_scalar(value, name: str, low: int = 0, high: int = INT64_MAX, fix: str = "") -> int:
    """``value`` as a Python int in [low, high]; bools and non-whole floats are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, float, np.floating)):
        raise InputError(f"{name}={value!r} must be an integer. {fix}".rstrip())
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise InputError(f"{name}={value!r} must be a whole number. {fix}".rstrip())
    out = int(value)
    if not low <= out <= high:
        raise InputError(f"{name}={out} is outside [{low}, {high}]. {fix}".rstrip())
    return out


def _array(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise InputError(f"{name} must be an array of numbers, got a string")
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as err:
        raise InputError(f"{name} is not a 1-D array of numbers ({err})") from None
    return arr


def _check_length(arr: np.ndarray, name: str, size: int) -> None:
    if arr.ndim != 1 or len(arr) != size:
        raise InputError(f"{name} has shape {arr.shape}; expected one value per prompt, shape ({size},)")


def _whole_floats(arr: np.ndarray, name: str, fix: str) -> np.ndarray:
    bad = np.flatnonzero(~np.isfinite(arr) | (np.abs(arr) >= _EXACT_FLOAT) | (arr != np.round(arr)))
    if len(bad):
        pos = int(bad[0])
        raise InputError(f"{name}[{pos}]={arr[pos]} is not a whole number. {fix}".rstrip())
    return arr.astype(np.int64)


def _python_integers(arr: np.ndarray, name: str, low: int, high: int, fix: str) -> np.ndarray:
    for pos, value in enumerate(arr.tolist()):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputError(f"{name}[{pos}]={value!r} must be an integer. {fix}".rstrip())
        if not low <= value <= high:
            raise InputError(f"{name}[{pos}]={value} is outside [{low}, {high}]. {fix}".rstrip())
    return arr.astype(np.int64)


def _all_real(arr: np.ndarray) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in arr.tolist())
