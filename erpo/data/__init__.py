"""Data preparation into verl's RL parquet schema (``python -m erpo.data``)."""

from erpo.data.prepare import DataError, load_rows, normalise_answer, prepare, to_verl_rows
from erpo.data.sources import EVAL_SETS, SOURCES, TEMPLATES, TRAIN_SETS

__all__ = ["DataError", "EVAL_SETS", "SOURCES", "TEMPLATES", "TRAIN_SETS", "load_rows", "normalise_answer",
           "prepare", "to_verl_rows"]
