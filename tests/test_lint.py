"""The code passes the project's ruff configuration (pyproject [tool.ruff]), lint and format, so both run wherever the
tests run, CI included (.ci/run stays the README's two commands)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_passes_on_the_whole_tree():
    # The ruff of the Python running the tests (python -m ruff), not whichever `ruff` PATH finds first: a venv
    # whose bin is not on PATH still lints with its own pinned ruff.
    if importlib.util.find_spec("ruff") is None:  # the lock pins ruff; without it, fail loudly
        pytest.fail(f"ruff is not installed for {sys.executable}: run bash scripts/install.sh (the lock pins ruff)")
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_the_tree_unchanged():
    if importlib.util.find_spec("ruff") is None:
        pytest.fail(f"ruff is not installed for {sys.executable}: run bash scripts/install.sh (the lock pins ruff)")
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, "run `python -m ruff format .`:\n" + out.stdout + out.stderr
