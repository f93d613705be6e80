"""A tiny Qwen2 with a locally trained tokenizer, and a toy task it can learn (CPU smoke runs).

No model hub is needed: the tokenizer is a byte-level BPE trained here, the model is built from
a config. A short supervised warm start on the toy task makes rewards reachable, so GRPO groups
come out all-correct, mixed and all-wrong, and ERPO has residual prompts to work on.
``python -m erpo.tiny --out DIR [--warm-start-steps N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random

# Bump "version" when the build changes, so built copies are rebuilt.
SPEC = {
    "version": 3,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 256,
    "vocab_size_target": 448,
}
TOY_SOURCE = "erpo/toy_add"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<|pad|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]


def toy_problem(a: int, b: int) -> tuple[str, str]:
    return f"What is {a} + {b}? Answer in \\boxed{{}}.", str(a + b)


def _toy_pairs(n: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(0, 9), rng.randint(0, 9)) for _ in range(n)]


def build_tiny_model(out_dir: str, seed: int = 0, warm_start_steps: int = 0) -> str:
    """Build tokenizer + model (+ warm start) into ``out_dir`` once per spec; returns the path.

    A directory built with another spec (seed, warm-start steps, version) is rebuilt from scratch,
    so the same config always gives the same weights.
    """
    marker = os.path.join(out_dir, "erpo_tiny.json")
    spec = dict(SPEC, seed=seed, warm_start_steps=warm_start_steps)
    if os.path.exists(marker):
        with open(marker) as f:
            if json.load(f).get("spec") == spec:
                return out_dir
        os.remove(marker)
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2ForCausalLM

    os.makedirs(out_dir, exist_ok=True)
    corpus = []
    for a, b in _toy_pairs(2000, seed):
        question, answer = toy_problem(a, b)
        corpus += [question, f"The answer is \\boxed{{{answer}}}.", "Please reason step by step."]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=SPEC["vocab_size_target"],
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|end|>", bos_token=None, chat_template=CHAT_TEMPLATE
    )
    tokenizer.save_pretrained(out_dir)

    torch.manual_seed(seed)
    config = small_qwen2_config(tokenizer, SPEC)
    Qwen2ForCausalLM(config).save_pretrained(out_dir, safe_serialization=True)
    accuracy = warm_start(out_dir, steps=warm_start_steps, seed=seed) if warm_start_steps > 0 else None
    # Written last: an interrupted build is redone on the next call.
    with open(marker, "w") as f:
        json.dump({"spec": spec, "toy_accuracy": accuracy}, f)
    return out_dir


def warm_start(model_dir: str, steps: int = 1500, lr: float = 3e-3, seed: int = 0) -> float:
    """Supervised fit on toy completions, saved in place; returns greedy toy accuracy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    pairs = _toy_pairs(512, seed + 7)
    model.train()
    for step in range(steps):
        batch = [pairs[(step * 16 + k) % len(pairs)] for k in range(16)]
        ids, labels = [], []
        for a, b in batch:
            question, answer = toy_problem(a, b)
            prompt = _prompt_ids(tokenizer, question)
            target = tokenizer(f"\\boxed{{{answer}}}", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            ids.append(prompt + target)
            labels.append([-100] * len(prompt) + target)
        width = max(map(len, ids))
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
        label_ids = torch.tensor([y + [-100] * (width - len(y)) for y in labels])
        loss = model(input_ids=input_ids, attention_mask=(input_ids != pad).long(), labels=label_ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    accuracy = toy_accuracy(model, tokenizer, _toy_pairs(64, seed + 99))
    model.save_pretrained(model_dir, safe_serialization=True)
    return accuracy


def _prompt_ids(tokenizer, question: str) -> list[int]:
    messages = [{"role": "user", "content": question}]
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))


def toy_accuracy(model, tokenizer, pairs) -> float:
    import torch

    correct = 0
    for a, b in pairs:
        question, answer = toy_problem(a, b)
        prompt = _prompt_ids(tokenizer, question)
        with torch.no_grad():
            out = model.generate(
                torch.tensor([prompt]), max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        correct += f"\\boxed{{{answer}}}" in tokenizer.decode(out[0, len(prompt) :])
    return correct / len(pairs)


def write_toy_parquet(path: str, n: int, seed: int = 0) -> str:
    """Toy prompts in verl's RL parquet schema, with a unique ``extra_info.index`` per row."""
    import pandas as pd

    rows = []
    for i, (a, b) in enumerate(_toy_pairs(n, seed)):
        question, answer = toy_problem(a, b)
        rows.append(
            {
                "data_source": TOY_SOURCE,
                "prompt": [{"role": "user", "content": question}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": answer},
                "extra_info": {"index": i, "split": "train", "question": question, "answer": answer},
            }
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for tokenizer + model")
    parser.add_argument(
        "--warm-start-steps", type=int, default=1500, help="supervised steps on the toy task (0 = none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for tokenizer corpus, weights and warm start")
    args = parser.parse_args(argv)
    path = build_tiny_model(args.out, seed=args.seed, warm_start_steps=args.warm_start_steps)
    with open(os.path.join(path, "erpo_tiny.json")) as f:
        print(f"built {path}; toy greedy accuracy: {json.load(f)['toy_accuracy']}")


if __name__ == "__main__":
    main()


def small_qwen2_config(tokenizer, spec: dict):
    """A float32 Qwen2 config of ``spec``'s sizes for ``tokenizer`` (eos doubles as bos, embeddings tied).

    The vocabulary is rounded up to a multiple of 64 with room to spare: once config.json says qwen2,
    transformers loads the tokenizer as Qwen2Tokenizer, which adds <|endoftext|>."""
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=(len(tokenizer) // 64 + 1) * 64,
        hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_hidden_layers=spec["num_hidden_layers"],
        num_attention_heads=spec["num_attention_heads"],
        num_key_value_heads=spec["num_key_value_heads"],
        max_position_embeddings=spec["max_position_embeddings"],
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        torch_dtype="float32",
    )
