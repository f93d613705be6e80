"""Rule-based math reward on ``math-verify``, as a verl custom reward function.

The final answer is the last ``\\boxed{...}`` (nested braces allowed); for GSM8K-style data
without a box, ``#### N`` or the last number. It is compared with the ground truth by
math-verify (symbolic equivalence), falling back to a normalised string match. Malformed,
empty, enormous or adversarial outputs score 0 and are counted in :func:`reward_stats`;
nothing here raises.

>>> compute_score("openai/gsm8k", "so the answer is \\\\boxed{72}", "72")["score"]
1.0
>>> compute_score("math500", "\\\\boxed{\\\\frac{1}{2}}", "0.5")["acc"]
True
>>> compute_score("math500", "no answer here", "3")["format_ok"]
False
"""

from __future__ import annotations

import re
import threading
from collections import Counter

# Only the tail can hold the final answer; bounding the input bounds the parser's time.
MAX_CHARS = 4000
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_stats: Counter = Counter()
_lock = threading.Lock()


def reward_stats() -> dict[str, int]:
    """Counts since start: calls, no_answer (format failures), unparsable (answer math-verify cannot
    read), refused_symbolic (exponent towers / over-long answers compared as strings only), timeouts,
    errors (exceptions caught); correct / wrong count the calls that extracted an answer (a wrong one
    includes the unparsable, refused and timed-out answers)."""
    with _lock:
        return dict(_stats)


def _count(kind: str) -> None:
    with _lock:
        _stats[kind] += 1


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}``, braces balanced; None if absent."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, begin = 1, i
    while i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[begin:i].strip()
        i += 1
    return None


def extract_answer(text: str, data_source: str = "") -> str | None:
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    if "gsm8k" in data_source:
        if "####" in text:
            tail = text.rsplit("####", 1)[1]
            match = _NUMBER.search(tail)
            return match.group(0).replace(",", "") if match else None
        numbers = _NUMBER.findall(text)
        return numbers[-1].replace(",", "") if numbers else None
    return None


def _normalise(s: str) -> str:
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = s.replace("\\!", "").replace("$", "").replace(" ", "").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.rstrip(".")
    try:
        value = float(s.replace(",", ""))
        return repr(int(value)) if value.is_integer() else repr(value)
    except ValueError:
        return s


# Wall-clock bound of one symbolic comparison (seconds).
TIMEOUT_S = 5.0


def _symbolic_equal(pred: str, truth: str) -> bool:
    from math_verify import parse, verify

    # math-verify's own timeouts use signals, which only work in the main thread; the bound is
    # enforced around this call instead (see _bounded).
    gold = parse(f"${truth}$", parsing_timeout=None)
    answer = parse(f"${pred}$", parsing_timeout=None)
    if not answer:
        return None  # nothing math-verify can read: counted as unparsable
    return bool(gold and verify(gold, answer, timeout_seconds=None))


def _bounded(fn, *args, timeout: float = TIMEOUT_S):
    """Run ``fn`` in a daemon thread; None if it has not finished within ``timeout``.

    Works from any thread (verl calls rewards from async workers); a runaway sympy call is left
    to finish in the background and the response scores 0.
    """
    box: list = []
    worker = threading.Thread(target=lambda: box.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(timeout)
    return box[0] if box else _TIMED_OUT


_TIMED_OUT = object()


# Exponent towers make sympy compute huge integers inside C code that holds the GIL, where no
# thread-based bound can interrupt it: such answers are compared as strings only.
_TOWER = re.compile(r"\^\s*\{?[^}]*\^")


def is_equivalent(pred: str, truth: str) -> bool:
    if _normalise(pred) == _normalise(truth):
        return True
    if _TOWER.search(pred) or len(pred) > 300:
        _count("refused_symbolic")
        return False
    result = _bounded(_symbolic_equal, pred, truth, timeout=TIMEOUT_S)
    if result is _TIMED_OUT:
        _count("timeouts")
        return False
    if result is None:
        _count("unparsable")
        return False
    return result


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl custom reward: {score, acc, pred, format_ok}."""
    _count("calls")
    try:
        text = solution_str if isinstance(solution_str, str) else ""
        text = text[-MAX_CHARS:]
        pred = extract_answer(text, str(data_source))
        if pred is None or not pred:
            _count("no_answer")
            return {"score": 0.0, "acc": False, "pred": "", "format_ok": False}
        acc = is_equivalent(pred, str(ground_truth))
        _count("correct" if acc else "wrong")
        return {"score": 1.0 if acc else 0.0, "acc": acc, "pred": pred[:200], "format_ok": True}
    except Exception:  # noqa: BLE001 - a reward must never crash training
        _count("errors")
        return {"score": 0.0, "acc": False, "pred": "", "format_ok": False}
