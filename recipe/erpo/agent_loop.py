"""Single-turn agent loop that samples each prompt at its own ERPO temperature.

The trainer writes a per-prompt ``temperature`` field into the batch before dispatch. verl's
agent-loop worker passes every batch field to the loop as a keyword argument and stores it
with each trajectory, so the same value later reaches the log-prob passes. vLLM takes
sampling params per request, so no batch splitting is needed.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

AGENT_NAME = "erpo_single_turn"
TEMPERATURE_FIELD = "temperature"


def per_request_sampling_params(sampling_params: dict[str, Any], prompt_fields: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``sampling_params`` with the prompt's own temperature, if it carries one.

    Validation batches carry no temperature field and keep ``val_kwargs.temperature``.
    """
    temperature = prompt_fields.get(TEMPERATURE_FIELD)
    if temperature is None:
        return sampling_params
    value = float(temperature)
    if not value > 0:
        raise ValueError(f"ERPO temperature must be > 0, got {value} for prompt index {prompt_fields.get('index')}")
    return {**sampling_params, "temperature": value}


@register(AGENT_NAME)
class ERPOSingleTurnAgentLoop(SingleTurnAgentLoop):
    async def run(self, sampling_params: dict[str, Any], **kwargs) -> AgentLoopOutput:
        return await super().run(per_request_sampling_params(sampling_params, kwargs), **kwargs)
