"""Answers refused before any symbolic work starts (our choice: cheap checks on the text).

sympy evaluates ``9^{9^{9}}`` or ``(10!)!`` as exact integers inside C code that holds the GIL;
the worker process running the comparison is killed at the deadline anyway (worker_pool.py), but
refusing these up front saves the deadline's wait and the worker's restart. Each check is linear
in the answer's length (at most MAX_ANSWER_CHARS). An answer spelled exactly like the gold never
gets here (answers.quick_equal runs first), so a gold such as ``2^{2^{10}}`` still scores.
"""

from __future__ import annotations

import re
from math import log10, prod

# Longer final answers are not real answers (the longest gold in the shared sets is ~160 chars).
MAX_ANSWER_CHARS = 300
# Brackets nested deeper than this are not a real answer.
MAX_DEPTH = 24
# A power estimated to have more digits than this is refused (exponent x log10(base)).
MAX_DIGITS = 20_000
# n! above this is refused (sympy computes it exactly).
MAX_FACTORIAL = 5_000

_OPEN, _CLOSE = "([{", ")]}"
_LETTER = re.compile(r"(?<!\\)[a-zA-Z]")
_LATEX_OPERATORS = re.compile(r"\\(?:cdot|times|left|right)")
_FACTORIAL_OF_NUMBER = re.compile(r"(\d+)\s*!")


def refusal(answer: str) -> str | None:
    """Why ``answer`` is refused before symbolic comparison, or None if it may be compared."""
    if len(answer) > MAX_ANSWER_CHARS:
        return f"longer than {MAX_ANSWER_CHARS} characters"
    depth = deepest = 0
    for ch in answer:
        depth += 1 if ch in _OPEN else -1 if ch in _CLOSE else 0
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        return f"brackets nested deeper than {MAX_DEPTH}"
    for base, exponent, chained in _powers(answer):
        if _LETTER.search(_LATEX_OPERATORS.sub("", exponent)):
            continue  # symbolic exponent (e^{x^2}): cheap
        if "^" in exponent or "!" in exponent or chained:
            return "power tower or factorial in a numeric exponent"
        numbers = [int(n) for n in re.findall(r"\d+", exponent)]
        size = prod(min(n, MAX_DIGITS + 1) for n in numbers) if numbers else 0
        if base.isdigit():
            size *= log10(int(base[:300])) if int(base[:300]) > 1 else 0
        elif _LETTER.search(_LATEX_OPERATORS.sub("", base)):
            size = 0  # x^{30000} is a cheap symbol power
        if size > MAX_DIGITS:
            return f"power with more than {MAX_DIGITS} digits"
    if re.search(r"!\s*!", answer) or any("!" in group or "^" in group for group in _factorial_operands(answer)):
        return "factorial of a factorial or of a power"
    if any(int(n) > MAX_FACTORIAL for n in _FACTORIAL_OF_NUMBER.findall(answer)):
        return f"factorial of a number > {MAX_FACTORIAL}"
    return None


def _group_end(text: str, start: int) -> int:
    """Index after the bracket group opening at ``start``; len(text) if it never closes."""
    depth = 0
    for i in range(start, len(text)):
        depth += 1 if text[i] in _OPEN else -1 if text[i] in _CLOSE else 0
        if depth == 0:
            return i + 1
    return len(text)


def _group_start(text: str, end: int) -> int:
    """Index of the bracket opening the group that closes at ``end`` (inclusive); 0 if none."""
    depth = 0
    for i in range(end, -1, -1):
        depth += 1 if text[i] in _CLOSE else -1 if text[i] in _OPEN else 0
        if depth == 0:
            return i
    return 0


def _powers(text: str):
    """(base, exponent, chained) for every ``^``. The exponent is a bracket group or one token
    (digits, a letter, a macro); the base is the digits or bracket group (or token) before ``^``;
    chained when another ``^`` follows the exponent directly (``9^9^9`` is a tower)."""
    for match in re.finditer(r"\^\s*", text):
        i = match.end()
        if i >= len(text):
            continue
        if text[i] in _OPEN:
            end = _group_end(text, i)
            exponent = text[i + 1 : end - 1]
        else:
            end = i + re.match(r"\d+|\\[a-zA-Z]+|.", text[i:]).end()
            exponent = text[i:end]
        left = text[: match.start()].rstrip()
        if left.endswith(tuple(_CLOSE)):
            base = left[_group_start(left, len(left) - 1) :]
        else:
            base = re.search(r"(\d+|\\?[a-zA-Z]+|.?)$", left).group(1)
        yield base, exponent, text[end:].lstrip().startswith("^")


def _factorial_operands(text: str):
    """The bracket group right before each ``!`` (e.g. ``(10!)`` in ``(10!)!``)."""
    for match in re.finditer(r"([)\]}])\s*!", text):
        end = match.start(1)
        yield text[_group_start(text, end) : end + 1]
