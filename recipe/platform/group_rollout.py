"""Agent-loop workers that score and store a prompt's group of rollouts in one call each, not one per rollout.

verl's TransferQueue worker runs each of a prompt's n rollouts as its own session: after its one generation
request, every session makes a Ray call to the reward worker (one single-row ``DataProto``) and a TransferQueue put
(one row; a storage notification and a controller round trip behind it). On two CPU cores the agent-loop worker is
the busy process of a step's generation, and those per-rollout calls are most of what it does: a py-spy of a
36-prompt x 8 step put ~17 % of its time in the reward call and ~26 % in the put and its notifications
(BENCHMARKS.md, "Step cost on CPU").

Here a prompt's n single-turn rollouts still generate as n requests, concurrently, with the same sampling
parameters; then the group is scored in one call to the reward worker's own ``compute_score_batch`` (which scores
each row by itself, exactly as ``compute_score`` does) and stored in one ``kv_batch_put`` with the keys, fields and
tags verl's ``_agent_loop_postprocess`` gives each rollout. ``tests/test_group_rollout.py`` runs both paths on the
same rollouts and compares what reaches the reward worker and the TransferQueue, field by field.

Only where that holds: a single-turn loop (reused, recipe/platform/agent_loop_reuse.py), text only, the reward
scored by verl's reward-loop workers, no on-policy distillation. Anything else runs verl's per-session path.

Selected through ``actor_rollout_ref.rollout.agent.agent_loop_manager_class`` (recipe/conf/platform/cpu.yaml); cut
``group_rollout`` in benchmarks/step_cost.py.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from typing import Any

import numpy as np
import ray
import torch
import transfer_queue as tq
from tensordict import TensorDict
from verl.protocol import DataProto
from verl.trainer.ppo.v1.agent_loop_tq import apply_greedy_sampling_params
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from recipe.platform.agent_loop_reuse import ReusedLoopManagerTQ, ReusedLoopWorkerTQ

logger = logging.getLogger(__name__)


@ray.remote
class GroupRolloutWorkerTQ(ReusedLoopWorkerTQ.__ray_actor_class__):
    """verl's TransferQueue agent-loop worker (with reused single-turn loops), scoring and storing per group."""

    def _group_loop(self, prompt: dict[str, Any]):
        """The reused loop that serves this prompt's group, or None where verl's per-session path must run."""
        if self.processor is not None or self.distillation_enabled or self.reward_loop_worker_handles is None:
            return None
        return self._loop_for(prompt["agent_name"])

    async def _run_prompt(self, prompt: dict, sampling_params: dict, trajectory: dict, trace: bool = False) -> None:
        loop = self._group_loop(prompt)
        if loop is None:
            return await super()._run_prompt(prompt, sampling_params, trajectory=trajectory, trace=trace)
        validate = trajectory["validate"]
        uid, partition_id = prompt["uid"], "train" if not validate else "val"
        await tq.async_kv_put(key=uid, partition_id=partition_id, tag={"status": "running"})
        status = "failure"
        try:
            config = self.config.actor_rollout_ref.rollout
            n = prompt.pop("__rollout_n__", config.n if not validate else config.val_kwargs.n)
            do_sample = prompt.pop("__do_sample__", True)
            run_sampling_params = dict(sampling_params)
            if not validate and not do_sample:
                apply_greedy_sampling_params(run_sampling_params)
            # What verl's _run_agent_loop hands the loop and the post-processing: the prompt's fields but the
            # agent name, and the session id.
            fields = {k: v for k, v in prompt.items() if k != "agent_name"}
            sessions = [{**fields, "session_id": i} for i in range(n)]
            # Every session runs to its end before anything is stored, as verl's _run_prompt settles them all.
            results = await asyncio.gather(
                *(loop.run(run_sampling_params, **session) for session in sessions), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                for error in errors:
                    logger.error(f"Error in a rollout of uid={uid}", exc_info=(type(error), error, error.__traceback__))
            else:
                rows = [self._row_tensors(output) for output in results]
                await self._score_group(results, rows, sessions)
                await self._put_group(results, rows, sessions, partition_id)
                status = "finished"
        except Exception as e:
            logger.exception(f"Error in _run_prompt: {e}")
        await tq.async_kv_put(key=uid, partition_id=partition_id, tag={"status": status})

    def _row_tensors(self, output) -> dict[str, torch.Tensor]:
        """One rollout's tensors as verl's post-processing and reward call build them (text only)."""
        prompts = torch.tensor(output.prompt_ids, dtype=torch.int64)
        responses = torch.tensor(output.response_ids, dtype=torch.int64)
        input_ids = torch.cat([prompts, responses], dim=0)
        attention_mask = torch.ones_like(input_ids, dtype=torch.int64)
        position_ids = self._compute_position_ids(input_ids.unsqueeze(0), attention_mask.unsqueeze(0), {}).squeeze(0)
        return {
            "prompts": prompts,
            "responses": responses,
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
        }

    async def _score_group(self, outputs: list, rows: list[dict], sessions: list[dict]) -> None:
        """One ``compute_score_batch`` call for the rollouts the loop did not score itself.

        Rows are right-padded with 0 as verl pads a trajectory's outputs; verl's reward managers read a row's
        response through its attention mask, so each row reads what its own single-row call would have.
        """
        todo = [i for i, output in enumerate(outputs) if output.reward_score is None]
        if not todo:
            return
        started = time.perf_counter()
        batch = TensorDict(
            {
                key: torch.nn.utils.rnn.pad_sequence([rows[i][key] for i in todo], batch_first=True, padding_value=0)
                for key in rows[0]
            },
            batch_size=len(todo),
        )
        # A copy per row: the sessions share the prompt's objects, one pickle keeps them shared, and verl's naive
        # reward manager writes into a row's ``extra_info`` before it awaits; shared, rows would read each other's.
        non_tensor_batch = {
            **{key: np.array([copy.deepcopy(sessions[i][key]) for i in todo]) for key in sessions[0]},
            "__num_turns__": np.array([outputs[i].num_turns for i in todo]),
            "tool_extra_fields": np.array([outputs[i].extra_fields for i in todo], dtype=object),
            "prompt_len": np.array([len(outputs[i].prompt_ids) for i in todo]),
            "response_len": np.array([len(outputs[i].response_ids) for i in todo]),
        }
        handle = random.choice(self.reward_loop_worker_handles)
        results = await handle.compute_score_batch.remote(DataProto(batch=batch, non_tensor_batch=non_tensor_batch))
        seconds = time.perf_counter() - started
        for i, result in zip(todo, results, strict=True):
            outputs[i].reward_score = result["reward_score"]
            outputs[i].extra_fields["reward_extra_info"] = result["reward_extra_info"]
            # verl times each rollout's own call; here one call scored the group.
            outputs[i].metrics.compute_score = seconds

    async def _put_group(self, outputs: list, rows: list[dict], sessions: list[dict], partition_id: str) -> None:
        """The group's rollouts in one put, each with the key, fields and tags verl's post-processing gives it."""
        keys, fields, tags = [], [], []
        for output, row, session in zip(outputs, rows, sessions, strict=True):
            keys.append(f"{session['uid']}_{session['session_id']}_0")
            field = output.as_dict()
            field.update(session)
            field.pop("multi_modal_data", None)
            field["loss_mask"] = field["response_mask"]
            field["input_ids"] = row["input_ids"]
            field["position_ids"] = row["position_ids"]
            field["multi_modal_inputs"] = {}
            fields.append(field)
            prompt_len, response_len = field["prompts"].size(0), field["responses"].size(0)
            tags.append(
                {
                    "status": "success",
                    "prompt_len": prompt_len,
                    "response_len": response_len,
                    "seq_len": prompt_len + response_len,
                    "global_steps": session["global_steps"],
                    "min_global_steps": field["extra_fields"].get("min_global_steps"),
                    "max_global_steps": field["extra_fields"].get("max_global_steps"),
                }
            )
        await tq.async_kv_batch_put(
            keys=keys, fields=list_of_dict_to_tensordict(fields), tags=tags, partition_id=partition_id
        )


class GroupRolloutManagerTQ(ReusedLoopManagerTQ):
    """verl's TransferQueue agent-loop manager with :class:`GroupRolloutWorkerTQ` workers."""

    workers_class = GroupRolloutWorkerTQ
