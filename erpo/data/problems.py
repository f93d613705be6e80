"""Problem identity: prompt wrappers stripped, and the key that finds duplicate problems.

The hub release of DAPO-Math-17k holds each of its ~17.4k problems about 100 times (~1.79M rows).
Kept as separate rows, every copy would get its own ``extra_info.index`` and ERPO's per-prompt
tracker would never see a prompt twice. erpo.data keeps the first row of each
:func:`problem_key` and drops the rest.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from erpo.data.sources import DAPO_HEAD, DAPO_TAIL, TEMPLATES
from erpo.rewards.answers import Malformed, clean, parts_of, read_number, string_key


def _loose(text: str) -> str:
    """Regex for ``text`` with any run of whitespace where it has a space."""
    return r"\s+".join(re.escape(word) for word in text.split())


def _wrappers() -> list[tuple[re.Pattern | None, re.Pattern | None]]:
    """(head, tail) patterns of DAPO's wrapper and of every template here (None: nothing there)."""
    pairs = [(DAPO_HEAD, DAPO_TAIL)]
    for template in TEMPLATES.values():
        head, tail = template.replace("{{", "{").replace("}}", "}").split("{question}")
        pairs.append((head, tail))
    return [
        (
            re.compile(r"\s*" + _loose(head) + r"\s*") if head.strip() else None,
            re.compile(r"\s*" + _loose(tail) + r"\s*$") if tail.strip() else None,
        )
        for head, tail in pairs
        if head.strip() or tail.strip()
    ]


_WRAPPERS = _wrappers()


def strip_prompt_wrappers(text: str) -> str:
    """The bare problem: DAPO's instruction wrapper ("Solve the following math problem step by
    step. ... Remember to put your answer on its own line after "Answer:".") and our templates'
    instructions removed, so a template never stacks a second answer format on the first."""
    out = text.strip()
    for head, tail in _WRAPPERS:
        start = head.match(out) if head else None
        end = tail.search(out) if tail else None
        begin, stop = (start.end() if start else 0), (end.start() if end else len(out))
        if begin < stop:
            out = out[begin:stop].strip()
    return out


def _part_key(part: str) -> str:
    number = read_number(part)
    return str(number[0]) if number else string_key(part)


def _answer_key(answers: str | Iterable[str]) -> str:
    """Order-free key of the accepted answers (each one's parts in any order; 142.0 == 142)."""
    items = [answers] if isinstance(answers, str) else list(answers)
    keys = set()
    for item in items:
        try:
            parts = parts_of(str(item))
        except Malformed:
            parts = [clean(str(item))]
        keys.add(",".join(sorted(_part_key(p) for p in parts)))
    return "|".join(sorted(keys))


def problem_key(question: str, answer: str | Iterable[str]) -> str:
    """Key of one problem: its text (prompt wrappers stripped, Unicode NFKC, whitespace collapsed)
    and its answer(s) (answers.clean, numbers by value). Same key = same problem. Works on a raw
    question or on a templated prompt's user message; ``answer`` is a string or a list of
    alternatives. Returns a hex digest (sha256)."""
    text = " ".join(unicodedata.normalize("NFKC", strip_prompt_wrappers(str(question))).split())
    return hashlib.sha256(f"{text}\x1f{_answer_key(answer)}".encode()).hexdigest()


def question_key(question: str) -> str:
    """Key of the problem text alone (for counting problems that appear with different answers)."""
    text = " ".join(unicodedata.normalize("NFKC", strip_prompt_wrappers(str(question))).split())
    return hashlib.sha256(text.encode()).hexdigest()
