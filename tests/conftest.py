"""Slow tests (verl end to end on CPU, minutes each) run by default only in CI.

`python -m pytest -q` deselects them (pyproject addopts `-m "not slow"`) so the README's test
command stays under three minutes on two cores. CI (`CI=true`, 90 minutes) or `ERPO_RUN_SLOW=1` selects
them too; an explicit `-m ...` on the command line always wins.

The suite runs on every core (pytest-xdist, addopts `-n auto --dist load`: test by test, since one file,
tests/test_configs.py, is a third of the suite); the verl runs (each starts Ray and vLLM on all cores) go one
after another: every slow test takes one lock.
"""

import os

import pytest
from filelock import FileLock


def _run_slow() -> bool:
    return os.environ.get("ERPO_RUN_SLOW") == "1" or os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    explicit = any(a == "-m" or a.startswith("-m") for a in config.invocation_params.args)
    if _run_slow() and not explicit and config.option.markexpr == "not slow":
        config.option.markexpr = ""


@pytest.fixture(autouse=True)
def _environment_restored():
    """Every test leaves os.environ as it found it. The start-up code sets variables on purpose (W&B run
    identity, logger root, platform flags); one left behind by a fast test reaches every later subprocess of the
    same worker, e.g. a W&B run id that merged all of a slow test's runs into one W&B run."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _one_verl_run_at_a_time(request, tmp_path_factory):
    """Slow tests take a lock beside every worker's temp folder: one verl run at a time across workers.

    (xdist's loadgroup cannot pin them to one worker under pytest 9.2: it renames items through an attribute
    pytest no longer reads.)"""
    if request.node.get_closest_marker("slow") is None:
        yield
        return
    with FileLock(str(tmp_path_factory.getbasetemp().parent / "erpo-verl-run.lock")):
        yield
