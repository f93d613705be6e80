"""Arithmetic task of the CPU study: nine graded levels, generated deterministically from a seed.

Pure Python (no torch). Difficulty grows with digits, operators and carries (our choice of levels):

| level | problem | example |
|---|---|---|
| 1 | one-digit sum, no carry | 3+4 |
| 2 | one-digit sum with carry | 7+8 |
| 3 | one-digit difference (>= 0) | 9-4 |
| 4 | two-digit + one-digit, no carry | 42+5 |
| 5 | two-digit + two-digit with a carry | 38+47 |
| 6 | two-digit - two-digit with a borrow (> 0) | 72-38 |
| 7 | one-digit product | 7*8 |
| 8 | three one-digit operands, + and - (>= 0) | 7+5-3 |
| 9 | two-digit x one-digit product with a carry | 47*6 |

Three disjoint pools come out of one seed: ``train`` (small, revisited many times by RL), ``heldout``
(validation, never trained on) and ``warm`` (the supervised warm start; disjoint from both, so RL
prompts and held-out prompts are new to the base model).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SOURCE = "cpu_study"
LEVELS = tuple(range(1, 10))
PROMPT = "Compute {expr}. Put the answer in \\boxed{{}}."


@dataclass(frozen=True)
class Problem:
    level: int
    expr: str
    answer: str

    @property
    def prompt(self) -> str:
        return PROMPT.format(expr=self.expr)

    @property
    def target(self) -> str:
        """The completion the warm start teaches (the reward reads the last \\boxed{})."""
        return f"\\boxed{{{self.answer}}}"


def _carry(a: int, b: int) -> bool:
    while a or b:
        if a % 10 + b % 10 >= 10:
            return True
        a, b = a // 10, b // 10
    return False


def _borrow(a: int, b: int) -> bool:
    while a or b:
        if a % 10 < b % 10:
            return True
        a, b = a // 10, b // 10
    return False


def all_problems(level: int) -> list[Problem]:
    """Every problem of a level, in a fixed order (the spaces are small enough to enumerate)."""
    d1, d2 = range(10), range(10, 100)
    out: list[Problem] = []
    if level == 1:
        out = [Problem(1, f"{a}+{b}", str(a + b)) for a in d1 for b in d1 if a + b < 10]
    elif level == 2:
        out = [Problem(2, f"{a}+{b}", str(a + b)) for a in d1 for b in d1 if a + b >= 10]
    elif level == 3:
        out = [Problem(3, f"{a}-{b}", str(a - b)) for a in d1 for b in d1 if a >= b]
    elif level == 4:
        out = [Problem(4, f"{a}+{b}", str(a + b)) for a in d2 for b in range(1, 10) if not _carry(a, b)]
    elif level == 5:
        out = [Problem(5, f"{a}+{b}", str(a + b)) for a in d2 for b in d2 if _carry(a, b)]
    elif level == 6:
        out = [Problem(6, f"{a}-{b}", str(a - b)) for a in d2 for b in d2 if a > b and _borrow(a, b)]
    elif level == 7:
        out = [Problem(7, f"{a}*{b}", str(a * b)) for a in range(2, 10) for b in range(2, 10)]
    elif level == 8:
        out = [Problem(8, f"{a}+{b}-{c}", str(a + b - c)) for a in d1 for b in d1 for c in d1 if a + b >= c]
    elif level == 9:
        out = [Problem(9, f"{a}*{b}", str(a * b)) for a in d2 for b in range(2, 10) if (a % 10) * b >= 10]
    else:
        raise ValueError(f"level={level}: levels are {LEVELS[0]}..{LEVELS[-1]}")
    return out


@dataclass(frozen=True)
class Split:
    train: list[Problem]
    heldout: list[Problem]
    warm: list[Problem]


def make_split(seed: int, train_per_level: int, heldout_per_level: int) -> Split:
    """Disjoint train / held-out / warm-start pools, the same for the same arguments.

    Each level's problems are shuffled with a seed derived from (seed, level); the first
    ``train_per_level`` go to train, the next ``heldout_per_level`` to held-out, the rest to the warm start.
    """
    train, heldout, warm = [], [], []
    for level in LEVELS:
        problems = all_problems(level)
        need = train_per_level + heldout_per_level
        if need >= len(problems):
            raise ValueError(
                f"level {level} has {len(problems)} problems; train_per_level + heldout_per_level = "
                f"{need} must leave some for the warm start (lower them)"
            )
        random.Random(f"{seed}/{level}").shuffle(problems)
        train += problems[:train_per_level]
        heldout += problems[train_per_level:need]
        warm += problems[need:]
    return Split(train, heldout, warm)


def verl_rows(problems: list[Problem], split: str) -> list[dict]:
    """Rows of verl's RL parquet schema; ``extra_info.index`` is the row number (the tracker's key)."""
    return [
        {
            "data_source": SOURCE,
            "prompt": [{"role": "user", "content": p.prompt}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": p.answer},
            "extra_info": {"index": i, "split": split, "level": p.level, "question": p.prompt, "answer": p.answer},
        }
        for i, p in enumerate(problems)
    ]
