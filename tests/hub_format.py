"""Rows in the hub's own formats, built from the shared benchmark files (no hub access in tests).

* DAPO-Math-17k (BytedTsinghua-SIA/DAPO-Math-17k): ``prompt`` = chat messages whose user turn is
  DAPO's wrapper around the problem, ``reward_model.ground_truth``, ``extra_info.index`` (a uuid
  string), ``data_source`` math_dapo, ``ability`` MATH; the hub repeats each problem ~100 times.
* MATH train (DigitalLearningGmbH/MATH-lighteval): ``problem``, ``solution`` ending in ``\\boxed{}``.
"""

import json
import uuid

from erpo.data.prepare import default_local_dir
from erpo.data.sources import DAPO_HEAD, DAPO_TAIL


def shared_rows(name: str) -> list[dict]:
    with open(f"{default_local_dir()}/{name}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def dapo_hub_rows(problems: list[dict], copies: int = 1) -> list[dict]:
    """``problems``: rows with ``problem`` and ``answer``; each repeated ``copies`` times, interleaved
    like the hub release (every copy with its own uuid)."""
    out = []
    for _ in range(copies):
        for p in problems:
            out.append(
                {
                    "data_source": "math_dapo",
                    "prompt": [{"content": f"{DAPO_HEAD}\n\n{p['problem']}\n\n{DAPO_TAIL}", "role": "user"}],
                    "ability": "MATH",
                    "reward_model": {"ground_truth": str(p["answer"]), "style": "rule-lighteval/MATH_v2"},
                    "extra_info": {"index": str(uuid.uuid4())},
                }
            )
    return out


def math_train_hub_rows(problems: list[dict]) -> list[dict]:
    return [
        {
            "problem": p["problem"],
            "level": "Level 3",
            "type": "Algebra",
            "solution": f"Working it out step by step, the answer is $\\boxed{{{p['answer']}}}$.",
        }
        for p in problems
    ]


def write_jsonl(rows: list[dict], path) -> str:
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return str(path)
