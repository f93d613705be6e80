"""The CPU platform's step-cost cuts: where each lives, that GPU runs keep verl's defaults, and that they change
what is computed nowhere (the agent loop is reused only where it keeps no per-request state; the reference model
exists only where a KL term reads it)."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from recipe.conf import CONF_DIR

CONF = CONF_DIR
MANAGER = "recipe.platform.agent_loop_reuse.ReusedLoopManagerTQ"


def _compose(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("train", overrides=list(overrides))


def test_cpu_platform_carries_each_cut_and_gpu_keeps_verls_defaults():
    cpu, gpu = _compose("platform=cpu"), _compose("platform=gpu")
    cuts = {
        "actor_rollout_ref.rollout.agent.agent_loop_manager_class": (MANAGER, None),
        "actor_rollout_ref.model.enable_gradient_checkpointing": (False, True),
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile": (False, True),
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile": (False, True),
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

    assert manager is ReusedLoopManagerTQ
    assert callable(manager.create)
    # verl's manager picks its worker class in __init__ (no Ray needed to build one without workers).
    built = manager(config=_compose("platform=cpu"), llm_client=None)
    assert built.agent_loop_workers_class is ReusedLoopWorkerTQ


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


def test_transfer_queue_threads_are_the_physical_cores():
    import psutil

    from recipe.platform.cpu import cpu_environment

    assert cpu_environment()["TQ_NUM_THREADS"] == str(psutil.cpu_count(logical=False) or 1)


@pytest.mark.parametrize("cut", sorted(__import__("benchmarks.step_cost", fromlist=["CUTS"]).CUTS))
def test_each_benchmark_cut_reverts_a_setting_the_study_run_has(cut):
    """benchmarks/step_cost.py's `before` arm must really undo each cut: its overrides compose and change the
    value the study's GRPO run would have (a cut whose revert changed nothing would time the same thing twice)."""
    from benchmarks.step_cost import CUTS, MICRO_BATCH_KEYS

    base = ["experiment=cpu_study/grpo", *[f"{key}=288" for key in MICRO_BATCH_KEYS]]
    after, before = _compose(*base), _compose(*base, *CUTS[cut])
    for override in CUTS[cut]:
        key = override.split("=", 1)[0]
        assert OmegaConf.select(after, key) != OmegaConf.select(before, key), override


def test_step_cost_refuses_a_busy_machine_and_missing_assets(tmp_path, monkeypatch):
    from benchmarks import step_cost

    with pytest.raises(SystemExit, match="no built model"):
        step_cost.main(["--assets", str(tmp_path)])
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    monkeypatch.setattr(step_cost, "load_per_core", lambda: 3.0)
    with pytest.raises(SystemExit, match="busy"):
        step_cost.main(["--assets", str(tmp_path)])
    with pytest.raises(SystemExit, match="--steps must be >= 2"):
        step_cost.main(["--assets", str(tmp_path), "--steps", "1"])


@pytest.mark.parametrize("trial", sorted(__import__("benchmarks.step_cost", fromlist=["TRIALS"]).TRIALS))
def test_each_benchmark_trial_changes_a_setting_of_the_committed_platform(trial):
    """A `try-<trial>` arm must time something else than `after`: its overrides compose and change a value."""
    from benchmarks.step_cost import MICRO_BATCH_KEYS, TRIALS

    base = ["experiment=cpu_study/grpo", *[f"{key}=288" for key in MICRO_BATCH_KEYS]]
    after, tried = _compose(*base), _compose(*base, *TRIALS[trial])
    for override in TRIALS[trial]:
        key = override.split("=", 1)[0]
        assert OmegaConf.select(after, key) != OmegaConf.select(tried, key), override


def test_step_cost_refuses_an_unknown_arm_before_it_runs_anything(tmp_path, monkeypatch):
    from benchmarks import step_cost

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    monkeypatch.setattr(step_cost, "load_per_core", lambda: 0.0)
    monkeypatch.setattr(step_cost, "run_once", lambda *a, **k: pytest.fail("ran an arm before checking the list"))
    with pytest.raises(SystemExit, match="arm 'after-nothing' unknown"):
        step_cost.main(["--assets", str(tmp_path), "--arms", "after,after-nothing"])
