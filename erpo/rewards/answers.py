"""Answer strings: cleaning, splitting into parts, plain-number reading and comparison (stdlib only).

Used in the trainer's process (the fast path, no sympy) and inside the comparison worker.

Our choices, not a paper's:

* A gold *string* ``"a, b"`` (top-level commas, outside brackets) is one answer made of several parts,
  all required, in any order (e.g. "all solutions"). *Alternatives* (any one is right) only come
  from a list: ``extra_info.answers`` or a list ``ground_truth`` (Minerva's ``answers`` field).
* A comma is a thousands separator only between digit groups of three with no space after it
  (``1,000``, ``10,\\!080``); ``1, 8`` is two numbers, never 18.
* ``%`` / ``\\%`` at the end of a part is a unit and dropped on both sides (``62.5%`` == ``62.5``,
  not 0.625). A bare ``%`` elsewhere would start a LaTeX comment and hide the rest: malformed.
* Numbers: exact values (integers, fractions, integer x 10^k) must match exactly; when either side
  is a decimal (maybe rounded) and neither is an integer, a *relative* tolerance REL_TOL applies:
  |a - b| <= REL_TOL * max(|a|, |b|), so a value correct to 6 significant digits is accepted at any
  scale and ten times the gold never is.
* ``or`` between answers (``\\lor``, ``\\vee``, ``\\text{ or }``) splits parts like a comma, so a
  hedge "33 or 34" is two answers; ``\\text{...}`` holding a digit beside other content
  (``34 \\text{ (or 33)}``) is refused because math-verify drops text.
"""

from __future__ import annotations

import re
from fractions import Fraction

# Relative tolerance for decimals: 6 significant digits round with error <= 5e-6 relative.
REL_TOL = Fraction(1, 100_000)
# More parts than this in one answer is not a real answer.
MAX_PARTS = 32
# A scientific exponent beyond this is not a plain number (and would build huge integers).
MAX_EXPONENT = 400


class Malformed(ValueError):
    """An answer that cannot be read as written (bare %, hedging text)."""


_DOLLAR = re.compile(r"(?<!\\)\$")
_SPACING = re.compile(r"\\[!;:]|\\displaystyle|\\left(?=[(\[{.|\\])|\\right(?=[)\]}.|\\])")
_THOUSANDS_LATEX = re.compile(r"(?<=\d)(?:,\\!\s*|\{,\}|\\,|\\ |~)(?=\d{3}(?!\d))")
_OR = re.compile(r"\s*(?:\\lor\b|\\vee\b|\\text\{\s*or\s*\}|\bor\b)\s*")
_WHOLE_TEXT = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}$")
_TEXT_WITH_DIGIT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{[^{}]*\d[^{}]*\}")
_SCI_E = re.compile(r"(?<![A-Za-z\\])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![A-Za-z\d])")
_PERCENT_END = re.compile(r"\s*\\?%\s*$")

_SIGN = r"[+-]?"
_PLAIN = re.compile(rf"^({_SIGN})(\d{{1,3}}(?:,\d{{3}})+|\d+)?(?:\.(\d+))?$")
_SCI = re.compile(rf"^({_SIGN})(\d+(?:\.\d+)?)\s*(?:\\times|\\cdot|\*|×)\s*10\s*\^\s*\{{?\s*([+-]?\d+)\s*\}}?$")
_POW10 = re.compile(rf"^({_SIGN})10\s*\^\s*\{{?\s*([+-]?\d+)\s*\}}?$")
_FRAC = re.compile(rf"^({_SIGN})\\frac\s*(?:\{{\s*({_SIGN}\d+)\s*\}}|(\d))\s*(?:\{{\s*({_SIGN}\d+)\s*\}}|(\d))$")
_SLASH = re.compile(rf"^({_SIGN})(\d+)\s*/\s*(\d+)$")


def clean(answer: str) -> str:
    """One answer string made comparable: math delimiters, spacing macros, \\dfrac, thin-space and
    ``,\\!`` thousands separators, 1e-7 -> 1\\times10^{-7} (math-verify would read e as Euler's number),
    trailing period, a whole-answer ``\\text{...}``."""
    s = str(answer).strip()
    for opener, closer in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(opener) and s.endswith(closer):
            s = s[2:-2]
    s = _DOLLAR.sub("", s).replace("\\$", "").replace("−", "-")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _THOUSANDS_LATEX.sub(",", s)
    s = _SPACING.sub("", s)
    s = _SCI_E.sub(lambda m: f"{m.group(1)}\\times10^{{{m.group(2)}}}", s)
    s = s.strip().rstrip(".").strip()
    whole = _WHOLE_TEXT.match(s)
    return whole.group(1).strip() if whole else s


def split_parts(answer: str) -> list[str]:
    """Top-level parts of a cleaned answer: split on commas and ``or`` outside brackets; a part of
    exactly three digits right after a digit part (no space) is a thousands group and is re-joined."""
    s = answer
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if depth == 0:
            hedge = _OR.match(s, i)
            if hedge and hedge.group(0).strip():
                parts.append(s[start:i])
                i = start = hedge.end()
                continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    parts.append(s[start:])
    merged: list[str] = []
    for part in parts:
        if (
            merged
            and re.fullmatch(r"\d{3}(?:\.\d+)?", part)
            and re.search(r"(?:^|[^\d])\d{1,3}(?:,\d{3})*$", merged[-1].strip())
        ):
            merged[-1] = merged[-1].rstrip() + "," + part
        else:
            merged.append(part)
    out = [p.strip() for p in merged]
    if any(not p for p in out) and len(out) > 1:
        raise Malformed("empty part in a list")
    if len(out) > MAX_PARTS:
        raise Malformed(f"more than {MAX_PARTS} parts")
    return [_finish_part(p) for p in out]


def double_superscript(text: str) -> bool:
    """Whether a superscript's argument is followed by another ``^`` (``90^\\circ^2``, ``x^2^3``): LaTeX
    refuses it ("Double superscript"), so the answer has no reading; a parser that drops the degree sign
    (or the first exponent) would otherwise score ``90^\\circ^2`` as 90 degrees. ``{x^2}^3`` and
    ``x_1^2`` are fine."""
    i = 0
    while i < len(text):
        if text[i] != "^" or (i > 0 and text[i - 1] == "\\"):
            i += 1
            continue
        j = i + 1
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            depth = 0
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
        elif j < len(text) and text[j] == "\\":
            j += 1
            while j < len(text) and text[j].isalpha():
                j += 1
        else:
            j += 1
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "^":
            return True
        i = j
    return False


def _finish_part(part: str) -> str:
    """Drop a trailing percent sign (a unit); refuse a bare % elsewhere, text hiding digits and a double
    superscript."""
    part = _PERCENT_END.sub("", part).strip()
    if double_superscript(part):
        raise Malformed("double superscript (x^a^b has no reading in LaTeX)")
    if re.search(r"(?<!\\)%", part):
        raise Malformed("bare % inside an answer (LaTeX would hide what follows)")
    whole = _WHOLE_TEXT.match(part)
    if whole:
        return whole.group(1).strip()
    if _TEXT_WITH_DIGIT.search(part):
        raise Malformed("\\text{...} with a digit beside other content")
    return part


def parts_of(answer: str) -> list[str]:
    """clean + split_parts; a bracketed set ``\\{a, b\\}`` is unwrapped to its elements."""
    s = clean(answer)
    if s.startswith("\\{") and s.endswith("\\}") and _balanced(s[2:-2]):
        s = s[2:-2]
    return split_parts(s)


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        if depth < 0:
            return False
    return depth == 0


def read_number(part: str) -> tuple[Fraction, bool] | None:
    """(value, exact) of a part that is a plain number, else None. ``exact`` is False for decimals
    (a decimal point means the writer may have rounded). Reads integers with proper thousands
    groups, decimals, a/b, \\frac{a}{b}, \\frac12, m \\times 10^{k}, 10^{k}."""
    s = part.replace(" ", "")
    m = _PLAIN.match(s)
    if m and (m.group(2) or m.group(3)):
        sign, whole, frac = m.group(1), (m.group(2) or "0").replace(",", ""), m.group(3)
        value = Fraction(int(whole)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        return (-value if sign == "-" else value), frac is None
    m = _SCI.match(s)
    if m and abs(int(m.group(3))) <= MAX_EXPONENT:
        value = Fraction(m.group(2)) * Fraction(10) ** int(m.group(3))
        return (-value if m.group(1) == "-" else value), "." not in m.group(2)
    m = _POW10.match(s)
    if m and abs(int(m.group(2))) <= MAX_EXPONENT:
        value = Fraction(10) ** int(m.group(2))
        return (-value if m.group(1) == "-" else value), True
    m = _FRAC.match(s) or _SLASH.match(s)
    if m:
        groups = [g for g in m.groups()[1:] if g is not None]
        num, den = int(groups[0]), int(groups[1])
        if den == 0:
            return None
        value = Fraction(num, den)
        return (-value if m.group(1) == "-" else value), True
    return None


def numbers_equal(a: tuple[Fraction, bool], b: tuple[Fraction, bool]) -> bool:
    """Exact values compare exactly; an exact integer on either side must be hit exactly;
    otherwise |a - b| <= REL_TOL * max(|a|, |b|)."""
    (va, exact_a), (vb, exact_b) = a, b
    if va == vb:
        return True
    if (exact_a and exact_b) or (exact_a and va.denominator == 1) or (exact_b and vb.denominator == 1):
        return False
    return abs(va - vb) <= REL_TOL * max(abs(va), abs(vb))


def string_key(part: str) -> str:
    """Spelling-insensitive key for exact string comparison (spaces, \\text wrappers)."""
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", part)
    return s.replace(" ", "").replace("\\,", "")


def match_parts(pred: list[str], gold: list[str], equal) -> bool:
    """True when the parts can be paired one to one with ``equal(pred_part, gold_part)`` true,
    in any order (a perfect matching, found by augmenting paths)."""
    if len(pred) != len(gold):
        return False
    if len(gold) == 1:
        return bool(equal(pred[0], gold[0]))
    ok = [[bool(equal(p, g)) for g in gold] for p in pred]
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j in range(len(gold)):
            if ok[i][j] and j not in seen:
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(assign(i, set()) for i in range(len(pred)))


def quick_equal(pred: list[str], gold: list[str]) -> bool | None:
    """Decide without sympy when possible: same spelling part for part (any order), or every part
    on both sides a plain number. None: needs the symbolic comparison."""
    if len(pred) == len(gold) and sorted(map(string_key, pred)) == sorted(map(string_key, gold)):
        return True
    pred_numbers = [read_number(p) for p in pred]
    gold_numbers = [read_number(g) for g in gold]
    if all(pred_numbers) and all(gold_numbers):
        return match_parts(pred_numbers, gold_numbers, numbers_equal)
    return None
