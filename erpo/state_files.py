"""The one way checkpoint side files (ERPO's tracker, PREPO's schedule, GRESO's state) are written and read.

Written atomically (a temporary file, then a rename), so a kill mid-write never leaves half a file.
Read strictly: a missing or corrupt file is a :class:`~erpo.errors.StateFileError` that names the file
and the fix, unless the caller allows a fresh start, which is then logged, never silent.
"""

from __future__ import annotations

import json
import logging
import os

from erpo.errors import StateFileError

logger = logging.getLogger(__name__)


def write_state(path: str, state: dict) -> None:
    """Write ``state`` as JSON at ``path`` via ``path.tmp`` and ``os.replace``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def read_state(path: str, *, what: str, fix: str, allow_fresh: bool = False, fresh_flag: str = "") -> dict | None:
    """The JSON object at ``path``.

    A missing, unreadable or non-object file raises StateFileError("<what> <path> is missing or
    unreadable (...). <fix>"); with ``allow_fresh`` it is logged as a warning naming ``fresh_flag``
    and None is returned, so the caller starts that state afresh.
    """
    try:
        with open(path) as f:
            state = json.load(f)
        if not isinstance(state, dict):
            raise ValueError(f"expected a JSON object, found {type(state).__name__}")
    except (OSError, ValueError) as err:
        message = f"{what} {path!r} is missing or unreadable ({err}). {fix}"
        if not allow_fresh:
            raise StateFileError(message) from err
        logger.warning("%s Starting a fresh %s instead, as %s=true asks.", message, what, fresh_flag)
        return None
    return state
