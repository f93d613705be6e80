"""Prompt perplexity under the current actor, through verl's own log-prob pass.

verl's ``compute_log_prob`` scores *response* tokens only. Each candidate prompt is presented
as a one-token "prompt" (its first token) followed by the rest of the prompt as the "response",
so the engine returns log pi(x_t | x_<t) for prompt tokens 2..P (docs/prepo.md). The first
token is never scored; for chat templates it is a constant such as ``<|im_start|>``.
"""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

from erpo.prepo.perplexity import sequence_perplexity


def prompt_token_ids(
    tokenizer, raw_prompts, perplexity_on: str, chat_template_kwargs: dict | None = None
) -> list[list[int]]:
    """Token ids to score for each prompt (chat messages, as verl's dataset yields them).

    ``templated``: the chat-templated prompt with the generation prefix, the exact tokens the
    policy conditions on. ``raw_question``: the last user message's text, no template.
    """
    ids = []
    for row, messages in enumerate(raw_prompts):
        messages = list(messages)
        if perplexity_on == "templated":
            tokens = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, **(chat_template_kwargs or {})
            )
            if isinstance(tokens, dict) or hasattr(tokens, "input_ids"):  # newer tokenizers return a BatchEncoding
                tokens = tokens["input_ids"]
        else:
            users = [m["content"] for m in messages if m.get("role") == "user"]
            if not users:
                raise ValueError(f"prepo.perplexity_on=raw_question: prompt {row} has no user message")
            tokens = tokenizer(users[-1], add_special_tokens=False)["input_ids"]
        tokens = [int(t) for t in tokens]
        if len(tokens) < 2:
            raise ValueError(f"prompt {row} has {len(tokens)} token(s); a perplexity needs at least 2")
        ids.append(tokens)
    return ids


def prompt_logprob_batch(token_ids: list[list[int]], pad_token_id: int) -> TensorDict:
    """The no-padding TensorDict verl's ``compute_log_prob`` takes, prompts laid out as responses."""
    width = max(len(t) for t in token_ids) - 1
    first = torch.tensor([[t[0]] for t in token_ids], dtype=torch.long)
    rest = torch.full((len(token_ids), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for row, tokens in enumerate(token_ids):
        rest[row, : len(tokens) - 1] = torch.tensor(tokens[1:], dtype=torch.long)
        mask[row, : len(tokens) - 1] = 1
    attention = torch.cat([torch.ones_like(first), mask], dim=1)
    batch = TensorDict(
        {
            "input_ids": torch.cat([first, rest], dim=1),
            "attention_mask": attention,
            "position_ids": (attention.cumsum(-1) - 1).clamp(min=0),
            "prompts": first,
            "responses": rest,
            "response_mask": mask,
        },
        batch_size=[len(token_ids)],
    )
    batch = left_right_2_no_padding(batch)
    # Perplexity of the untempered policy; no entropy, no loss: a plain forward pass.
    tu.assign_non_tensor(batch, calculate_entropy=False, compute_loss=False, temperature=1.0)
    return batch


def perplexities_from_output(log_probs, batch: TensorDict) -> np.ndarray:
    """One perplexity per prompt from the engine's (nested) ``log_probs`` output."""
    padded = no_padding_2_padding(log_probs, batch).float()
    mask = batch["response_mask"]
    return sequence_perplexity(padded.numpy(), mask.numpy())


def compute_prompt_perplexities(
    worker_group, token_ids: list[list[int]], pad_token_id: int, rows_multiple: int = 1
) -> np.ndarray:
    """Score prompts with ``worker_group.compute_log_prob``; padding rows are added and dropped.

    ``rows_multiple``: the row count verl's log-prob pass needs a multiple of (data-parallel size
    times ``rollout.log_prob_micro_batch_size_per_gpu`` without dynamic batch size).
    """
    padded = _pad_rows(token_ids, max(int(rows_multiple), 1))
    batch = prompt_logprob_batch(padded, pad_token_id)
    output = worker_group.compute_log_prob(batch)  # registered blocking in verl: the gathered TensorDict
    ppl = perplexities_from_output(tu.get(output, "log_probs"), batch)
    return ppl[: len(token_ids)]


def rows_multiple(world_size: int, micro_batch_size_per_gpu: int | None, use_dynamic_bsz: bool) -> int:
    """Rows a log-prob batch must be a multiple of: verl splits it evenly over ranks, then micro-batches."""
    per_rank = 1 if use_dynamic_bsz or not micro_batch_size_per_gpu else int(micro_batch_size_per_gpu)
    return max(int(world_size), 1) * per_rank


def _pad_rows(token_ids: list[list[int]], divisor: int) -> list[list[int]]:
    """Repeat the last prompt so the row count is a multiple of ``divisor``."""
    return token_ids + [token_ids[-1]] * ((-len(token_ids)) % divisor)
