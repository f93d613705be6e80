"""Slow tests (verl end to end on CPU, minutes each) run by default only in CI.

`python -m pytest -q` deselects them (pyproject addopts `-m "not slow"`) so the README's test
command stays under three minutes on two cores. CI (`CI=true`, 90 minutes) or `ERPO_RUN_SLOW=1` selects
them too; an explicit `-m ...` on the command line always wins.

The suite runs on every core (pytest-xdist, addopts `-n auto --dist loadgroup`); every slow test joins
one group, so the verl runs (each starts Ray and vLLM on all cores) go one after another on one worker
while the other workers take the fast tests.
"""

import os

import pytest


def _run_slow() -> bool:
    return os.environ.get("ERPO_RUN_SLOW") == "1" or os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    explicit = any(a == "-m" or a.startswith("-m") for a in config.invocation_params.args)
    if _run_slow() and not explicit and config.option.markexpr == "not slow":
        config.option.markexpr = ""


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("verl"))
