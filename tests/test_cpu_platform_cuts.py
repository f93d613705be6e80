"""The CPU platform's step-cost cuts: where each lives, that GPU runs keep verl's defaults, and that they change
what is computed nowhere (the agent loop is reused only where it keeps no per-request state; the reference model
exists only where a KL term reads it)."""

import os

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from recipe.conf import CONF_DIR

CONF = CONF_DIR
MANAGER = "recipe.platform.group_rollout.GroupRolloutManagerTQ"


def _compose(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("train", overrides=list(overrides))


def _assert_each_override_changes(base: list[str], overrides: list[str]) -> None:
    """Each override composes on ``base`` and changes the value it names (else an arm would time the same thing)."""
    unchanged, changed = _compose(*base), _compose(*base, *overrides)
    for override in overrides:
        key = override.split("=", 1)[0]
        assert OmegaConf.select(unchanged, key) != OmegaConf.select(changed, key), override


def test_cpu_platform_carries_each_cut_and_gpu_keeps_verls_defaults():
    cpu, gpu = _compose("platform=cpu"), _compose("platform=gpu")
    cuts = {
        "actor_rollout_ref.rollout.agent.agent_loop_manager_class": (MANAGER, None),
        "actor_rollout_ref.model.enable_gradient_checkpointing": (False, True),
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile": (False, True),
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile": (False, True),
        "platform.llm_client_class": ("recipe.platform.single_server.SingleServerClient", None),
        "platform.task_runner_in_driver": (True, None),
        "platform.vllm_fork_engine": (True, None),
        "platform.vllm_eager_sampler": (True, None),
        "platform.gc_freeze": (True, None),
        "actor_rollout_ref.model.override_config.attn_implementation": ("eager", None),
    }
    for key, (on_cpu, on_gpu) in cuts.items():
        assert (OmegaConf.select(cpu, key), OmegaConf.select(gpu, key)) == (on_cpu, on_gpu), key
    assert cpu.actor_rollout_ref.rollout.engine_kwargs.vllm.kv_cache_memory_bytes == 256 << 20
    assert "kv_cache_memory_bytes" not in (gpu.actor_rollout_ref.rollout.engine_kwargs.vllm or {})


def test_the_manager_class_is_a_field_verl_knows_and_loads():
    from verl.utils.config import omega_conf_to_dataclass
    from verl.utils.import_utils import load_class_from_fqn
    from verl.workers.config.rollout import AgentLoopConfig

    agent = omega_conf_to_dataclass(_compose("platform=cpu").actor_rollout_ref.rollout.agent, AgentLoopConfig)
    manager = load_class_from_fqn(agent.agent_loop_manager_class, "AgentLoopManager")
    from recipe.platform.agent_loop_reuse import ReusedLoopManagerTQ, ReusedLoopWorkerTQ
    from recipe.platform.group_rollout import GroupRolloutManagerTQ, GroupRolloutWorkerTQ

    assert manager is GroupRolloutManagerTQ
    assert callable(manager.create)
    # verl's manager picks its worker class in __init__ (no Ray needed to build one without workers).
    built = manager(config=_compose("platform=cpu"), llm_client=None)
    assert built.agent_loop_workers_class is GroupRolloutWorkerTQ
    # The group workers are the reusing workers plus the group path (cut group_rollout keeps the reuse only).
    assert issubclass(GroupRolloutWorkerTQ.__ray_actor_class__, ReusedLoopWorkerTQ.__ray_actor_class__)
    assert ReusedLoopManagerTQ(config=_compose("platform=cpu"), llm_client=None).agent_loop_workers_class is (
        ReusedLoopWorkerTQ
    )


def test_only_single_turn_loops_are_reused():
    from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
    from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop

    from recipe.erpo.agent_loop import ERPOSingleTurnAgentLoop
    from recipe.platform.agent_loop_reuse import reusable

    assert reusable(ERPOSingleTurnAgentLoop) and reusable(SingleTurnAgentLoop)
    assert not reusable(ToolAgentLoop)
    assert not reusable(object) and not reusable(None)


def test_single_turn_run_keeps_no_state_on_the_loop_object():
    """The reuse rests on this: SingleTurnAgentLoop.run assigns nothing to ``self`` (read from its source, so a
    verl upgrade that adds per-request state fails here instead of mixing rollouts)."""
    import ast
    import inspect
    import textwrap

    from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

    from recipe.erpo.agent_loop import ERPOSingleTurnAgentLoop

    for cls in (SingleTurnAgentLoop, ERPOSingleTurnAgentLoop):
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.run)))
        for node in ast.walk(tree):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            )
            for target in targets:
                for sub in ast.walk(target):
                    assert not (
                        isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self"
                    ), f"{cls.__name__}.run assigns to self"


@pytest.mark.parametrize(
    "algorithm,uses_kl",
    [
        ("grpo", True),
        ("erpo", True),
        ("dapo", False),
        ("erpo_dapo", False),
        ("prepo", False),
        ("erpo_prepo", False),
        ("greso", False),
        ("erpo_greso", False),
    ],
)
def test_reference_model_only_where_a_kl_term_reads_it(algorithm, uses_kl):
    """verl builds and runs the reference policy only when a KL term uses it (docs/cpu.md lists the presets)."""
    from verl.trainer.ppo.utils import need_reference_policy

    config = _compose(f"algorithm={algorithm}", "platform=cpu")
    assert need_reference_policy(config) is uses_kl


def test_vllm_worker_process_travels_as_vllms_own_variable():
    from recipe.platform.cpu import cpu_environment

    platform = _compose("platform=cpu").platform
    assert platform.vllm_worker_process is False
    assert cpu_environment(platform)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert cpu_environment({"vllm_worker_process": True})["VLLM_ENABLE_V1_MULTIPROCESSING"] == "1"
    with pytest.raises(ValueError, match="platform.vllm_worker_process"):
        cpu_environment({"vllm_worker_process": "no"})


def test_torch_threads_travel_as_omp_num_threads_which_ray_then_leaves_alone():
    from recipe.platform.cpu import cpu_environment

    platform = _compose("platform=cpu").platform
    assert cpu_environment(platform)["OMP_NUM_THREADS"] == "2"
    assert "OMP_NUM_THREADS" not in cpu_environment({"torch_threads": None})  # Ray's one per actor
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="platform.torch_threads"):
            cpu_environment({"torch_threads": bad})


@pytest.mark.parametrize(
    "field,variable",
    [
        ("vllm_fork_engine", "ERPO_VLLM_FORK_ENGINE"),
        ("vllm_eager_sampler", "ERPO_VLLM_EAGER_SAMPLER"),
        ("gc_freeze", "ERPO_GC_FREEZE"),
    ],
)
def test_platform_flags_travel_to_every_process(field, variable):
    from recipe.platform.cpu import cpu_environment

    assert _compose("platform=cpu").platform[field] is True
    assert cpu_environment(_compose("platform=cpu").platform)[variable] == "1"
    assert cpu_environment({field: None})[variable] == "0"  # vLLM's own behaviour
    for bad in ("yes", 1, 0):
        with pytest.raises(ValueError, match=f"platform.{field}"):
            cpu_environment({field: bad})


def test_fork_engine_core_makes_vllms_spawn_check_choose_fork(monkeypatch):
    """vLLM calls _maybe_force_spawn before every process it starts; in a Ray actor it sets spawn. The
    replacement sets fork, also over a spawn an earlier call left in the environment."""
    import types

    from recipe.platform.cpu import fork_engine_core

    monkeypatch.setenv("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    spawn = lambda: os.environ.update(VLLM_WORKER_MULTIPROC_METHOD="spawn")  # noqa: E731  (vLLM's, in a Ray actor)
    system_utils = types.SimpleNamespace(_maybe_force_spawn=spawn)
    fork_engine_core(system_utils)
    system_utils._maybe_force_spawn()
    assert os.environ["VLLM_WORKER_MULTIPROC_METHOD"] == "fork"


def test_eager_replaces_a_compiled_function_by_the_function_it_wraps():
    import types

    import torch

    from recipe.platform.cpu import eager

    def draw(logits):
        return logits.argmax(dim=-1)

    module = types.SimpleNamespace(draw=torch.compile(draw, dynamic=True), plain=draw)
    eager(module, "draw")
    eager(module, "plain")  # a function that is not compiled stays as it is
    assert module.draw is draw and module.plain is draw


def test_transfer_queue_threads_are_the_physical_cores():
    import psutil

    from recipe.platform.cpu import cpu_environment

    assert cpu_environment()["TQ_NUM_THREADS"] == str(psutil.cpu_count(logical=False) or 1)


@pytest.mark.parametrize("cut", sorted(__import__("benchmarks.step_cost", fromlist=["CUTS"]).CUTS))
def test_each_benchmark_cut_reverts_a_setting_the_study_run_has(cut):
    """benchmarks/step_cost.py's `before` arm must really undo each cut: its overrides compose and change the
    value the study's GRPO run would have (a cut whose revert changed nothing would time the same thing twice)."""
    from benchmarks.step_cost import CUTS, MICRO_BATCH_KEYS

    _assert_each_override_changes(["experiment=cpu_study/grpo", *[f"{key}=288" for key in MICRO_BATCH_KEYS]], CUTS[cut])


def test_step_cost_refuses_a_busy_machine_and_missing_assets(tmp_path, monkeypatch):
    from benchmarks import common, step_cost

    with pytest.raises(SystemExit, match="no built model"):
        step_cost.main(["--assets", str(tmp_path)])
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    monkeypatch.setattr(common, "load_per_core", lambda: 3.0)
    with pytest.raises(SystemExit, match="busy"):
        step_cost.main(["--assets", str(tmp_path)])
    with pytest.raises(SystemExit, match="--steps must be >= 2"):
        step_cost.main(["--assets", str(tmp_path), "--steps", "1"])


@pytest.mark.parametrize("trial", sorted(__import__("benchmarks.step_cost", fromlist=["TRIALS"]).TRIALS))
def test_each_benchmark_trial_changes_a_setting_of_the_committed_platform(trial):
    """A `try-<trial>` arm must time something else than `after`: its overrides compose and change a value."""
    from benchmarks.step_cost import MICRO_BATCH_KEYS, TRIALS

    _assert_each_override_changes(
        ["experiment=cpu_study/grpo", *[f"{key}=288" for key in MICRO_BATCH_KEYS]], TRIALS[trial]
    )


def test_step_cost_refuses_an_unknown_arm_before_it_runs_anything(tmp_path, monkeypatch):
    from benchmarks import common, step_cost

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    monkeypatch.setattr(common, "load_per_core", lambda: 0.0)
    monkeypatch.setattr(step_cost, "run_once", lambda *a, **k: pytest.fail("ran an arm before checking the list"))
    with pytest.raises(SystemExit, match="arm 'after-nothing' unknown"):
        step_cost.main(["--assets", str(tmp_path), "--arms", "after,after-nothing"])


class _Call:
    """A stand-in for a Ray actor method: ``.remote(...)`` records the call and returns an awaitable result."""

    def __init__(self, log, name, result):
        self.log, self.name, self.result = log, name, result

    def remote(self, *args, **kwargs):
        # Runs at once, as an actor would run a fire-and-forget call; awaiting gives the result.
        self.log.append(self.name)
        return _Done(self.result(**kwargs) if callable(self.result) else self.result)


class _Done:
    def __init__(self, value):
        self.value = value

    def __await__(self):
        return self.value
        yield  # a generator: awaitable without suspending


class _Balancer:
    """verl's load balancer's interface over fixed servers, counting in-flight requests as it does."""

    def __init__(self, servers):
        self.log, self.inflight = [], dict.fromkeys(servers, 0)
        self.get_all_servers = _Call(self.log, "get_all_servers", list(servers))
        self.require_acquire_fields = _Call(self.log, "require_acquire_fields", [])
        self.require_release_fields = _Call(self.log, "require_release_fields", [])
        self.acquire_server = _Call(self.log, "acquire", self._acquire)
        self.release_server = _Call(self.log, "release", self._release)

    def _acquire(self, request_id):
        server_id = min(self.inflight, key=self.inflight.get)
        self.inflight[server_id] += 1
        return server_id, f"handle-{server_id}"

    def _release(self, server_id):
        self.inflight[server_id] -= 1


def _requests(client, count):
    import asyncio

    async def all_of_them():  # every request in flight at once, then all released
        acquired = await asyncio.gather(*(client._acquire_server(f"r{i}") for i in range(count)))
        for i, (server_id, _) in enumerate(acquired):
            client._release_server(server_id, request_id=f"r{i}")
        return [handle for _, handle in acquired]

    return asyncio.run(all_of_them())


def test_single_server_client_asks_the_balancer_once_for_its_one_server():
    from recipe.platform.single_server import SingleServerClient

    balancer = _Balancer(["s0"])
    client = SingleServerClient(config=None, load_balancer_handle=balancer)
    assert _requests(client, 50) == ["handle-s0"] * 50
    assert balancer.log.count("acquire") == 1 and balancer.log.count("release") == 1, balancer.log
    assert balancer.log.count("get_all_servers") == 1
    assert balancer.inflight == {"s0": 0}  # the one acquire was released: the balancer's books stay right


def test_single_server_client_routes_through_the_balancer_when_it_holds_several():
    from recipe.platform.single_server import SingleServerClient

    balancer = _Balancer(["s0", "s1"])
    client = SingleServerClient(config=None, load_balancer_handle=balancer)
    handles = _requests(client, 20)
    assert set(handles) == {"handle-s0", "handle-s1"}  # least-loaded routing still spreads the requests
    assert balancer.log.count("acquire") == 20 and balancer.log.count("release") == 20
    assert balancer.inflight == {"s0": 0, "s1": 0}


def test_single_server_client_given_the_pool_never_asks_the_balancer():
    """The trainer hands the client its server manager's pool: with one server no request waits on the balancer
    actor (which may still be starting); with several, verl's balancing routes every request."""
    from recipe.platform.single_server import SingleServerClient

    balancer = _Balancer(["s0"])
    client = SingleServerClient(config=None, load_balancer_handle=balancer, servers={"s0": "handle-s0"})
    assert _requests(client, 20) == ["handle-s0"] * 20
    assert balancer.log == []
    balancer = _Balancer(["s0", "s1"])
    client = SingleServerClient(
        config=None, load_balancer_handle=balancer, servers={"s0": "handle-s0", "s1": "handle-s1"}
    )
    assert set(_requests(client, 20)) == {"handle-s0", "handle-s1"}
    assert balancer.log.count("acquire") == 20 and "get_all_servers" not in balancer.log


def test_llm_client_class_refuses_what_is_not_verls_client():
    from recipe.platform.single_server import SingleServerClient, llm_client_class

    assert llm_client_class("recipe.platform.single_server.SingleServerClient") is SingleServerClient
    with pytest.raises(ValueError, match="platform.llm_client_class='collections.OrderedDict' is not a subclass"):
        llm_client_class("collections.OrderedDict")
    with pytest.raises(ValueError, match="platform.llm_client_class='no.such.Client' cannot be imported"):
        llm_client_class("no.such.Client")


def test_smoke_time_reverts_every_cut_but_the_micro_batches_and_refuses_a_busy_machine(monkeypatch):
    from benchmarks import common, smoke_time
    from benchmarks.step_cost import CUTS

    before = smoke_time.arm_overrides("before", keep=smoke_time.KEEP)
    reverted = {o.split("=", 1)[0] for o in before}
    expected = {o.split("=", 1)[0] for cut, os_ in CUTS.items() if cut != "whole_step_micro_batches" for o in os_}
    assert reverted == expected and not any("micro_batch" in key for key in reverted)
    assert len(reverted) == len(before)  # one override per setting
    # Two cuts revert the agent-loop manager; together they give verl's own, not the reusing one.
    assert "actor_rollout_ref.rollout.agent.agent_loop_manager_class=null" in before
    _assert_each_override_changes(["experiment=smoke"], before)
    assert smoke_time.arm_overrides("after", keep=smoke_time.KEEP) == []
    assert smoke_time.arm_overrides("after-gc_freeze", keep=smoke_time.KEEP) == ["platform.gc_freeze=false"]
    with pytest.raises(SystemExit, match="arm 'after-nothing' unknown"):
        smoke_time.main(["--arms", "after,after-nothing"])
    with pytest.raises(SystemExit, match="name each arm once"):
        smoke_time.main(["--arms", "after,after"])
    monkeypatch.setattr(common, "load_per_core", lambda: 3.0)
    monkeypatch.setattr(smoke_time, "run_once", lambda *a: pytest.fail("timed a busy machine"))
    with pytest.raises(SystemExit, match="busy"):
        smoke_time.main([])


def test_startup_timeline_places_each_processs_cpu_in_the_second_it_was_spent():
    from benchmarks.startup_timeline import lines_of, per_second

    launch = 100.0
    samples = [
        (100.1, {1: ("python -m", 0.0)}),
        (100.6, {1: ("python -m", 0.4), 2: ("ray::IDLE", 3.0)}),  # pid 2 first seen: its 3 s cannot be placed
        (101.2, {1: ("python -m", 0.5), 2: ("ray::WorkerDict", 3.5)}),
    ]
    seconds = per_second(samples, launch)
    assert seconds == {
        0: {"1:python -m": pytest.approx(0.4)},
        1: {"1:python -m": pytest.approx(0.1), "2:ray::WorkerDict": 0.5},
    }
    lines = lines_of(seconds, {1: 1.2})
    assert (
        lines[1].startswith("   1 0.60 | 2:ray::WorkerDict 0.50 | 1:python -m 0.10")
        and lines[-1] == "end of step 1: 1.2 s"
    )


def test_step_cost_before_arm_reverts_every_cut_once(tmp_path):
    from benchmarks.step_cost import CUTS, reverts, study_run

    name, overrides = study_run("before", 9, 3, 1, str(tmp_path), tmp_path)
    assert name == "stepcost-before-p9"
    for override in reverts(list(CUTS)):
        assert override in overrides
    keys = [o.split("=", 1)[0] for o in overrides]
    assert len(keys) == len(set(keys))
