"""Agent-loop workers that build a single-turn agent loop once per worker instead of once per rollout.

verl's ``AgentLoopWorker._run_agent_loop`` builds a new agent-loop object for every rollout with
``hydra.utils.instantiate`` (config merge, a tokenizer wrapper, a continuous-token builder). On two CPU cores that
was about a fifth of the agent-loop worker's time, which is most of a step's generation (py-spy of a 36-prompt x 8
step: BENCHMARKS.md, "Step cost on CPU"). A single-turn loop keeps no per-request state (``run`` works on its
arguments and locals only), so one object per worker serves every rollout; every other loop kind is still built
per rollout by verl's own code.

Selected through verl's extension point ``actor_rollout_ref.rollout.agent.agent_loop_manager_class``
(recipe/conf/platform/cpu.yaml); the rollouts, their sampling parameters and what reaches the trainer are unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hydra
import ray
from verl.experimental.agent_loop.agent_loop import (
    DictConfigWrap,
    ToolListWrap,
    _agent_loop_registry,
)
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopManagerTQ, AgentLoopWorkerTQ
from verl.utils.rollout_trace import rollout_trace_attr

from recipe.platform import prestart


def reusable(agent_loop_class: type) -> bool:
    """Whether one object of this agent-loop class may serve many rollouts (no per-request state)."""
    return isinstance(agent_loop_class, type) and issubclass(agent_loop_class, SingleTurnAgentLoop)


@ray.remote
class ReusedLoopWorkerTQ(AgentLoopWorkerTQ.__ray_actor_class__):
    """verl's TransferQueue agent-loop worker, holding one object per reusable agent-loop kind."""

    def _loop_for(self, agent_name: str):
        cache = self.__dict__.setdefault("_erpo_loops", {})
        if agent_name not in cache:
            loop = hydra.utils.instantiate(
                config=_agent_loop_registry[agent_name],
                trainer_config=DictConfigWrap(config=self.config),
                server_manager=self.llm_client,
                tokenizer=self.tokenizer,
                processor=self.processor,
                hf_model_type=self.hf_model_type,
                dataset_cls=self.dataset_cls,
                data_config=DictConfigWrap(self.config.data),
                tools=ToolListWrap(self.tools),
            )
            cache[agent_name] = loop if reusable(type(loop)) else None
        return cache[agent_name]

    async def _run_agent_loop(
        self,
        sampling_params: dict[str, Any],
        trajectory: dict[str, Any],
        *,
        agent_name: str,
        trace: bool = True,
        **kwargs,
    ):
        if agent_name not in _agent_loop_registry:
            raise KeyError(f"Agent loop {agent_name} not registered; registered: {list(_agent_loop_registry)}")
        loop = self._loop_for(agent_name)
        if loop is None:  # a loop kind with per-request state: built per rollout, as verl does
            return await super()._run_agent_loop(
                sampling_params, trajectory, agent_name=agent_name, trace=trace, **kwargs
            )
        with rollout_trace_attr(
            step=trajectory["step"],
            sample_index=trajectory["sample_index"],
            rollout_n=trajectory["rollout_n"],
            validate=trajectory["validate"],
            name="agent_loop",
            trace=trace,
        ):
            output = await loop.run(sampling_params, **kwargs)
            return await self._agent_loop_postprocess(output, trajectory["validate"], **kwargs)


class ReusedLoopManagerTQ(AgentLoopManagerTQ):
    """verl's TransferQueue agent-loop manager with :class:`ReusedLoopWorkerTQ` workers; it takes the workers
    ``platform.prestart_rollout_workers`` started (recipe/platform/prestart.py) where there are any."""

    workers_class = ReusedLoopWorkerTQ

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent_loop_workers_class = self.workers_class

    async def _init_agent_loop_workers(self):
        started = prestart.take(type(self))
        if started is None:
            return await super()._init_agent_loop_workers()
        # The arguments verl's manager creates each worker with.
        await asyncio.gather(
            *[
                worker.construct.remote(
                    self.config, self.llm_client, self.teacher_client, self.reward_loop_worker_handles
                )
                for worker in started
            ]
        )
        self.agent_loop_workers = started
