"""Sampling backends with one result format: vLLM on GPU, HF transformers on CPU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sample:
    text: str
    num_tokens: int


def pick_backend(name: str) -> str:
    if name != "auto":
        return name
    try:
        import torch
        import vllm  # noqa: F401

        return "vllm" if torch.cuda.is_available() else "hf"
    except ImportError:
        return "hf"


class HFGenerator:
    """transformers.generate; CPU-friendly, batched over problems."""

    def __init__(self, model: str, seed: int, dtype: str = "float32"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype)).eval()
        self.seed = seed

    def generate(
        self, prompts: list[list[dict]], k: int, max_new_tokens: int, temperature: float, top_p: float
    ) -> list[list[Sample]]:
        torch, tok = self.torch, self.tokenizer
        texts = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(self.seed)
        greedy = temperature <= 0
        sampling = dict(do_sample=False) if greedy else dict(do_sample=True, temperature=temperature, top_p=top_p)
        with torch.no_grad():
            out = self.model.generate(
                **enc, max_new_tokens=max_new_tokens, num_return_sequences=k, pad_token_id=tok.pad_token_id, **sampling
            )
        new = out[:, enc["input_ids"].shape[1] :]
        samples = []
        for row in new:
            ids = [t for t in row.tolist() if t != tok.pad_token_id]
            if tok.eos_token_id in ids:
                ids = ids[: ids.index(tok.eos_token_id)]
            samples.append(Sample(tok.decode(ids, skip_special_tokens=True), len(ids)))
        return [samples[i * k : (i + 1) * k] for i in range(len(prompts))]


class VLLMGenerator:
    """vLLM offline engine (GPU); per-request n = k."""

    def __init__(self, model: str, seed: int, dtype: str = "bfloat16", tensor_parallel_size: int = 1):
        from vllm import LLM

        self.llm = LLM(model=model, seed=seed, dtype=dtype, tensor_parallel_size=tensor_parallel_size)
        self.seed = seed

    def generate(self, prompts, k, max_new_tokens, temperature, top_p):
        from vllm import SamplingParams

        params = SamplingParams(n=k, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=self.seed)
        outputs = self.llm.chat(prompts, params, use_tqdm=False)
        return [[Sample(o.text, len(o.token_ids)) for o in out.outputs] for out in outputs]


def make_generator(backend: str, model: str, seed: int, dtype: str | None):
    backend = pick_backend(backend)
    if backend == "hf":
        return HFGenerator(model, seed, dtype or "float32")
    if backend == "vllm":
        return VLLMGenerator(model, seed, dtype or "bfloat16")
    raise ValueError(f"backend={backend!r}: choose hf, vllm or auto")
