"""Environment variables every Ray process inherits from the driver."""

from __future__ import annotations

import os

EXTERNAL_MODULES_VAR = "VERL_USE_EXTERNAL_MODULES"


def add_verl_external_modules(*modules: str, first: bool = False) -> None:
    """Add ``modules`` to the comma-separated list verl imports in every process (no duplicates).

    ``first``: put them before the user's own (the CPU platform must register before verl resolves
    its platform).
    """
    current = [m for m in os.environ.get(EXTERNAL_MODULES_VAR, "").split(",") if m]
    new = [m for m in modules if m not in current]
    os.environ[EXTERNAL_MODULES_VAR] = ",".join(new + current if first else current + new)
