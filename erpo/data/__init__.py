"""Data preparation into verl's RL parquet schema (``python -m erpo.data``)."""

from erpo.data.prepare import (
    DataError,
    PrepareReport,
    answer_alternatives,
    build_rows,
    load_rows,
    normalise_answer,
    prepare,
    to_verl_rows,
)
from erpo.data.problems import problem_key, strip_prompt_wrappers
from erpo.data.sources import EVAL_SETS, SOURCES, TEMPLATE_ANSWER_FORMAT, TEMPLATES, TRAIN_SETS

__all__ = [
    "DataError",
    "EVAL_SETS",
    "PrepareReport",
    "SOURCES",
    "TEMPLATES",
    "TEMPLATE_ANSWER_FORMAT",
    "TRAIN_SETS",
    "answer_alternatives",
    "build_rows",
    "load_rows",
    "normalise_answer",
    "prepare",
    "problem_key",
    "strip_prompt_wrappers",
    "to_verl_rows",
]
