"""Checks the two promises docs/prepo.md makes to the trainer integration."""

import subprocess
import sys

import torch
from tensordict import TensorDict
from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding


def test_pure_modules_import_without_torch_or_verl():
    code = (
        "import sys; import erpo.prepo.pacing, erpo.prepo.window, erpo.prepo.perplexity, "
        "erpo.prepo.schedule_state, erpo.prepo.config, erpo.prepo.metrics; "
        "bad = [m for m in ('torch', 'verl', 'ray') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_prompt_as_response_layout_slices_out_prompt_token_logprobs():
    # Prompts [11, 12, 13, 14] and [21, 22]: prefix = first token, "response" = the rest.
    first = torch.tensor([[11], [21]])
    rest = torch.tensor([[12, 13, 14], [22, 0, 0]])
    rest_mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    attention = torch.cat([torch.ones(2, 1, dtype=torch.long), rest_mask], dim=1)
    data = TensorDict(
        {
            "input_ids": torch.cat([first, rest], 1),
            "attention_mask": attention,
            "position_ids": attention.cumsum(-1) - 1,
            "prompts": first,
            "responses": rest,
            "response_mask": rest_mask,
        },
        batch_size=[2],
    )
    data = left_right_2_no_padding(data)
    # Stand-in for the engine's nested output: entry t holds "log p(x_{t+1} | x_<=t)", encoded here
    # as the id of x_{t+1} (the final entry predicts past the sequence end and must be dropped).
    fake = torch.cat([torch.cat([seq[1:].float(), torch.tensor([-1.0])]) for seq in data["input_ids"].unbind()])
    sliced = no_padding_2_padding(fake, data)
    assert torch.equal(sliced * rest_mask, rest.float())
