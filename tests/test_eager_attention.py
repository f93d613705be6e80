"""The CPU platform's trainer attention (``attn_implementation: eager``, recipe/conf/platform/cpu.yaml) computes
the same token log-probs as sdpa, which it replaced: in fp32 to float rounding, and under the bf16 autocast the
trainer runs, each kernel is as far from the fp32 values as the other. A model the study's shape (4 layers, 128
wide, 4 heads, 2 KV heads), random weights large enough that log-probs spread, a left-padded batch as verl's
passes pad it."""

import pytest
import torch


@pytest.fixture(scope="module")
def model_and_batch():
    from transformers import Qwen2ForCausalLM

    from benchmarks.cpu_study.model import SPEC, VOCAB_TARGET
    from erpo.tiny import small_qwen2_config

    class StudyTokenizer:  # what small_qwen2_config reads of the study's tokenizer
        eos_token_id, pad_token_id = 1, 0

        def __len__(self):
            return VOCAB_TARGET

    torch.manual_seed(0)
    config = small_qwen2_config(StudyTokenizer(), SPEC)
    config.initializer_range = 0.1
    model = Qwen2ForCausalLM(config).eval()
    rows, width = 64, 31
    ids = torch.randint(0, config.vocab_size, (rows, width))
    mask = torch.ones_like(ids)
    for row, length in enumerate(torch.randint(10, width + 1, (rows,)).tolist()):
        mask[row, : width - length] = 0  # left padding
    return model, ids, mask


def token_log_probs(model, ids, mask, attention: str, bf16: bool) -> torch.Tensor:
    model.config._attn_implementation = attention
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
    log_probs = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0]
    return log_probs[(mask[:, 1:] * mask[:, :-1]).bool()]


def test_eager_and_sdpa_are_the_same_attention(model_and_batch):
    exact_eager = token_log_probs(*model_and_batch, "eager", bf16=False)
    exact_sdpa = token_log_probs(*model_and_batch, "sdpa", bf16=False)
    assert exact_eager.std() > 0.5  # the log-probs spread: a comparison of near-uniform outputs would prove nothing
    assert (exact_eager - exact_sdpa).abs().max() < 1e-4

    eager_error = (token_log_probs(*model_and_batch, "eager", bf16=True) - exact_eager).abs()
    sdpa_error = (token_log_probs(*model_and_batch, "sdpa", bf16=True) - exact_eager).abs()
    assert eager_error.mean() < 1.25 * sdpa_error.mean()
    assert eager_error.max() < 1.25 * sdpa_error.max()
