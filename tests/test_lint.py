"""The code passes the project's ruff configuration (pyproject [tool.ruff]), so lint runs wherever the tests run,
CI included (.ci/run stays the README's two commands)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_passes_on_the_whole_tree():
    ruff = shutil.which("ruff")
    if ruff is None:  # the test extra installs ruff (requirements/cpu.lock.txt); without it, fail loudly
        pytest.fail("ruff is not installed: run bash scripts/install.sh (the lock pins ruff)")
    out = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
