"""Raw datasets to verl's RL parquet schema.

Each row: ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model``
(``style``, ``ground_truth``), ``extra_info`` (``index`` unique per row, ``split``, ``question``,
``answer``). Rows without a problem or an answer are refused with a message naming the row.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

from erpo.data.sources import SOURCES, TEMPLATES, Source
from erpo.rewards.math_reward import last_boxed


class DataError(ValueError):
    """A row or source that cannot be prepared; names the dataset and row."""


def default_local_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("ERPO_SHARED_DATA", os.path.join(here, "..", "..", "..", "shared", "data"))


def load_rows(name: str, source: str = "local", local_dir: str | None = None, local_file: str | None = None) -> list[dict]:
    """Rows of dataset ``name`` from the hub or from a local JSONL file."""
    spec = _spec(name)
    if source == "hub":
        import datasets

        return list(datasets.load_dataset(spec.hub_id, spec.hub_config, split=spec.hub_split))
    if source != "local":
        raise DataError(f"--source={source!r}: choose hub or local")
    path = local_file or (os.path.join(local_dir or default_local_dir(), spec.local_file) if spec.local_file else None)
    if path is None:
        raise DataError(f"{name} has no local copy; use --source hub or give --local-file")
    if not os.path.exists(path):
        raise DataError(f"{name}: local file {path} not found; set --local-dir or ERPO_SHARED_DATA")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def normalise_answer(raw, kind: str) -> str | None:
    """Ground truth as a plain string: '#### 1,000' -> '1000', '142.0' -> '142', lists joined."""
    if raw is None:
        return None
    if kind == "gsm8k":
        if "####" not in str(raw):
            return None
        raw = str(raw).rsplit("####", 1)[1].strip().replace(",", "")
    elif kind == "boxed":
        raw = last_boxed(str(raw))
    elif kind == "dapo":
        raw = (raw or {}).get("ground_truth") if isinstance(raw, dict) else raw
    if isinstance(raw, (list, tuple)):
        raw = ", ".join(str(x) for x in raw)
    if raw is None:
        return None
    text = str(raw).strip()
    if re.fullmatch(r"-?\d+\.0+", text):
        text = text.split(".")[0]
    return text or None


def _question(row: dict, spec: Source) -> str | None:
    value = row.get(spec.question_field)
    if spec.answer_kind == "dapo" and isinstance(value, list):  # DAPO stores chat messages
        value = next((m.get("content") for m in value if m.get("role") == "user"), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def to_verl_rows(name: str, rows: Iterable[dict], template: str = "qwen_math_cot", limit: int | None = None) -> list[dict]:
    spec = _spec(name)
    if template not in TEMPLATES:
        raise DataError(f"--template={template!r}: choose one of {sorted(TEMPLATES)}")
    out = []
    for i, row in enumerate(rows):
        if limit is not None and len(out) >= limit:
            break
        question = _question(row, spec)
        answer = normalise_answer(row.get(spec.answer_field), spec.answer_kind)
        if question is None or answer is None:
            missing = "problem" if question is None else "answer"
            raise DataError(f"{name} row {i} (id={row.get('id', i)!r}) has no {missing}; fix or drop that row")
        out.append({
            "data_source": spec.data_source,
            "prompt": [{"role": "user", "content": TEMPLATES[template].format(question=question)}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": answer},
            "extra_info": {"index": i, "split": spec.split, "question": question, "answer": answer,
                           "id": str(row.get("id", i))},
        })
    return out


def write_parquet(rows: list[dict], path: str) -> str:
    import pandas as pd

    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def prepare(name: str, out: str, source: str = "local", template: str = "qwen_math_cot", limit: int | None = None,
            local_dir: str | None = None, local_file: str | None = None) -> str:
    return write_parquet(to_verl_rows(name, load_rows(name, source, local_dir, local_file), template, limit), out)


def _spec(name: str) -> Source:
    if name not in SOURCES:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(SOURCES)}")
    return SOURCES[name]
