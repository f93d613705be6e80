"""Raw datasets to verl's RL parquet schema.

Each row: ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model`` (``style``,
``ground_truth`` = the first accepted answer), ``extra_info``: ``index`` (dense 0..kept-1, the
prompt's key in ERPO's tracker), ``split``, ``question`` (wrappers stripped), ``answer`` (=
ground_truth), ``answers`` (every accepted alternative; the reward accepts any one),
``answer_format`` (what the prompt asks for; the reward reads the answer that way), ``id`` (the
source's own id). Rows without a problem or an answer are refused with a message naming the row;
duplicate problems (problems.problem_key) are dropped, the first kept.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from erpo.data.problems import problem_key, question_key, strip_prompt_wrappers
from erpo.data.sources import SOURCES, TEMPLATE_ANSWER_FORMAT, TEMPLATES, Source
from erpo.rewards.extract import last_boxed


class DataError(ValueError):
    """A row or source that cannot be prepared; names the dataset and row."""


@dataclass(frozen=True)
class PrepareReport:
    """What one preparation did: rows read, kept, dropped as duplicates, and how many kept problem
    texts appear with more than one different answer (kept apart: the answers differ)."""

    dataset: str
    read: int
    kept: int
    dropped: int
    conflicting: int

    def summary(self) -> str:
        text = (
            f"{self.dataset}: read {self.read} rows, kept {self.kept}, dropped {self.dropped} duplicate "
            f"problem(s) (same normalised problem text and answer)"
        )
        if self.conflicting:
            text += f"; {self.conflicting} problem text(s) appear with different answers (all kept)"
        return text


def default_local_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("ERPO_SHARED_DATA", os.path.join(here, "..", "..", "..", "shared", "data"))


def load_rows(
    name: str, source: str = "local", local_dir: str | None = None, local_file: str | None = None
) -> Iterable[dict]:
    """Rows of dataset ``name`` from the hub or from a local file (JSONL, or parquet), read lazily:
    the hub's DAPO-Math-17k has ~1.79M rows. A local file may be in the hub's own row format."""
    spec = _spec(name)
    if source == "hub":
        import datasets

        return datasets.load_dataset(spec.hub_id, spec.hub_config, split=spec.hub_split)
    if source != "local":
        raise DataError(f"--source={source!r}: choose hub or local")
    path = local_file or (os.path.join(local_dir or default_local_dir(), spec.local_file) if spec.local_file else None)
    if path is None:
        raise DataError(f"{name} has no local copy; use --source hub or give --local-file")
    if not os.path.exists(path):
        raise DataError(f"{name}: local file {path} not found; set --local-dir or ERPO_SHARED_DATA")
    return _read_parquet(path) if path.endswith(".parquet") else _read_jsonl(path)


def _read_jsonl(path: str) -> Iterator[dict]:
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path} line {number} is not JSON ({err}); fix or remove that line") from err


def _read_parquet(path: str) -> Iterator[dict]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        yield from batch.to_pylist()


def normalise_answer(raw, kind: str) -> str | None:
    """One ground truth as a plain string: '#### 1,000' -> '1000', '142.0' -> '142', a solution's
    last \\boxed{}, DAPO's reward_model dict. A list is a list of alternatives: answer_alternatives."""
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
        raise DataError(f"answer {raw!r} is a list: each item is an alternative, use answer_alternatives()")
    if raw is None:
        return None
    text = str(raw).strip()
    if re.fullmatch(r"-?\d+\.0+", text):
        text = text.split(".")[0]
    return text or None


def answer_alternatives(row: dict, spec: Source) -> list[str]:
    """Accepted answers of a row: its alternatives list (``spec.alternatives_field``, e.g. Minerva's
    ``answers``) when it has one, else its answer field (a list there is alternatives too);
    normalised, without repeats."""
    listed = row.get(spec.alternatives_field) if spec.alternatives_field else None
    if isinstance(listed, (list, tuple)) and len(listed):
        items, kind = list(listed), "plain"
    else:
        value, kind = row.get(spec.answer_field), spec.answer_kind
        if kind == "dapo":
            value, kind = (value.get("ground_truth") if isinstance(value, dict) else value), "plain"
        items = list(value) if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        answer = normalise_answer(item, kind)
        if answer is not None and answer not in out:
            out.append(answer)
    return out


def _question(row: dict, spec: Source) -> str | None:
    value = row.get(spec.question_field)
    if isinstance(value, list):  # chat messages (DAPO's rows, or a local file in the hub's format)
        value = next((m.get("content") for m in value if isinstance(m, dict) and m.get("role") == "user"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    return strip_prompt_wrappers(value) or None


def _source_id(row: dict, position: int) -> str:
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
    for value in (row.get("id"), extra.get("index")):
        if value is not None:
            return str(value)
    return str(position)


def build_rows(
    name: str, rows: Iterable[dict], template: str = "qwen_math_cot", limit: int | None = None
) -> tuple[list[dict], PrepareReport]:
    """verl rows of the first ``limit`` distinct problems, and the report of what was dropped."""
    spec = _spec(name)
    if template not in TEMPLATES:
        raise DataError(f"--template={template!r}: choose one of {sorted(TEMPLATES)}")
    out: list[dict] = []
    seen: set[str] = set()
    answers_by_question: dict[str, set[str]] = defaultdict(set)
    read = dropped = 0
    for position, row in enumerate(rows):
        if limit is not None and len(out) >= limit:
            break
        read += 1
        question = _question(row, spec)
        answers = answer_alternatives(row, spec) if question is not None else []
        if question is None or not answers:
            missing = "problem" if question is None else "answer"
            raise DataError(
                f"{name} row {position} (id={_source_id(row, position)!r}) has no {missing}; fix or drop that row"
            )
        key = problem_key(question, answers)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        answers_by_question[question_key(question)].add(key)
        out.append(
            {
                "data_source": spec.data_source,
                "prompt": [{"role": "user", "content": TEMPLATES[template].format(question=question)}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": answers[0]},
                "extra_info": {
                    "index": len(out),
                    "split": spec.split,
                    "question": question,
                    "answer": answers[0],
                    "answers": answers,
                    "answer_format": TEMPLATE_ANSWER_FORMAT[template],
                    "id": _source_id(row, position),
                },
            }
        )
    conflicting = sum(1 for keys in answers_by_question.values() if len(keys) > 1)
    return out, PrepareReport(name, read, len(out), dropped, conflicting)


def to_verl_rows(
    name: str, rows: Iterable[dict], template: str = "qwen_math_cot", limit: int | None = None
) -> list[dict]:
    """build_rows without the report."""
    return build_rows(name, rows, template, limit)[0]


def write_parquet(rows: list[dict], path: str) -> str:
    import pandas as pd

    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def prepare(
    name: str,
    out: str,
    source: str = "local",
    template: str = "qwen_math_cot",
    limit: int | None = None,
    local_dir: str | None = None,
    local_file: str | None = None,
) -> str:
    """Write dataset ``name`` as a verl parquet at ``out``; prints rows read, kept and dropped."""
    rows, report = build_rows(name, load_rows(name, source, local_dir, local_file), template, limit)
    print(report.summary())
    return write_parquet(rows, out)


def _spec(name: str) -> Source:
    if name not in SOURCES:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(SOURCES)}")
    return SOURCES[name]
