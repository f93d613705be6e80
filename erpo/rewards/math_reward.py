"""Rule-based math reward, as a verl custom reward function (``compute_score``).

Steps for one response (every step bounded; nothing here raises):

1. Extract the final answer in the format the prompt asked for (``extra_info.answer_format``,
   extract.py), from the last MAX_CHARS characters.
2. Golds: ``ground_truth`` plus ``extra_info.answers`` (alternatives: any one is right; a list
   ``ground_truth`` is read the same way). One gold string ``"a, b"`` needs every part (answers.py).
3. Fast path in this process (no sympy): same spelling, or every part a plain number (exact values
   exactly, decimals within a relative tolerance).
4. Refuse answers whose symbolic evaluation could explode (guards.py).
5. Otherwise math-verify decides, in a worker process that is killed if it has not answered within
   TIMEOUT_S (worker_pool.py, symbolic.py). The bound covers waiting for a free worker too.

>>> compute_score("openai/gsm8k", "so the answer is \\\\boxed{72}", "72")["score"]
1.0
>>> compute_score("math_dapo", "...\\nAnswer: 34", "34", {"answer_format": "answer_line"})["acc"]
True
>>> compute_score("math500", "no answer here", "3")["format_ok"]
False
"""

from __future__ import annotations

import threading
from collections import Counter

from erpo.rewards import worker_pool
from erpo.rewards.answers import Malformed, clean, parts_of, quick_equal
from erpo.rewards.extract import ANSWER_FORMATS, extract_answer, last_boxed
from erpo.rewards.guards import MAX_ANSWER_CHARS, refusal

__all__ = [
    "MAX_CHARS",
    "REWARD_SCALES",
    "TIMEOUT_S",
    "WAIT_S",
    "compute_score",
    "is_equivalent",
    "last_boxed",
    "reward_stats",
    "warm_up",
]

# Score of (a correct answer, a wrong answer in the asked format, no answer in that format), by the
# `scale` the reward is called with (reward.custom_reward_function.reward_kwargs.scale). ``acc`` never
# depends on it: correctness is one definition (erpo/erpo/correctness.py).
REWARD_SCALES = {
    # Ours: 1 / 0.
    "zero_one": (1.0, 0.0, 0.0),
    # DAPO (arXiv 2503.14476, Sec. 2.4, Eq. 7): 1 if is_equivalent, else -1.
    "dapo": (1.0, -1.0, -1.0),
    # GRESO's code (Infini-AI-Lab/GRESO@b277843, verl/utils/reward_score/latex_math.py compute_score:
    # full_score=1., format_score=0.1 for a \boxed answer that is wrong, 0.0 when none is extracted).
    "greso": (1.0, 0.1, 0.0),
}

# Only the tail can hold the final answer; bounding the input bounds extraction's time.
MAX_CHARS = 4000
# Wall-clock bound (seconds) of one symbolic comparison in a worker; a late worker is killed.
TIMEOUT_S = 5.0
# Longest wait (seconds) for a free, started worker. Reached only when every worker is busy (e.g.
# with answers that run to TIMEOUT_S) or starting; a call's bound is WAIT_S + TIMEOUT_S.
WAIT_S = 30.0

_stats: Counter = Counter()
_lock = threading.Lock()


def reward_stats() -> dict[str, int]:
    """Counts since start: calls; no_answer (nothing in the asked format); unparsable (an answer
    that is malformed or that math-verify cannot read); refused_symbolic (guards.py refused it);
    timeouts (worker late and killed, or no worker free within WAIT_S: timeouts_busy of them); errors
    (exceptions, worker crashes, an unknown answer_format); symbolic_calls (comparisons sent to a
    worker); worker_restarts. correct / wrong count the calls that extracted an answer (a wrong one
    includes the unparsable, refused and timed-out answers)."""
    with _lock:
        stats = dict(_stats)
    pool = worker_pool._pool
    if pool is not None:
        stats["worker_restarts"] = pool.restarts
    return stats


def _count(kind: str) -> None:
    with _lock:
        _stats[kind] += 1


def warm_up(timeout: float = worker_pool.START_TIMEOUT_S) -> None:
    """Start the comparison workers now and wait until they are ready (otherwise the first
    symbolic comparisons of a process wait for the start, within WAIT_S)."""
    worker_pool.get_pool().warm_up(timeout=timeout)


def _golds(ground_truth, extra_info) -> list[str]:
    """ground_truth, then extra_info['answers'] (each an alternative), without repeats or blanks."""
    out: list[str] = []
    values = [ground_truth]
    if isinstance(extra_info, dict) and extra_info.get("answers") is not None:
        values.append(extra_info["answers"])
    for value in values:
        items = [value] if isinstance(value, (str, int, float)) else list(value) if value is not None else []
        for item in items:
            text = str(item).strip()
            if text and text not in out:
                out.append(text)
    return out


def is_equivalent(pred: str, truth) -> bool:
    """Whether ``pred`` matches the gold ``truth`` (a string, or a list of alternatives)."""
    return _judge(pred, _golds(truth, None))


def _judge(pred: str, golds: list[str]) -> bool:
    if len(pred) > MAX_ANSWER_CHARS:
        _count("refused_symbolic")
        return False
    try:
        pred_parts = parts_of(pred)
    except Malformed:
        _count("unparsable")
        return False
    undecided = []
    for gold in golds:
        try:
            gold_parts = parts_of(gold)
        except Malformed:
            gold_parts = [clean(gold)]  # a gold is data: compare it as written
        verdict = quick_equal(pred_parts, gold_parts)
        if verdict:
            return True
        if verdict is None:
            undecided.append(gold_parts)
    if not undecided:
        return False
    if refusal(", ".join(pred_parts)) is not None:
        _count("refused_symbolic")
        return False
    _count("symbolic_calls")
    try:
        reply = worker_pool.get_pool().run({"pred": pred_parts, "golds": undecided}, timeout=TIMEOUT_S, wait=WAIT_S)
    except worker_pool.WorkerTimeout as late:
        _count("timeouts")
        if late.reason == "busy":
            _count("timeouts_busy")
        return False
    except worker_pool.WorkerFailed:
        _count("errors")
        return False
    result = reply.get("result")
    if result == "unparsable":
        _count("unparsable")
    elif result == "error":
        _count("errors")
    return result == "equal"


def compute_score(data_source, solution_str, ground_truth, extra_info=None, scale: str = "zero_one", **kwargs) -> dict:
    """verl custom reward: {score, acc, pred, format_ok}; acc True only for a correct answer, score by
    ``scale`` (REWARD_SCALES: correct / wrong in format / no answer). An unknown scale is a config error."""
    if scale not in REWARD_SCALES:
        raise ValueError(
            f"reward.custom_reward_function.reward_kwargs.scale={scale!r} is not supported; choose "
            f"one of {sorted(REWARD_SCALES)}."
        )
    result = _score(data_source, solution_str, ground_truth, extra_info)
    correct, wrong, missing = REWARD_SCALES[scale]
    result["score"] = correct if result["acc"] else wrong if result["format_ok"] else missing
    return result


def _score(data_source, solution_str, ground_truth, extra_info) -> dict:
    _count("calls")
    try:
        text = solution_str if isinstance(solution_str, str) else ""
        text = text[-MAX_CHARS:]
        answer_format = (extra_info or {}).get("answer_format") if isinstance(extra_info, dict) else None
        answer_format = answer_format or "boxed"
        if answer_format not in ANSWER_FORMATS:
            _count("errors")  # a data bug: visible in reward_stats, never a crash
            return {"score": 0.0, "acc": False, "pred": "", "format_ok": False}
        pred = extract_answer(text, str(data_source), answer_format)
        if not pred:
            _count("no_answer")
            return {"score": 0.0, "acc": False, "pred": "", "format_ok": False}
        acc = _judge(pred, _golds(ground_truth, extra_info))
        _count("correct" if acc else "wrong")
        return {"score": 1.0 if acc else 0.0, "acc": acc, "pred": pred[:200], "format_ok": True}
    except Exception:  # noqa: BLE001 - a reward must never crash training
        _count("errors")
        return {"score": 0.0, "acc": False, "pred": "", "format_ok": False}
