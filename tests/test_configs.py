"""Every config group composes, validates against verl's dataclasses, and bad input is refused before Ray."""

import os
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict, read_write

from erpo.erpo.config import ERPOConfig
from erpo.errors import ConfigError
from recipe.conf import CONF_DIR
from recipe.erpo.refusals import ConfigRefused, check_recipe_fields, check_rl_parquet
from recipe.greso.refusals import check_greso_fields
from recipe.prepo.refusals import check_prepo_fields

CONF = CONF_DIR


# Values an experiment requires on the command line (??? in its file), as its launcher passes them:
# cpu_study/grpo_hot's temperature comes from the ERPO arm it follows (benchmarks.cpu_study run).
REQUIRED = {"experiment=cpu_study/grpo_hot": ["study_hot_temperature=1.1"]}


def _compose(*overrides):
    required = [x for o in overrides for x in REQUIRED.get(o, [])]
    with initialize_config_dir(config_dir=CONF, version_base=None):
        return compose("train", overrides=[*overrides, *required])


def _options(group):
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize("algorithm", _options("algorithm"))
@pytest.mark.parametrize("schedule", _options("temperature_schedule"))
def test_algorithm_x_schedule_compose_and_validate(algorithm, schedule):
    from verl.trainer.config import AlgoConfig
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import ActorConfig  # noqa: F401  (schema import must work)

    cfg = _compose(f"algorithm={algorithm}", f"temperature_schedule={schedule}")
    assert cfg.variant == algorithm
    erpo = ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True))
    assert erpo.temperature.schedule == schedule
    omega_conf_to_dataclass(cfg.algorithm, dataclass_type=AlgoConfig)
    check_recipe_fields(cfg, erpo)
    check_prepo_fields(cfg)


@pytest.mark.parametrize("group", ["model", "data", "logger", "platform", "experiment"])
def test_every_option_composes(group):
    for option in _options(group):
        cfg = _compose(f"{group}={option}")
        OmegaConf.to_container(cfg, resolve=True)


def test_paper_settings_of_dapo():
    cfg = _compose("algorithm=erpo_dapo")
    actor = cfg.actor_rollout_ref.actor
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.loss_agg_mode) == (0.2, 0.28, "token-mean")
    assert cfg.algorithm.filter_groups.enable and cfg.algorithm.filter_groups.metric == "acc"
    assert cfg.reward.reward_kwargs.overlong_buffer_cfg.enable and not actor.use_kl_loss
    assert cfg.erpo.enabled and cfg.algorithm.adv_estimator == "erpo_grpo"


def test_unknown_variant_is_refused_by_hydra():
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="algorithm/foo"):
        _compose("algorithm=foo")


@pytest.mark.parametrize(
    "override, field",
    [
        ("actor_rollout_ref.model.use_fused_kernels=true", "use_fused_kernels"),
        ("actor_rollout_ref.rollout.agent.default_agent_loop=single_turn_agent", "default_agent_loop"),
        ("actor_rollout_ref.rollout.temperature=0.7", "erpo.temperature.base"),
        ("erpo.ra.enabled=true algorithm.adv_estimator=grpo", "erpo.ra.enabled"),
    ],
)
def test_bad_recipe_fields_are_refused(override, field):
    cfg = _compose(*override.split())
    with pytest.raises(ConfigRefused, match=field.replace(".", r"\.")):
        check_recipe_fields(cfg, ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True)))


def _rows(indices):
    return pd.DataFrame(
        [
            {
                "data_source": "s",
                "prompt": [{"role": "user", "content": "q"}],
                "extra_info": {"index": i, "split": "train"},
            }
            for i in indices
        ]
    )


def test_rows_without_a_dataset_index_are_refused(tmp_path):
    good = tmp_path / "good.parquet"
    _rows([0, 1, 2]).to_parquet(good)
    check_rl_parquet(str(good), "data.train_files")
    for name, rows, match in [
        ("none", [0, None], "row 1 has extra_info.index=None"),
        ("dup", [0, 0], "rows 0 and 1 share"),
        ("neg", [-3], "row 0 has extra_info.index=-3"),
    ]:
        path = tmp_path / f"{name}.parquet"
        _rows(rows).to_parquet(path)
        with pytest.raises(ConfigRefused, match=match):
            check_rl_parquet(str(path), "data.train_files")
    with pytest.raises(ConfigRefused, match="does not exist"):
        check_rl_parquet(str(tmp_path / "missing.parquet"), "data.train_files")


def test_cli_refuses_bad_config_before_ray(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "recipe.driver.train", "erpo.temperature.t_max=0.5"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "erpo.temperature.t_max=0.5" in out.stderr and "ray" not in out.stdout.lower()


def test_wandb_identity_groups_by_variant_and_resumes_by_name():
    from recipe.driver.startup import wandb_settings

    a = wandb_settings(_compose("algorithm=erpo_dapo", "logger=offline", "seed=1"))
    b = wandb_settings(_compose("algorithm=erpo_dapo", "logger=offline", "seed=1"))
    c = wandb_settings(_compose("algorithm=erpo_dapo", "logger=offline", "seed=2"))
    assert a["WANDB_RUN_GROUP"] == c["WANDB_RUN_GROUP"] == "erpo_dapo" and a["WANDB_MODE"] == "offline"
    assert a["WANDB_RUN_ID"] == b["WANDB_RUN_ID"] != c["WANDB_RUN_ID"]
    assert a["WANDB_TAGS"].split(",") == ["erpo_dapo", "tiny", "toy", "additive"] and a["WANDB_JOB_TYPE"] == "train"


def test_sweep_dirname_keeps_only_the_swept_keys():
    from recipe.driver.sweep_dir import sweep_dirname

    task = ["experiment=smoke", "trainer.save_freq=-1", "erpo.temperature.t_max=1.4", "seed=2", "algorithm=erpo"]
    argv = ["-m", "experiment=smoke", "trainer.save_freq=-1", "erpo.temperature.t_max=0.5,1.4", "seed=1,2"]
    assert sweep_dirname(task, argv, None) == "erpo.temperature.t_max=1.4"
    # keys swept by a sweep config file (hydra.sweeper.params) count too
    params = {"algorithm": "grpo,erpo", "trainer.total_training_steps": "5"}
    assert sweep_dirname(task, argv, params) == "algorithm=erpo,erpo.temperature.t_max=1.4"
    assert sweep_dirname(["seed=1"], ["-m", "seed=1,2"], None) == "default"


def _experiments():
    root = Path(CONF) / "experiment"
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml") if not p.name.startswith("_"))


@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_file_composes_and_validates(experiment):
    cfg = _compose(f"experiment={experiment}")
    OmegaConf.to_container(cfg, resolve=True)
    check_recipe_fields(cfg, ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True)))
    check_prepo_fields(cfg)


@pytest.mark.parametrize("size", ["3b", "7b"])
def test_erpo_paper_rows_differ_only_in_the_method(size):
    dapo = _compose(f"experiment=erpo_paper/dapo_qwen2.5-{size}")
    erpo = _compose(f"experiment=erpo_paper/erpo_qwen2.5-{size}")
    ra = _compose(f"experiment=erpo_paper/ra_qwen2.5-{size}")
    for cfg in (dapo, erpo, ra):
        assert cfg.actor_rollout_ref.model.path == f"Qwen/Qwen2.5-{size.upper()}"
        assert cfg.data.train_files == "data/dapo_math_17k.parquet" and cfg.data.train_batch_size == 512
        assert cfg.actor_rollout_ref.rollout.n == 16 and cfg.actor_rollout_ref.rollout.val_kwargs.n == 4
        assert cfg.algorithm.filter_groups.enable and cfg.actor_rollout_ref.actor.clip_ratio_high == 0.28
        assert cfg.actor_rollout_ref.actor.optim.lr_warmup_steps == 20  # DAPO Sec. 4.1
    assert (dapo.variant, dapo.erpo.enabled) == ("dapo", False)
    # DAPO + RA (Table 2's middle row): RA in the ERPO rows' form, no temperatures
    assert (ra.variant, ra.erpo.enabled, ra.erpo.ra.enabled) == ("dapo_ra", False, True)
    assert ra.erpo.ra == erpo.erpo.ra and ra.algorithm.adv_estimator == "erpo_grpo"
    assert (erpo.variant, erpo.erpo.enabled) == ("erpo_dapo", True)
    # ERPO = temperatures + RA (the reviews cited in the row): RA reaches the loss through the erpo_grpo
    # estimator, and "correct" is acc for RA and DAPO's filter alike.
    assert erpo.erpo.ra.enabled and erpo.algorithm.adv_estimator == "erpo_grpo"
    assert erpo.algorithm.filter_groups.metric == "acc"


@pytest.mark.parametrize("size", ["1.5b", "7b"])
def test_greso_paper_rows_turn_on_gresos_reward_and_thresholds(size):
    ds = _compose(f"experiment=greso_paper/ds_qwen2.5-math-{size}")
    greso = _compose(f"experiment=greso_paper/greso_qwen2.5-math-{size}")
    for cfg in (ds, greso):
        assert cfg.actor_rollout_ref.model.path == f"Qwen/Qwen2.5-Math-{size.upper()}"
        assert cfg.data.train_batch_size == 256 and cfg.actor_rollout_ref.rollout.n == 8
        assert cfg.algorithm.filter_groups.enable and cfg.algorithm.filter_groups.metric == "score"
        assert cfg.reward.custom_reward_function.reward_kwargs.scale == "greso"
        assert "Table 1" in cfg.rollout_budget.source and not cfg.erpo.enabled
    assert (ds.variant, ds.greso.enabled, greso.variant, greso.greso.enabled) == ("ds", False, "greso", True)
    assert (greso.greso.group_rule, greso.greso.easy_mean_at_least, greso.greso.hard_mean_at_most) == (
        "mean_score",
        0.98,
        0.11,
    )
    assert (ds.rollout_budget.rollouts, greso.rollout_budget.rollouts) == {
        "1.5b": (7_600_000, 3_300_000),
        "7b": (13_100_000, 6_300_000),
    }[size]
    check_prepo_fields(greso)
    check_greso_fields(greso)
    with pytest.raises(ConfigError, match="greso.group_rule=mean_score with erpo.enabled=true"):
        check_greso_fields(_compose(f"experiment=greso_paper/greso_qwen2.5-math-{size}", "erpo.enabled=true"))


def test_prepo_mini_batch_scope_needs_one_micro_batch_per_rank_share():
    base = (
        "experiment=prepo_paper/prepo_qwen2.5-math-7b",
        "prepo.weighting.normaliser_scope=mini_batch",
        "trainer.n_gpus_per_node=8",
        "trainer.nnodes=1",
    )
    with pytest.raises(ConfigError, match="ppo_micro_batch_size_per_gpu=64"):  # 64 prompts x 8 / 8 ranks
        check_prepo_fields(_compose(*base, "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8"))
    assert check_prepo_fields(
        _compose(
            *base,
            "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=64",
            "actor_rollout_ref.actor.use_dynamic_bsz=false",
        )
    ).weighting.normaliser_scope == ("mini_batch")
    with pytest.raises(ConfigError, match="use_dynamic_bsz=true"):
        check_prepo_fields(
            _compose(
                *base,
                "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=64",
                "actor_rollout_ref.actor.use_dynamic_bsz=true",
            )
        )


def test_reward_scale_is_an_option_and_a_wrong_one_is_refused():
    for scale in ("zero_one", "dapo", "greso"):
        cfg = _compose(
            "experiment=erpo_paper/dapo_qwen2.5-7b", f"reward.custom_reward_function.reward_kwargs.scale={scale}"
        )
        check_recipe_fields(cfg, ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True)))
    assert _compose("experiment=erpo_paper/dapo_qwen2.5-7b").reward.custom_reward_function.reward_kwargs.scale == (
        "zero_one"
    )
    cfg = _compose("reward.custom_reward_function.reward_kwargs.scale=half")
    with pytest.raises(ConfigRefused, match="reward_kwargs.scale='half'"):
        check_recipe_fields(cfg, ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True)))


def test_paper_settings_of_prepo_and_erpo_on_prepo():
    from verl.utils.config import omega_conf_to_dataclass

    import recipe.prepo.loss  # noqa: F401  (registers prepo_entropy_weighted, as the plugin does in verl's processes)

    for algorithm in ("prepo", "erpo_prepo"):
        cfg = _compose(f"algorithm={algorithm}")
        actor = cfg.actor_rollout_ref.actor
        # verl's actor dataclass (as its workers build it) accepts the loss mode; smoke sets micro-batches.
        omega_conf_to_dataclass(_compose("experiment=smoke", f"algorithm={algorithm}").actor_rollout_ref.actor)
        assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.use_kl_loss) == (0.2, 0.28, False)
        assert actor.policy_loss.loss_mode == "prepo_entropy_weighted" and actor.calculate_entropy
        assert cfg.prepo.enabled and cfg.prepo.weighting.enabled and cfg.prepo.candidate_multiplier == 5
        assert cfg.erpo.enabled == (algorithm == "erpo_prepo")
    base = _compose("algorithm=erpo")
    assert not base.prepo.enabled and not base.prepo.weighting.enabled  # safe-off for every other variant


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["algorithm=erpo", "prepo.weighting.enabled=true"], "prepo.weighting.enabled"),
        (["algorithm=prepo", "prepo.weighting.enabled=false"], "loss_mode"),
        (["algorithm=prepo", "actor_rollout_ref.actor.calculate_entropy=false"], "calculate_entropy"),
        (["algorithm=prepo", "prepo.pacing=cosine"], "prepo.pacing"),
        (["algorithm=prepo", "prepo.candidate_multiplier=0"], "prepo.candidate_multiplier"),
        (["algorithm=prepo", "prepo.perplexity_on=answer"], "prepo.perplexity_on"),
        (["algorithm=prepo", "+prepo.windowing=1"], "prepo.windowing"),
    ],
)
def test_bad_prepo_fields_are_refused(overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        check_prepo_fields(_compose(*overrides))


@pytest.mark.parametrize("model", ["qwen2.5-math-7b", "qwen2.5-math-1.5b", "qwen3-4b", "qwen3-4b-base", "llama3.1-8b"])
def test_prepo_paper_rows_differ_only_in_the_method(model):
    random = _compose(f"experiment=prepo_paper/random_{model}")
    prepo = _compose(f"experiment=prepo_paper/prepo_{model}")
    for cfg in (random, prepo):
        actor = cfg.actor_rollout_ref.actor
        assert cfg.model_name == model and cfg.actor_rollout_ref.rollout.n == 8
        assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.use_kl_loss) == (0.2, 0.28, False)
        assert cfg.actor_rollout_ref.rollout.val_kwargs.n == 16
    assert random.data == prepo.data
    assert (random.variant, random.prepo.enabled, random.actor_rollout_ref.actor.policy_loss.loss_mode) == (
        "random",
        False,
        "vanilla",
    )
    assert (prepo.variant, prepo.prepo.enabled, prepo.prepo.candidate_multiplier) == ("prepo", True, 5)


def _commented_keys(path: Path, package: str = "") -> dict[str, bool]:
    """Dotted key -> whether a comment line sits right above it (blank lines between are allowed)."""
    out, stack, previous = {}, [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#") and ":" in stripped and not stripped.startswith("-"):
            indent = len(line) - len(line.lstrip())
            stack = [(i, k) for i, k in stack if i < indent]
            key = stripped.split(":", 1)[0].strip()
            stack.append((indent, key))
            out[".".join(filter(None, [package, *(k for _, k in stack)]))] = previous.startswith("#")
        previous = stripped
    return out


def _dataclass_keys(cls, prefix: str) -> list[str]:
    from dataclasses import fields, is_dataclass

    keys = []
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        name = f"{prefix}.{f.name}"
        keys += _dataclass_keys(type(default), name) if is_dataclass(default) else [name]
    return keys


def test_every_config_field_is_documented_once_by_a_yaml_comment():
    """The one way a field is documented: the comment above its key in recipe/conf/ (train.yaml, or the
    temperature_schedule file that owns a schedule's knob); every YAML key is a real field."""
    from erpo.greso import GRESOConfig
    from erpo.prepo.config import PREPOConfig

    documented = _commented_keys(Path(CONF) / "train.yaml")
    for schedule in (Path(CONF) / "temperature_schedule").glob("*.yaml"):
        documented.update(_commented_keys(schedule, "erpo.temperature"))
    fields_ = (
        _dataclass_keys(ERPOConfig, "erpo")
        + _dataclass_keys(PREPOConfig, "prepo")
        + _dataclass_keys(GRESOConfig, "greso")
    )
    missing = [k for k in fields_ if not documented.get(k)]
    assert not missing, f"fields without a commented key in recipe/conf/: {missing}"
    yaml_keys = {k for k in documented if k.split(".")[0] in ("erpo", "prepo", "greso") and "." in k}
    parents = {k.rsplit(".", 1)[0] for k in fields_}
    unknown = sorted(yaml_keys - set(fields_) - parents)
    assert not unknown, f"keys in recipe/conf/ that no config class has: {unknown}"


TRAIN_GROUPS = (
    "algorithm",
    "temperature_schedule",
    "model",
    "logger",
    "platform",
    "experiment",
    "sweep",
    "data",
    "sampling",
)


def _compose_root(root: str, name: str):
    """A root config of its own (eval, sim), resolved as in a run (hydra's runtime values included)."""
    from hydra.core.hydra_config import HydraConfig

    # eval composes from the conf root (its sampling preset is the shared recipe/conf/sampling group), and so does probe
    # (it reads recipe/conf/data groups); sim from its own.
    config_dir, config_name = (CONF, f"{root}/{name}") if root in ("eval", "probe") else (str(Path(CONF) / root), name)
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name, return_hydra_config=True)
        with open_dict(cfg), read_write(cfg):
            cfg.hydra.runtime.output_dir = "outputs/test"
        HydraConfig.instance().set_config(cfg)
        return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def _compose_yaml(path: Path) -> None:
    """Compose one YAML under recipe/conf/ the way its users do; AssertionError for a file no route covers."""
    rel = path.relative_to(CONF)
    if rel == Path("train.yaml"):
        OmegaConf.to_container(_compose(), resolve=True)
        return
    group, option = rel.parts[0], str(rel.relative_to(rel.parts[0]).with_suffix(""))
    if group in TRAIN_GROUPS:
        cfg = _compose(f"{group}={option}")
        OmegaConf.to_container(cfg, resolve=True)
        if group == "sweep":  # every swept value composes too
            with initialize_config_dir(config_dir=CONF, version_base=None):
                params = compose("train", overrides=[f"sweep={option}"], return_hydra_config=True).hydra.sweeper.params
            assert params, f"sweep {option} sweeps nothing"
            for key, values in params.items():
                for value in str(values).split(","):
                    OmegaConf.to_container(_compose(f"sweep={option}", f"{key}={value}"), resolve=True)
    elif rel.parts[:2] == ("hydra", "launcher"):
        with initialize_config_dir(config_dir=CONF, version_base=None):
            cfg = compose("train", overrides=[f"hydra/launcher={path.stem}"], return_hydra_config=True)
        assert cfg.hydra.launcher._target_
    elif group in ("eval", "sim", "probe") and len(rel.parts) == 2:
        OmegaConf.to_container(_compose_root(group, path.stem), resolve=True)
    else:
        raise AssertionError(f"no test composes recipe/conf/{rel}: add its route to _compose_yaml")


@pytest.mark.parametrize(
    "path",
    sorted(p for p in Path(CONF).rglob("*.yaml") if not p.name.startswith("_")),
    ids=lambda p: str(p.relative_to(CONF)),
)
def test_every_yaml_under_conf_composes(path):
    _compose_yaml(path)


def test_partial_yaml_files_are_included_by_the_rows_that_use_them():
    for partial in Path(CONF).rglob("_*.yaml"):
        users = [p for p in partial.parent.glob("*.yaml") if p != partial and partial.stem in p.read_text()]
        assert users, f"recipe/conf/{partial.relative_to(CONF)} is included by no file beside it"


@pytest.mark.parametrize("preset", _options("sampling"))
def test_eval_and_validation_sample_with_the_same_preset(preset):
    """Training-time validation (val_kwargs) and erpo.eval take temperature, top_p, k (and eval's max tokens)
    from one recipe/conf/sampling preset unless overridden."""
    train = _compose(f"sampling={preset}")
    evalc = _compose_root("eval", "eval")
    with initialize_config_dir(config_dir=CONF, version_base=None):
        evalc = compose("eval/eval", overrides=[f"sampling={preset}"])
    s, v = train.sampling, train.actor_rollout_ref.rollout.val_kwargs
    assert (v.n, v.temperature, v.top_p, v.do_sample) == (s.k, s.temperature, s.top_p, True)
    assert (evalc.k, evalc.temperature, evalc.top_p, evalc.max_new_tokens) == (
        s.k,
        s.temperature,
        s.top_p,
        s.max_tokens,
    )
    assert evalc.sampling.name == preset


@pytest.mark.parametrize("paper", ["erpo_paper", "prepo_paper", "greso_paper"])
def test_paper_rows_validate_with_their_papers_preset(paper):
    for row in sorted((Path(CONF) / "experiment" / paper).glob("[!_]*.yaml")):
        cfg = _compose(f"experiment={paper}/{row.stem}")
        assert cfg.sampling.name == paper, row
        # eval's token budget equals what validation can generate (verl: rollout.response_length)
        assert cfg.sampling.max_tokens == cfg.actor_rollout_ref.rollout.response_length, row


def test_wandb_identity_follows_each_job_of_a_multirun(monkeypatch):
    """Jobs of one Hydra multirun share the driver process: the second job must not keep the first's W&B run
    id and group, while a variable the user set stays."""
    from recipe.driver import startup

    for key in ("WANDB_RUN_ID", "WANDB_RUN_GROUP", "WANDB_TAGS", "WANDB_JOB_TYPE", "WANDB_RESUME", "WANDB_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setattr(startup, "_WANDB_SET_HERE", {})
    first = _compose("algorithm=grpo", "logger=offline", "seed=1")
    second = _compose("algorithm=erpo", "logger=offline", "seed=2")
    startup.set_wandb_environment(first)
    run_1 = os.environ["WANDB_RUN_ID"]
    startup.set_wandb_environment(second)
    assert os.environ["WANDB_RUN_GROUP"] == "erpo" and os.environ["WANDB_RUN_ID"] != run_1
    assert os.environ["WANDB_RUN_ID"] == startup.wandb_settings(second)["WANDB_RUN_ID"]
    assert os.environ["WANDB_MODE"] == "disabled"


def test_a_fixed_wandb_run_id_is_refused_in_a_multirun_and_kept_in_a_single_run(monkeypatch):
    """A WANDB_RUN_ID the user exported would merge every job of a multirun into one W&B run: refused, naming the
    fix; in a single run it is the user's choice and wins."""
    from recipe.driver import startup
    from recipe.erpo.refusals import ConfigRefused

    monkeypatch.setattr(startup, "_WANDB_SET_HERE", {})
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_RUN_ID", "mine")
    job = _compose("algorithm=grpo", "logger=offline", "seed=1")
    with pytest.raises(ConfigRefused, match="WANDB_RUN_ID=mine .* Hydra multirun.*Unset WANDB_RUN_ID"):
        startup.set_wandb_environment(job, multirun=True)
    startup.set_wandb_environment(job, multirun=False)
    assert os.environ["WANDB_RUN_ID"] == "mine"
    monkeypatch.delenv("WANDB_RUN_ID")
    startup.set_wandb_environment(job, multirun=True)  # our own id, set for the previous job, is replaced
    startup.set_wandb_environment(_compose("algorithm=erpo", "logger=offline", "seed=2"), multirun=True)
    assert os.environ["WANDB_RUN_GROUP"] == "erpo"


@pytest.mark.parametrize("root", ["eval", "probe"])
def test_eval_and_probe_take_the_checkpoint_on_the_command_line(root):
    """`model=` would pick the training group recipe/conf/model (Hydra: "Could not override 'model'"), so both CLIs
    name the model to load `checkpoint`, and the README's commands compose."""
    with initialize_config_dir(config_dir=CONF, version_base=None):
        cfg = compose(f"{root}/{root}", overrides=["checkpoint=Qwen/Qwen2.5-7B"])
    assert cfg.checkpoint == "Qwen/Qwen2.5-7B"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"python -m erpo.{root} model=" not in readme
