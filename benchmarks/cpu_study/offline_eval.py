"""Offline held-out evaluation of the study's models: k samples per held-out problem, batched, in one process.

The models are HF directories: the base model (``<assets>/model``) and each run's final checkpoint as verl
saves it with ``actor.checkpoint.save_contents`` holding ``hf_model`` (``<ckpt>/actor/huggingface``; its
tokenizer is the base model's). Sampling: the study's own batched HF sampler (benchmarks.cpu_study.model
``sample_with_lengths``: the full distribution at the given temperature, as verl's rollout samples; vLLM
is not needed for a 1M-parameter model). Graded by the project's reward; written by
benchmarks.cpu_study.heldout.write_eval_results, so every field of a result is measured (the response length too).
torch / transformers are imported inside functions.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.cpu_study.heldout import write_eval_results
from benchmarks.cpu_study.task import make_split


def hf_checkpoint(checkpoint_dir: str | Path) -> Path:
    """The HF copy inside a verl FSDP checkpoint folder (``global_step_N``); a clear error without one."""
    path = Path(checkpoint_dir) / "actor" / "huggingface"
    if not (path / "config.json").exists() or not any(path.glob("*.safetensors")):
        raise FileNotFoundError(
            f"{path}: no HF weights in this checkpoint; the run must save them "
            "(actor_rollout_ref.actor.checkpoint.save_contents with hf_model, as "
            "recipe/conf/experiment/cpu_study/_base.yaml sets)"
        )
    return path


def evaluate(
    model_dir: str | Path,
    tokenizer_dir: str | Path,
    spec: dict,
    k: int,
    temperature: float,
    seed: int,
    max_new_tokens: int,
) -> dict[str, list[tuple[bool, int]]]:
    """{held-out expression: [(correct, response tokens)] * k} of the model at ``model_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmarks.cpu_study.model import _correct, sample_with_lengths

    if k < 1:
        raise ValueError(f"k={k}: the offline evaluation needs at least one sample per problem")
    held = make_split(spec["task_seed"], spec["train_per_level"], spec["heldout_per_level"]).heldout
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    groups = sample_with_lengths(
        model, tokenizer, held, n=k, temperature=temperature, seed=seed, max_new_tokens=max_new_tokens
    )
    out = {}
    for problem, group in zip(held, groups, strict=True):
        flags = _correct([text for text, _ in group], problem)
        out[problem.expr] = [(flag, tokens) for flag, (_, tokens) in zip(flags, group, strict=True)]
    return out


def evaluate_and_write(
    model_dir: str | Path,
    tokenizer_dir: str | Path,
    spec: dict,
    dst: Path,
    name: str,
    variant: str,
    seed: int,
    step: int,
    k: int,
    temperature: float,
    max_new_tokens: int,
) -> dict:
    """``evaluate`` then ``write_eval_results``; the sampling settings go into each result JSON."""
    samples = evaluate(model_dir, tokenizer_dir, spec, k, temperature, seed, max_new_tokens)
    settings = {
        "source": "offline HF sampling (benchmarks.cpu_study.offline_eval)",
        "model_dir": str(model_dir),
        "temperature": temperature,
        "top_p": 1.0,
        "top_k": None,
        "max_tokens": max_new_tokens,
        "sampling_seed": seed,
    }
    return write_eval_results(dst, name, variant, seed, step, samples, settings)
