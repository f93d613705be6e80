"""Offline analysis of training runs (local JSONL logs or W&B), used by the notebooks."""

from erpo.analysis.runs import Run, from_wandb, load_runs, seed_bands

__all__ = ["Run", "from_wandb", "load_runs", "seed_bands"]
