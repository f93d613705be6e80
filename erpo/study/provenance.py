"""Which code produced a study run: the project commit, whether the working tree differed from it, and a
fingerprint of the code alone.

The study's results are committed while it runs (each finished run's small files), so HEAD moves between
runs without any code changing. Runs are therefore compared by ``code_tree``: the git tree ids of the code
paths (``CODE_PATHS``) at HEAD, plus a hash of their uncommitted differences when the tree is dirty. Two
runs with the same ``code_tree`` ran the same code whatever their commits.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

# What decides a run's behaviour: the core, the verl recipe, the configs, the packaging.
CODE_PATHS = ("erpo", "recipe", "conf", "pyproject.toml")


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed in {root}: {out.stderr.strip()} (the study records the "
            "commit of every run; run it from a git checkout of the project)"
        )
    return out.stdout


def code_version(root: str | Path) -> dict:
    """{"commit", "dirty", "code_tree"} of the checkout at ``root``.

    dirty: uncommitted changes (tracked or untracked, not ignored) under CODE_PATHS; code_tree: sha1 of the
    CODE_PATHS tree ids at HEAD and, when dirty, of the diff and the untracked files' names and contents.
    """
    root = Path(root)
    commit = _git(root, "rev-parse", "HEAD").strip()
    trees = _git(root, "rev-parse", *[f"HEAD:{p}" for p in CODE_PATHS])
    status = _git(root, "status", "--porcelain", "--", *CODE_PATHS)
    digest = hashlib.sha1(trees.encode())
    if status.strip():
        digest.update(_git(root, "diff", "HEAD", "--", *CODE_PATHS).encode())
        untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *CODE_PATHS).split()
        for name in sorted(untracked):
            digest.update(name.encode())
            digest.update((root / name).read_bytes())
    return {"commit": commit, "dirty": bool(status.strip()), "code_tree": digest.hexdigest()}
