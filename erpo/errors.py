"""The core's error types, in one module every other core module may import (no import loops).

Each message names the field or argument at fault and how to fix it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field (e.g. ``erpo.window``) and the fix."""


class InputError(ValueError):
    """Bad arguments to a public call of the core (tracker, controller, selectors); names the argument."""


class StateFileError(RuntimeError):
    """A checkpoint side file (tracker, scheduler state) that is missing or unreadable; names the file."""
