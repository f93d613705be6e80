"""Python's full garbage collections walk only what is new since the last one (``platform.gc_freeze``).

A full (generation-2) collection visits every container object the process tracks. A verl process on this
platform tracks ~0.5-0.9 million of them, nearly all from importing torch, transformers, verl, vLLM and Ray, and
they live as long as the process. Measured on two cores (36 prompts x 8, BENCHMARKS.md 8): a full collection took
0.5-0.67 s in the FSDP worker, about one per training step (16 in a 12-step run, 8.2 s), 0.4-0.6 s in the
agent-loop worker and 0.2-0.6 s in the vLLM server and the driver.

After each full collection, :func:`freeze_after_full_collections` moves the survivors to Python's permanent
generation (``gc.freeze``, the call CPython documents for this), so the next full collection walks only the
objects created since: 0.005-0.05 s in the same processes. What is frozen is what survived a full collection, so
it is reachable; reference counting still frees it when its last reference goes. The one thing the cyclic
collector no longer does for a frozen object is free it when it later becomes part of an unreachable cycle:
memory a run keeps instead of freeing, bounded by what was alive at each full collection (the resident memory of
a 40-step study run is measured in BENCHMARKS.md 8). Nothing computed changes.
"""

from __future__ import annotations

import gc
import os


def _freeze_survivors(phase: str, info: dict) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def freeze_after_full_collections() -> None:
    """Install the freeze after every full collection in this process (and, through ``fork``, its children); once."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def apply_platform_setting() -> bool:
    """Install the freeze when the driver set ``ERPO_GC_FREEZE=1`` (``platform.gc_freeze``); whether it did."""
    if os.environ.get("ERPO_GC_FREEZE") != "1":
        return False
    freeze_after_full_collections()
    return True
