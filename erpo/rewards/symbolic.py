"""Symbolic comparison with math-verify; runs inside a worker process (``python -m erpo.rewards.symbolic``).

The trainer's process never imports sympy for a reward: worker_pool.py starts this module as a
child process, sends one JSON line per comparison and kills the child if the answer is late.

math-verify compares numbers by rounding both to 6 *decimal places* (``a.round(6) == b.round(6)``) or
by ``(a - b).evalf(chop=True) == 0``, so 2e-8 and 2e-7 are "equal". Here its numeric comparison is
replaced by :func:`relative_numeric_eq` (the same rule as answers.numbers_equal): exact values must
match, an integer must be hit exactly, decimals within REL_TOL relative. math-verify is pinned
(pyproject.toml); tests/test_reward_holes.py checks the replacement is in effect.

Protocol: one request per line ``{"pred": [part, ...], "golds": [[part, ...], ...]}`` (answers
already cleaned and split by the caller, answers.parts_of); one reply per line
``{"result": "equal" | "different" | "unparsable" | "error", "detail": str}``.
The first line written is ``{"ready": true}``.
"""

from __future__ import annotations

import json
import os
import sys

from erpo.rewards.answers import REL_TOL, match_parts, numbers_equal, read_number

# Digits of working precision for numeric checks (exact values must agree to ~25 digits).
_DIGITS = 30


def relative_numeric_eq(a, b, float_rounding=None, numeric_precision=None) -> bool:
    """Drop-in for math_verify.grader.sympy_numeric_eq with a relative tolerance."""
    from math_verify.grader import get_pct_val, safe_sympy_doit
    from sympy import Float, Integer, MatrixBase, Rational
    from sympy.matrices.expressions import MatrixExpr

    if isinstance(a, (MatrixBase, MatrixExpr)) and isinstance(b, (MatrixBase, MatrixExpr)):
        a, b = safe_sympy_doit(a), safe_sympy_doit(b)
        if isinstance(a, MatrixBase) and isinstance(b, MatrixBase) and a.shape == b.shape:
            return all(relative_numeric_eq(x, y) for x, y in zip(a.flat(), b.flat(), strict=True))
        return False
    a, b = safe_sympy_doit(get_pct_val(a, a)), safe_sympy_doit(get_pct_val(b, b))
    try:
        if a == b:
            return True
        if not (getattr(a, "is_number", False) and getattr(b, "is_number", False)):
            return bool((a - b).evalf(n=_DIGITS) == 0)  # symbolic: no chop (it hides small coefficients)
        if isinstance(a, Rational) and isinstance(b, Rational):
            return False  # exact and different
        va, vb = a.evalf(_DIGITS), b.evalf(_DIGITS)
        if not (va.is_finite and vb.is_finite):
            return False
        diff, scale = abs(va - vb).evalf(_DIGITS), max(abs(va).evalf(_DIGITS), abs(vb).evalf(_DIGITS))
        inexact = a.has(Float) or b.has(Float)
        integer = isinstance(a, Integer) or isinstance(b, Integer)
        tolerance = Float(REL_TOL.numerator, _DIGITS) / REL_TOL.denominator if inexact and not integer else 1e-25
        return bool(diff <= tolerance * scale)
    except (TypeError, ValueError, AttributeError, ArithmeticError):
        return False


def install() -> None:
    """Replace math-verify's numeric comparison (it looks the name up in its module at call time)."""
    from math_verify import grader

    grader.sympy_numeric_eq = relative_numeric_eq


def _parse(text: str):
    from math_verify import parse

    return parse(f"${text}$", parsing_timeout=None)


def part_equal(pred: str, gold: str) -> bool | None:
    """One part against one part; None when math-verify reads nothing in ``pred``."""
    from math_verify import verify

    pn, gn = read_number(pred), read_number(gold)
    if pn and gn:
        return numbers_equal(pn, gn)
    answer = _parse(pred)
    if not answer:
        return None
    target = _parse(gold)
    return bool(target and verify(target, answer, timeout_seconds=None))


def compare(pred_parts: list[str], golds: list[list[str]]) -> str:
    """'equal' if the pred's parts match some gold's parts (all of them, any order), else
    'different', or 'unparsable' when math-verify could read no part of the pred it was asked about."""
    unreadable = False
    seen: dict[tuple[str, str], bool] = {}

    def equal(p: str, g: str) -> bool:
        nonlocal unreadable
        if (p, g) not in seen:
            result = part_equal(p, g)
            unreadable |= result is None
            seen[(p, g)] = bool(result)
        return seen[(p, g)]

    for gold_parts in golds:
        if match_parts(pred_parts, gold_parts, equal):
            return "equal"
    return "unparsable" if unreadable else "different"


def _job_alarm(seconds: int) -> None:
    """Backstop for a worker whose parent died mid-job (no one left to kill it): SIGALRM with its
    default action ends the process from the kernel, even inside a sympy call holding the GIL.
    (PR_SET_PDEATHSIG would fire when the *thread* that started the worker exits, e.g. an executor's.)"""
    import signal

    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(seconds)


def _limit_memory() -> None:
    """A huge exact number raises MemoryError here instead of eating the machine's memory."""
    limit_mb = int(os.environ.get("ERPO_REWARD_WORKER_MEMORY_MB", "3072"))
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    except (ImportError, ValueError, OSError):
        pass


def main() -> None:
    # Replies go to a private copy of stdout; anything a library prints lands on stderr.
    reply = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" warning per call
    install()
    # Import and warm the parser, simplify, sets and intervals before saying ready: a cold first
    # comparison takes about a second, which would eat a call's deadline.
    for pred, gold in (
        ("1", "1"),
        ("x^2+2x+1", "(x+1)^2"),
        ("\\sqrt{8}", "2\\sqrt{2}"),
        ("[1,3)", "[1, 3)"),
        ("\\frac{\\pi}{2}", "1.570796"),
        ("(1,2)", "\\{1,2\\}"),
    ):
        compare([pred], [[gold]])
    _limit_memory()
    reply.write(json.dumps({"ready": True}) + "\n")
    job_limit = int(os.environ.get("ERPO_REWARD_WORKER_JOB_LIMIT_S", "120"))
    for line in sys.stdin:  # EOF when the parent is gone: the worker ends
        _job_alarm(job_limit)
        try:
            request = json.loads(line)
            result, detail = compare(list(request["pred"]), [list(g) for g in request["golds"]]), ""
        except MemoryError:
            result, detail = "error", "MemoryError"
        except Exception as err:  # noqa: BLE001 - reported to the caller, who counts it
            result, detail = "error", f"{type(err).__name__}: {err}"[:300]
        _job_alarm(0)
        reply.write(json.dumps({"result": result, "detail": detail}) + "\n")


if __name__ == "__main__":
    main()
