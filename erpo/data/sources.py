"""Every dataset the project prepares: where it comes from and how its fields map.

``hub_*`` fields are what real users load with ``datasets.load_dataset``; ``local_file`` is the
copy under ``../shared/data`` (or any directory given with ``--local-dir``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    # data_source written into each row (the tracker's key prefix and the reward's routing key).
    data_source: str
    # Hugging Face dataset id, config and split.
    hub_id: str
    hub_config: str | None
    hub_split: str
    # Local JSONL file name (None: hub only, or --local-file).
    local_file: str | None
    # Field holding the problem text, and the answer field.
    question_field: str
    answer_field: str
    # How to read the answer: gsm8k ("... #### N"), boxed (last \boxed{} of a solution), plain.
    answer_kind: str = "plain"
    # train | test (written to extra_info.split).
    split: str = "test"
    # Field holding a list of accepted alternative answers (any one is right), when a row has it.
    alternatives_field: str | None = "answers"


SOURCES: dict[str, Source] = {
    "gsm8k_train": Source(
        "openai/gsm8k", "openai/gsm8k", "main", "train", "gsm8k_train.jsonl", "question", "answer", "gsm8k", "train"
    ),
    "gsm8k_test": Source(
        "openai/gsm8k", "openai/gsm8k", "main", "test", "gsm8k_test.jsonl", "question", "answer", "gsm8k", "test"
    ),
    "math_train": Source(
        "math", "DigitalLearningGmbH/MATH-lighteval", "default", "train", None, "problem", "solution", "boxed", "train"
    ),
    "dapo_math_17k": Source(
        "math_dapo", "BytedTsinghua-SIA/DAPO-Math-17k", None, "train", None, "prompt", "reward_model", "dapo", "train"
    ),
    "math500": Source("math500", "HuggingFaceH4/MATH-500", None, "test", "math500.jsonl", "problem", "answer"),
    "aime24": Source("aime24", "HuggingFaceH4/aime_2024", None, "train", "aime24.jsonl", "problem", "answer"),
    "aime25": Source("aime25", "yentinglin/aime_2025", None, "train", "aime25.jsonl", "problem", "answer"),
    # The 83-problem R1-Zero/SimpleRL AMC suite (Qwen2.5-Math's amc23 has 40): tables say which.
    "amc23": Source("amc23", "math-ai/amc23", None, "test", "amc23.jsonl", "problem", "answer"),
    "minerva": Source("minerva", "math-ai/minervamath", None, "test", "minerva.jsonl", "problem", "answer"),
    "olympiadbench": Source(
        "olympiadbench",
        "Hothan/OlympiadBench",
        "OE_TO_maths_en_COMP",
        "train",
        "olympiadbench.jsonl",
        "problem",
        "answer",
    ),
}

TRAIN_SETS = ("gsm8k_train", "math_train", "dapo_math_17k")
EVAL_SETS = ("gsm8k_test", "math500", "aime24", "aime25", "amc23", "minerva", "olympiadbench")

# DAPO's own prompt: the wrapper of every DAPO-Math-17k row (BytedTsinghua-SIA/DAPO-Math-17k), the
# head and tail sentences as in DAPO's repository (BytedTsinghua-SIA/DAPO, inference/examples.json),
# one blank line between the parts as in the dataset rows (verl's recipe/retool/data_preprocess/
# dapo_multiturn_w_tool.py recovers the question as the text between the first and last "\n\n").
DAPO_HEAD = (
    "Solve the following math problem step by step. The last line of your response should be of the "
    "form Answer: $Answer (without quotes) where $Answer is the answer to the problem."
)
DAPO_TAIL = 'Remember to put your answer on its own line after "Answer:".'

TEMPLATES = {
    # Qwen2.5-Math's chain-of-thought instruction (the system message of its evaluation's
    # "qwen25-math-cot" prompt), appended to the user's question here. Our default, not a paper's:
    # DAPO's own prompt asks for an "Answer:" line instead (template dapo).
    "qwen_math_cot": "{question}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    # DAPO's prompt: reproduces a DAPO-Math-17k row's user message exactly.
    "dapo": DAPO_HEAD + "\n\n{question}\n\n" + DAPO_TAIL,
    # The bare question.
    "plain": "{question}",
}

# The answer format each template asks for, written to extra_info.answer_format and read by the
# reward (erpo/rewards/extract.py): boxed, answer_line ("Answer: ..."), or any (plain asks for none).
TEMPLATE_ANSWER_FORMAT = {"qwen_math_cot": "boxed", "dapo": "answer_line", "plain": "any"}
