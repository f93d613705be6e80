"""The group rollout path (recipe/platform/group_rollout.py) against verl's per-session path on the same rollouts.

Both paths run on one worker object (no Ray): a fake single-turn loop answers each session with its own response
length and out of order, verl's naive reward manager scores each row behind a fake reward worker that pickles what
it is sent (as a Ray call does) and scores batches with verl's own ``RewardLoopWorker.compute_score_batch``, and a
fake TransferQueue records every put. What reaches the reward function and the TransferQueue must be the same, row
by row; only the reward call's timing metric differs (one call for the group).
"""

from __future__ import annotations

import asyncio
import copy
import pickle

import pytest
import torch
import verl.trainer.ppo.v1.agent_loop_tq as verl_agent_loop_tq
from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

import recipe.platform.group_rollout as group_rollout
from recipe.erpo.agent_loop import per_request_sampling_params
from recipe.platform.agent_loop_reuse import ReusedLoopWorkerTQ
from recipe.platform.group_rollout import GroupRolloutManagerTQ, GroupRolloutWorkerTQ

N = 5


class FakeLoop:
    """A single-turn loop: response length and finishing order depend on the session."""

    async def run(self, sampling_params, **kwargs):
        sampling_params = per_request_sampling_params(sampling_params, kwargs)  # as the ERPO loop does
        i = kwargs["session_id"]
        await asyncio.sleep(0.002 * ((N - i) % 3))
        response = [20 + i + k for k in range(2 + i)]
        extra = {"turn_scores": [], "tool_rewards": [], "row": i, "temperature": sampling_params["temperature"]}
        if kwargs.get("fail_session") == i:
            raise RuntimeError("generation failed")
        return AgentLoopOutput(
            prompt_ids=[1, 2, 3],
            response_ids=response,
            response_mask=[1] * len(response),
            response_logprobs=[-0.25 * (k + 1) for k in range(len(response))],
            num_turns=2,
            metrics=AgentLoopMetrics(generate_sequences=0.01),
            extra_fields=extra,
        )


class FakeTokenizer:
    def decode(self, ids, skip_special_tokens=True):
        return " ".join(str(int(t)) for t in ids)


class FakeRewardWorker:
    """verl's naive reward manager behind a pickling boundary, with verl's compute_score_batch."""

    def __init__(self):
        self.seen: list[tuple] = []  # (solution, ground truth, extra_info) per scored row
        self.calls = {"compute_score": 0, "compute_score_batch": 0}

        def score(data_source, solution_str, ground_truth, extra_info):
            self.seen.append((data_source, solution_str, ground_truth, copy.deepcopy(extra_info)))
            return {"score": float(len(solution_str) % 3), "length": len(solution_str)}

        self._score_fn = score
        self.compute_score = self._method("compute_score", self._score)
        self.compute_score_batch = self._method("compute_score_batch", self._score_batch)

    def _method(self, name, fn):
        worker = self

        class Method:
            async def remote(self, data):
                worker.calls[name] += 1
                return await fn(pickle.loads(pickle.dumps(data)))

        return Method()

    async def _score(self, data):
        # Built in the running event loop: the manager keeps the loop it was made in.
        manager = NaiveRewardManager(OmegaConf.create({}), FakeTokenizer(), self._score_fn)
        return await manager.run_single(data)

    async def _score_batch(self, data):
        holder = type("Holder", (), {"compute_score": staticmethod(self._score)})()
        return await RewardLoopWorker.compute_score_batch(holder, data)


class FakeTransferQueue:
    def __init__(self):
        self.status: list[tuple] = []
        self.rows: dict[str, tuple[dict, dict]] = {}  # key -> (tag, field)
        self.batch_puts = 0

    async def async_kv_put(self, key, partition_id, tag):
        self.status.append((key, partition_id, tag["status"]))

    async def async_kv_batch_put(self, keys, fields, tags, partition_id):
        self.batch_puts += 1
        for i, key in enumerate(keys):
            row = {name: fields[i][name] for name in fields.keys()}
            plain = {k: (v.data if hasattr(v, "data") and not torch.is_tensor(v) else v) for k, v in row.items()}
            self.rows[key] = (tags[i], plain)


def _worker(reward=None, loop=None):
    worker = object.__new__(GroupRolloutWorkerTQ.__ray_actor_class__)
    worker.config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"n": N, "val_kwargs": {"n": 2}}}})
    worker.processor = None
    worker.mm_processor_kwargs = {}
    worker.distillation_enabled = False
    worker.reward_loop_worker_handles = [reward or FakeRewardWorker()]
    worker._erpo_loops = {"single_turn_agent": loop or FakeLoop()}
    return worker


def _prompt(**extra):
    return {
        "uid": "u7",
        "agent_name": "single_turn_agent",
        "raw_prompt": [{"role": "user", "content": "What is 1+1?"}],
        "data_source": "math",
        "reward_model": {"ground_truth": "2"},
        "extra_info": {"index": 7},
        "global_steps": 4,
        "index": 7,
        "temperature": 1.3,
        **extra,
    }


TRAJECTORY = {"step": 4, "sample_index": 0, "rollout_n": 0, "validate": False}


def _run(monkeypatch, path, worker, prompt, trajectory=TRAJECTORY):
    store = FakeTransferQueue()
    monkeypatch.setattr(verl_agent_loop_tq, "tq", store)
    monkeypatch.setattr(group_rollout, "tq", store)
    run = worker._run_prompt if path == "group" else ReusedLoopWorkerTQ.__ray_actor_class__._run_prompt.__get__(worker)
    asyncio.run(run(prompt, {"temperature": 1.0, "top_p": 1.0, "top_k": -1}, trajectory=trajectory))
    return store


def _comparable(value):
    if torch.is_tensor(value):
        return (str(value.dtype), value.tolist())
    return value


def test_group_path_stores_and_scores_what_verls_per_session_path_does(monkeypatch):
    verl_reward, group_reward = FakeRewardWorker(), FakeRewardWorker()
    verl_store = _run(monkeypatch, "verl", _worker(verl_reward), _prompt())
    group_store = _run(monkeypatch, "group", _worker(group_reward), _prompt())

    assert verl_store.status == group_store.status == [("u7", "train", "running"), ("u7", "train", "finished")]
    assert (verl_store.batch_puts, group_store.batch_puts) == (N, 1)
    assert (verl_reward.calls, group_reward.calls) == (
        {"compute_score": N, "compute_score_batch": 0},
        {"compute_score": 0, "compute_score_batch": 1},
    )
    # The reward function read the same response, ground truth and extra info for every row.
    key = lambda seen: seen[3]["row"]  # noqa: E731
    assert sorted(verl_reward.seen, key=key) == sorted(group_reward.seen, key=key)
    assert len(group_reward.seen) == N and len({s[1] for s in group_reward.seen}) == N

    assert sorted(verl_store.rows) == sorted(group_store.rows) == [f"u7_{i}_0" for i in range(N)]
    for row_key in verl_store.rows:
        (verl_tag, verl_field), (group_tag, group_field) = verl_store.rows[row_key], group_store.rows[row_key]
        assert verl_tag == group_tag
        assert sorted(verl_field) == sorted(group_field), row_key
        for name in verl_field:
            a, b = verl_field[name], group_field[name]
            if name == "metrics":  # one reward call for the group: its time, not each row's own
                a, b = ({k: v for k, v in m.items() if k != "compute_score"} for m in (a, b))
            assert _comparable(a) == _comparable(b), (row_key, name)
    # The prompt's own (ERPO) temperature reached every session's sampling parameters.
    assert {f["extra_fields"]["temperature"] for _, f in group_store.rows.values()} == {1.3}


def test_a_failed_session_stores_nothing_and_reports_failure(monkeypatch):
    store = _run(monkeypatch, "group", _worker(), _prompt(fail_session=2))
    assert store.rows == {} and store.status == [("u7", "train", "running"), ("u7", "train", "failure")]


def test_validation_groups_use_val_n_and_the_val_partition(monkeypatch):
    store = _run(monkeypatch, "group", _worker(), _prompt(), trajectory={**TRAJECTORY, "validate": True})
    assert sorted(store.rows) == ["u7_0_0", "u7_1_0"]
    assert store.status[-1] == ("u7", "val", "finished")


@pytest.mark.parametrize(
    "change",
    [
        {"processor": object()},
        {"distillation_enabled": True},
        {"reward_loop_worker_handles": None},
        {"_erpo_loops": {"single_turn_agent": None}},  # a loop kind with per-request state
    ],
)
def test_anything_the_group_path_does_not_cover_runs_verls_path(change, monkeypatch):
    worker = _worker()
    for name, value in change.items():
        setattr(worker, name, value)
    assert worker._group_loop(_prompt()) is None
    called = []

    async def verls_run_prompt(self, prompt, sampling_params, trajectory, trace=False):
        called.append(prompt["uid"])

    monkeypatch.setattr(ReusedLoopWorkerTQ.__ray_actor_class__, "_run_prompt", verls_run_prompt)
    _run(monkeypatch, "group", worker, _prompt())
    assert called == ["u7"]


def test_the_manager_builds_group_workers():
    from hydra import compose, initialize_config_dir

    from recipe.conf import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        config = compose("train", overrides=["platform=cpu"])
    assert GroupRolloutManagerTQ(config=config, llm_client=None).agent_loop_workers_class is GroupRolloutWorkerTQ
