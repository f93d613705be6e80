"""Evaluate one model on benchmarks: k samples per problem, scored by the training reward.

Per (model, benchmark) a JSON with every sample is written, so tables can be rebuilt without
regenerating; problems finished so far are kept in ``<name>.partial.jsonl`` and skipped on a
rerun, so an interrupted evaluation resumes.
"""

from __future__ import annotations

import json
import os
import re

from tqdm import tqdm

from erpo.data import load_rows, to_verl_rows
from erpo.eval.metrics import benchmark_metrics, check_ks
from erpo.rewards import compute_score


def result_name(model: str, benchmark: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{model.strip('/').split('/')[-1]}__{benchmark}")


def sampling_record(cfg) -> dict:
    """The sampling this result used: the preset's name (marked when a value was overridden) and the values."""
    values = {
        "temperature": float(cfg.temperature),
        "top_p": float(cfg.top_p),
        "max_tokens": int(cfg.max_new_tokens),
        "k": int(cfg.k),
    }
    preset = getattr(cfg, "sampling", None) or {}
    name = str(preset.get("name", "none"))
    if preset and any(values[key] != type(values[key])(preset[key]) for key in values):
        name += " (overridden)"
    return {"preset": name, **values}


def train_log_rollouts(path) -> int | None:
    """Last ``rollouts/total`` in a training run's JSONL metrics log (docs/metrics.md), or None without a log."""
    if not path:
        return None
    last = None
    with open(path) as f:
        for line in f:
            if line.strip():
                value = json.loads(line).get("data", {}).get("rollouts/total")
                last = value if value is not None else last
    if last is None:
        raise ValueError(f"train_log={path!r} has no rollouts/total: give the JSONL log of a run of this recipe.")
    return int(last)


def evaluate(generator, model: str, benchmark: str, cfg) -> dict:
    check_ks(cfg.pass_k, cfg.k)  # before generating: a pass@k above k samples is refused, not dropped
    rows = to_verl_rows(benchmark, load_rows(benchmark, cfg.source, cfg.local_dir), cfg.template, cfg.limit)
    os.makedirs(cfg.out_dir, exist_ok=True)
    name = result_name(model, benchmark)
    partial_path = os.path.join(cfg.out_dir, f"{name}.partial.jsonl")
    done = {}
    if os.path.exists(partial_path):
        with open(partial_path) as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    done[rec["index"]] = rec
    todo = [r for r in rows if r["extra_info"]["index"] not in done]
    with (
        open(partial_path, "a") as partial,
        tqdm(total=len(rows), initial=len(rows) - len(todo), desc=f"{benchmark}", disable=not cfg.progress) as bar,
    ):
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start : start + cfg.batch_size]
            prompts = [r["prompt"] for r in batch]
            outs = generator.generate(prompts, cfg.k, cfg.max_new_tokens, cfg.temperature, cfg.top_p)
            for row, samples in zip(batch, outs, strict=True):
                truth = row["reward_model"]["ground_truth"]
                scored = []
                for j, s in enumerate(samples):
                    res = compute_score(row["data_source"], s.text, truth, extra_info=row["extra_info"])
                    scored.append(
                        {
                            "sample": j,
                            "text": s.text,
                            "pred": res["pred"],
                            "score": res["score"],
                            "correct": bool(res["acc"]),
                            "format_ok": res["format_ok"],
                            "tokens": s.num_tokens,
                        }
                    )
                rec = {
                    "index": row["extra_info"]["index"],
                    "id": row["extra_info"]["id"],
                    "ground_truth": truth,
                    "samples": scored,
                }
                partial.write(json.dumps(rec) + "\n")
                partial.flush()
                done[rec["index"]] = rec
                bar.update(1)
    problems = [done[r["extra_info"]["index"]] for r in rows]
    metrics = benchmark_metrics(
        [[s["correct"] for s in p["samples"]] for p in problems],
        [[s["tokens"] for s in p["samples"]] for p in problems],
        list(cfg.pass_k),
    )
    metrics[f"avg@{cfg.k}"] = metrics["avg@k"]  # named by k, as the table builder reads it
    result = {
        "model": model,
        "benchmark": benchmark,
        "k": cfg.k,
        "run_name": cfg.run_name or model,
        "variant": cfg.variant,
        "settings": {
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "max_new_tokens": cfg.max_new_tokens,
            "template": cfg.template,
            "seed": cfg.seed,
            "limit": cfg.limit,
        },
        "sampling": sampling_record(cfg),
        "rollouts": train_log_rollouts(getattr(cfg, "train_log", None)),
        "metrics": metrics,
        "problems": problems,
    }
    path = os.path.join(cfg.out_dir, f"{name}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(path + ".tmp", path)
    os.remove(partial_path)
    return result
