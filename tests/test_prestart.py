"""platform.prestart_rollout_workers and platform.prestart_rollout_server (recipe/platform/prestart*.py): actors whose
process starts before their constructor's arguments exist, what takes them over, and the refusals."""

from __future__ import annotations

import types

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from recipe.conf import CONF_DIR
from recipe.platform import prestart, prestart_server


class _Worker:
    def __init__(self, config, client, teacher=None, rewards=None):
        self.args = (config, client, teacher, rewards)


class _DeferredWorker(prestart.DeferredConstruction, _Worker):
    pass


def test_a_deferred_worker_runs_its_warm_ups_first_and_its_own_init_on_construct():
    calls = []
    worker = _DeferredWorker(lambda: calls.append("server module"), lambda: calls.append("client module"))
    assert calls == ["server module", "client module"]
    assert not hasattr(worker, "args")  # nothing of the class's own construction yet
    worker.construct("config", "client", rewards=["r"])
    assert worker.args == ("config", "client", None, ["r"])


def test_deferred_keeps_the_class_and_is_made_once_per_class():
    import ray

    from recipe.platform.group_rollout import GroupRolloutWorkerTQ

    actor_class = prestart.deferred(GroupRolloutWorkerTQ)
    assert actor_class is prestart.deferred(GroupRolloutWorkerTQ)
    assert isinstance(actor_class, ray.actor.ActorClass)
    cls = actor_class.__ray_actor_class__
    assert cls.__mro__[1:3] == (prestart.DeferredConstruction, GroupRolloutWorkerTQ.__ray_actor_class__)
    assert callable(cls.construct) and cls.__name__ == "PrestartedGroupRolloutWorkerTQ"


def test_only_this_recipes_managers_take_prestarted_workers():
    from recipe.platform.agent_loop_reuse import ReusedLoopManagerTQ, ReusedLoopWorkerTQ
    from recipe.platform.group_rollout import GroupRolloutManagerTQ, GroupRolloutWorkerTQ

    assert prestart.manager_class("recipe.platform.group_rollout.GroupRolloutManagerTQ") is GroupRolloutManagerTQ
    assert GroupRolloutManagerTQ.workers_class is GroupRolloutWorkerTQ
    assert ReusedLoopManagerTQ.workers_class is ReusedLoopWorkerTQ
    with pytest.raises(ValueError, match="verl's own manager \\(null\\) starts its own"):
        prestart.manager_class(None)
    with pytest.raises(ValueError, match="is not a subclass of recipe.platform.agent_loop_reuse.ReusedLoopManagerTQ"):
        prestart.manager_class("verl.trainer.ppo.v1.agent_loop_tq.AgentLoopManagerTQ")
    with pytest.raises(ValueError, match="agent_loop_manager_class='no.such.Manager' cannot be imported"):
        prestart.manager_class("no.such.Manager")


def test_started_workers_are_taken_once_by_their_managers_class():
    class Manager:
        pass

    prestart._STARTED[Manager] = ["w0"]
    assert prestart.take(Manager) == ["w0"]
    assert prestart.take(Manager) is None


def test_the_client_module_is_the_configured_clients_or_verls():
    cpu = OmegaConf.create({"platform": {"llm_client_class": "recipe.platform.single_server.SingleServerClient"}})
    assert prestart.llm_client_module(cpu) == "recipe.platform.single_server"
    assert prestart.llm_client_module(OmegaConf.create({"platform": {}})) == "verl.workers.rollout.llm_server"


class _FakeActorClass:
    """A Ray actor class's ``options(**o).remote(*a, **k)``, recorded."""

    def __init__(self):
        self.created = []

    def options(self, **options):
        return types.SimpleNamespace(remote=lambda *a, **k: self.created.append((options, a, k)) or "new actor")


class _FakeReplica:
    def __init__(self, replica_rank, config, model_config, gpus_per_node):
        self.replica_rank, self.name_suffix, self.nnodes, self.max_concurrency = replica_rank, "", 1, 1016
        self.server_class = _FakeActorClass()

    def _get_server_name_prefix(self):
        return "fake_"


def _prestart_holding(options):
    held = prestart_server.ServerPrestart(OmegaConf.create({}), loader=None)
    held.options, held.actor = dict(options), "prestarted actor"
    return held


def test_the_prestarted_server_goes_to_the_request_with_its_options_and_no_other(monkeypatch):
    options = {"name": "vllm_server_0_0", "max_concurrency": 1016, "runtime_env": {"env_vars": {"A": "1"}}}
    held = _prestart_holding(options)
    # Another server (a reward model's) is none of its business.
    assert held.claim({**options, "name": "vllm_server_reward_0_0"}) is None and held.actor is not None
    assert held.claim(dict(options)) == "prestarted actor"
    assert held.claim(dict(options)) is None  # handed over once

    killed = []
    monkeypatch.setattr(prestart_server.ray, "kill", lambda actor, no_restart: killed.append(actor))
    monkeypatch.setattr(prestart_server, "_wait_for_name_release", lambda name: killed.append(name))
    held = _prestart_holding(options)
    assert held.claim({**options, "max_concurrency": 2000}) is None  # same name, other options: replaced
    assert killed == ["prestarted actor", "vllm_server_0_0"] and held.actor is None


def test_node_affinity_compares_by_node_and_softness():
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Affinity

    n1, n2 = "ab" * 28, "cd" * 28  # node ids are 28-byte hex strings
    assert prestart_server._same(Affinity(n1, soft=False), Affinity(n1, soft=False))
    assert not prestart_server._same(Affinity(n1, soft=False), Affinity(n2, soft=False))
    assert not prestart_server._same(Affinity(n1, soft=False), Affinity(n1, soft=True))


def test_the_replica_subclass_asks_its_server_class_through_the_prestart(monkeypatch):
    cls = prestart_server.prestarted_replica_class(_FakeReplica)
    assert cls is prestart_server.prestarted_replica_class(_FakeReplica) and issubclass(cls, _FakeReplica)
    replica = cls(replica_rank=0, config=None, model_config=None, gpus_per_node=1)
    underlying = replica.server_class._actor_class
    monkeypatch.setattr(prestart_server, "_CURRENT", None)
    assert replica.server_class.options(name="x").remote(config="c") == "new actor"
    assert underlying.created == [({"name": "x"}, (), {"config": "c"})]

    constructed = []
    prestarted = types.SimpleNamespace(construct=types.SimpleNamespace(remote=lambda **k: constructed.append(k)))
    monkeypatch.setattr(prestart_server, "_CURRENT", _prestart_holding({"name": "x"}))
    prestart_server._CURRENT.actor = prestarted
    monkeypatch.setattr(prestart_server.ray, "get", lambda ref: ref)
    assert replica.server_class.options(name="x").remote(config="c") is prestarted
    assert constructed == [{"config": "c"}] and len(underlying.created) == 1


def test_start_registers_the_override_before_its_thread_and_hands_verls_class_on_failure(monkeypatch):
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    monkeypatch.setitem(RolloutReplicaRegistry._registry, "erpo_test_rollout", lambda: _FakeReplica)
    monkeypatch.setattr(prestart_server, "_CURRENT", None)
    started = []
    monkeypatch.setattr(prestart_server, "server_options", lambda replica: {"name": "fake_server_0_0"})
    monkeypatch.setattr(
        prestart_server,
        "deferred",
        lambda actor_class: types.SimpleNamespace(
            options=lambda **o: types.SimpleNamespace(remote=lambda: started.append(o) or "actor")
        ),
    )
    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"name": "erpo_test_rollout", "n_gpus_per_node": 1}}})
    held = prestart_server.start(config)
    cls = RolloutReplicaRegistry.get("erpo_test_rollout")  # joins the thread
    assert issubclass(cls, _FakeReplica) and cls is not _FakeReplica
    assert held.actor == "actor" and started == [{"name": "fake_server_0_0"}]

    # A failure in the thread: verl's own class, and verl starts the server.
    monkeypatch.setattr(prestart_server, "server_options", lambda replica: 1 / 0)
    monkeypatch.setitem(RolloutReplicaRegistry._registry, "erpo_test_rollout", lambda: _FakeReplica)
    prestart_server.start(config)
    assert RolloutReplicaRegistry.get("erpo_test_rollout") is _FakeReplica


@pytest.mark.parametrize(
    "override,message",
    [
        ("actor_rollout_ref.rollout.disaggregation.enabled=true", "prefill/decode servers are not prestarted"),
        ("trainer.nnodes=2", "needs trainer.nnodes=1"),
    ],
)
def test_a_server_prestart_that_cannot_work_is_refused(override, message):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        bad = compose("train", overrides=["platform=cpu", override])
    with pytest.raises(ValueError, match=message):
        prestart_server.check(bad)


def test_cpu_prestarts_and_gpu_keeps_verls_order():
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cpu = compose("train", overrides=["platform=cpu"])
        gpu = compose("train", overrides=["platform=gpu"])
    assert cpu.platform.prestart_rollout_workers is True and cpu.platform.prestart_rollout_server is True
    assert not gpu.platform.get("prestart_rollout_workers") and not gpu.platform.get("prestart_rollout_server")
    for config in (cpu, gpu):
        prestart.check(config)
        prestart_server.check(config)


@pytest.mark.slow
def test_a_prestarted_actor_is_constructed_later_and_then_serves_calls():
    """A real Ray actor: its process starts with the warm-ups only; ``construct`` gives it its arguments."""
    import ray

    @ray.remote
    class Echo:
        def __init__(self, word):
            self.word = word

        def say(self):
            return self.word

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    try:
        actor = prestart.deferred(Echo).remote(int)
        ray.get(actor.construct.remote("hello"))
        assert ray.get(actor.say.remote()) == "hello"
    finally:
        if started:
            ray.shutdown()
