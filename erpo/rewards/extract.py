"""Final-answer extraction, in the format the prompt asked for (``extra_info.answer_format``).

Formats (written by erpo.data from the prompt template, erpo/data/sources.py):

* ``boxed`` (``qwen_math_cot``): the last ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed 9``);
  for GSM8K rows also ``#### N`` or the last number. A row without ``answer_format`` reads this way.
* ``answer_line`` (``dapo``): the last ``Answer: ...`` line, the pattern of verl's DAPO verifier
  (``verl/utils/reward_score/math_dapo.py``: ``(?i)Answer\\s*:\\s*([^\\n]+)``, falling back to the last
  ``\\boxed{}`` when there is no such line, as that verifier does).
* ``any`` (``plain``, which asks for no format): whichever of the two comes last in the response.
"""

from __future__ import annotations

import re

ANSWER_FORMATS = ("boxed", "answer_line", "any")

# A number as the GSM8K fallback reads it: a fraction (\frac{a}{b}, \dfrac, a/b) or a plain number, signed;
# the last one in the text is the answer. Reading only plain numbers took "2" from "1/2".
_FALLBACK_NUMBER = re.compile(
    r"-?\\[dt]?frac\s*\{\s*-?\d[\d,]*(?:\.\d+)?\s*\}\s*\{\s*\d[\d,]*(?:\.\d+)?\s*\}"
    r"|-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d[\d,]*(?:\.\d+)?)?"
)
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_ANSWER_LINE = re.compile(r"(?i)Answer\s*:\s*([^\n]+)")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (braces balanced), or of ``\\boxed 9``
    (one token, up to a space or ``$``); None if absent or never closed."""
    found = _last_box(text)
    return found[0] if found else None


def _last_box(text: str) -> tuple[str, int] | None:
    """(content, start index) of the last box."""
    matches = list(_BOX.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    i = match.end()
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] == "{":
        depth, begin = 0, i + 1
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                return text[begin:j].strip(), match.start()
        return None
    if i == match.end() and not text[i : i + 1].isdigit():
        return None  # "\boxed" glued to something that is not an argument
    token = re.match(r"[^\s$]+", text[i:])
    return (token.group(0).rstrip("."), match.start()) if token else None


def _answer_line(text: str) -> tuple[str, int] | None:
    matches = list(_ANSWER_LINE.finditer(text))
    if not matches:
        return None
    line = matches[-1].group(1).strip()
    boxed = last_boxed(line)
    if boxed is not None:
        line = boxed
    line = line.strip().strip("*").strip()  # markdown bold around the answer
    return line, matches[-1].start()


def _gsm8k_fallback(text: str) -> str | None:
    """The number after the last ``####``, else the last number in the text (fractions included)."""
    if "####" in text:
        match = _FALLBACK_NUMBER.search(text.rsplit("####", 1)[1])
        return match.group(0).replace(",", "") if match else None
    numbers = [m.group(0) for m in _FALLBACK_NUMBER.finditer(text)]
    return numbers[-1].replace(",", "") if numbers else None


def extract_answer(text: str, data_source: str = "", answer_format: str = "boxed") -> str | None:
    """The final answer as written (not yet cleaned), or None."""
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"extra_info.answer_format={answer_format!r}: choose one of {ANSWER_FORMATS}")
    box = _last_box(text)
    if answer_format == "answer_line":
        line = _answer_line(text)
        found = line or box
        return found[0] if found else None
    if answer_format == "any":
        line = _answer_line(text)
        candidates = [c for c in (box, line) if c]
        if candidates:
            return max(candidates, key=lambda c: c[1])[0]
    elif box:
        return box[0]
    return _gsm8k_fallback(text) if "gsm8k" in data_source else None
