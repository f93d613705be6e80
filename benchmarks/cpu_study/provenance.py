"""Which code produced a study run: the project commit, whether the working tree differed from it, and a
fingerprint of the code alone.

The study's results are committed while it runs (each finished run's small files), so HEAD moves between
runs without any code changing. Runs are therefore compared by ``code_tree``: a hash of the git tree ids of
the code paths (``CODE_PATHS``) as they are in the working tree (staged into a throw-away index, .gitignore
respected), so the same code gives the same fingerprint committed or not, and any edit changes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# What decides a run's behaviour: the core, the verl recipe with its configs (recipe/conf), the study's own code
# (its runs' commands and assets), the packaging.
CODE_PATHS = ("erpo", "recipe", "benchmarks/cpu_study", "pyproject.toml")


def _git(root: Path, *args: str, env: dict | None = None) -> str:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed in {root}: {out.stderr.strip()} (the study records the "
            "commit of every run; run it from a git checkout of the project)"
        )
    return out.stdout


def code_version(root: str | Path) -> dict:
    """{"commit", "dirty", "code_tree"} of the checkout at ``root``.

    dirty: uncommitted changes (tracked or untracked, not ignored) under CODE_PATHS; code_tree: sha1 of the
    CODE_PATHS tree ids of the working tree's content.
    """
    root = Path(root)
    commit = _git(root, "rev-parse", "HEAD").strip()
    status = _git(root, "status", "--porcelain", "--", *CODE_PATHS)
    git_dir = Path(_git(root, "rev-parse", "--absolute-git-dir").strip())
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        if (git_dir / "index").exists():
            shutil.copy(git_dir / "index", index)
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        _git(root, "add", "-A", "--", *CODE_PATHS, env=env)
        tree = _git(root, "write-tree", env=env).strip()
    trees = _git(root, "rev-parse", *[f"{tree}:{p}" for p in CODE_PATHS])
    return {"commit": commit, "dirty": bool(status.strip()), "code_tree": hashlib.sha1(trees.encode()).hexdigest()}
