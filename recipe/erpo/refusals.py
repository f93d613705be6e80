"""Refusals: every config or data problem the driver can find before Ray starts.

Pure checks (no environment, no files written): each raises :class:`ConfigRefused` with one line
that names the field (or file and row) and the fix, so no Ray cluster or model is started for a
run that cannot work. :func:`recipe.driver.startup.preflight` runs them.
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from erpo.components import import_method_modules, refuse_methods
from erpo.erpo.config import ERPOConfig
from erpo.errors import ConfigError
from erpo.rewards.math_reward import REWARD_SCALES
from recipe.common import methods  # noqa: F401  (registers the built-in methods and their refusals)
from recipe.erpo.agent_loop import AGENT_NAME
from recipe.erpo.reactivation import ESTIMATOR_NAME
from recipe.platform.cpu import platform_flag
from recipe.platform.pass_fields import check_non_tensor_fields
from recipe.platform.prestart import check as check_prestart
from recipe.platform.prestart_server import check as check_prestart_server
from recipe.platform.single_server import llm_client_class

# erpo.data.sources.TEMPLATE_ANSWER_FORMAT, inverted: the template whose prompt asks for each answer format.
TEMPLATE_OF_FORMAT = {"answer_line": "dapo", "boxed": "qwen_math_cot", "any": "plain"}


class ConfigRefused(ConfigError):
    """A config or data problem found before Ray starts."""


def refuse_bad_fields(config: DictConfig) -> ERPOConfig:
    """Every refusal that reads only the config; returns the validated ERPO config."""
    try:
        # First the user's modules (method_modules): a temperature schedule registers there, and the erpo
        # node may name it.
        import_method_modules(config)
        erpo_cfg = ERPOConfig.from_dict(OmegaConf.to_container(config.erpo, resolve=True))
    except ConfigError as err:
        raise ConfigRefused(str(err)) from None
    check_recipe_fields(config, erpo_cfg)
    check_platform_fields(config)
    try:
        # Each data-side method's own refusals live in its folder (recipe/<method>/refusals.py).
        refuse_methods(config)
    except ConfigError as err:
        raise ConfigRefused(str(err)) from None
    return erpo_cfg


def check_platform_fields(config: DictConfig) -> None:
    """The platform settings the trainer's process reads (recipe/conf/platform/*.yaml), refused here rather than
    minutes later, after Ray and the workers have started."""
    platform = config.get("platform") or {}
    try:
        check_non_tensor_fields(platform.get("pass_non_tensor_fields"))
        if platform.get("llm_client_class"):
            llm_client_class(str(platform.get("llm_client_class")))
        platform_flag(platform, "task_runner_in_driver")
        check_prestart(config)
        check_prestart_server(config)
    except ValueError as err:
        raise ConfigRefused(str(err)) from None


def refuse_bad_data(config: DictConfig) -> None:
    """Every refusal that reads the training and validation files."""
    for key in ("train_files", "val_files"):
        for path in as_list(config.data.get(key)):
            check_rl_parquet(path, field=f"data.{key}")
    expected = config.data.get("answer_format")
    if expected is not None:
        for path in as_list(config.data.get("train_files")):
            check_answer_format(path, str(expected))


def check_answer_format(path: str, expected: str) -> None:
    """Every training row's ``extra_info.answer_format`` (what its prompt asks for, written by erpo.data) is the
    one the config trains (``data.answer_format``): a row prepared with another template would be scored by
    a reward reading a different answer form than the prompt asks the policy for."""
    extras = pq.read_table(path, columns=["extra_info"]).column("extra_info").to_pylist()
    for row, extra in enumerate(extras):
        found = (extra or {}).get("answer_format")
        if found != expected:
            raise ConfigRefused(
                f"data.answer_format={expected}: {path} row {row} has extra_info.answer_format={found!r}; prepare "
                f"the data with the template that asks for {expected} (python -m erpo.data ... --template "
                f"{TEMPLATE_OF_FORMAT.get(expected, '<one of erpo.data.sources.TEMPLATES>')})."
            )


def plan_refusals(config: DictConfig, plan, inputs) -> None:
    """Refusals that need the run plan (recipe/driver/plan_of_config.py): a run verl would stop before
    trainer.total_training_steps, and an ERPO run whose prompts would not come back."""
    from erpo.plan import visits_refusal

    if plan.epochs_cut_steps:
        needed = -(-int(inputs.total_training_steps) // plan.steps_per_epoch)
        raise ConfigRefused(
            f"trainer.total_epochs={inputs.total_epochs} stops verl's loop after {plan.steps} steps "
            f"({plan.steps_per_epoch} per epoch), before trainer.total_training_steps={inputs.total_training_steps}; "
            f"set trainer.total_epochs>={needed} so that total_training_steps governs."
        )
    if inputs.erpo:
        why = visits_refusal(plan, inputs, float(config.erpo.get("min_expected_visits", 2)))
        if why is not None:
            raise ConfigRefused(why)


def refuse_bad_plan(config: DictConfig) -> None:
    """Print the run plan and refuse what :func:`plan_refusals` refuses (after the data refusals)."""
    from erpo.errors import InputError
    from erpo.plan import format_plan
    from recipe.driver.plan_of_config import plan_of

    try:
        plan, inputs = plan_of(config)
    except InputError as err:
        raise ConfigRefused(f"run plan: {err}") from None
    print(format_plan(plan, inputs), flush=True)
    plan_refusals(config, plan, inputs)


def check_recipe_fields(config: DictConfig, erpo_cfg: ERPOConfig) -> None:
    rollout = config.actor_rollout_ref.rollout
    if rollout.agent.default_agent_loop != AGENT_NAME:
        raise ConfigRefused(
            f"actor_rollout_ref.rollout.agent.default_agent_loop={rollout.agent.default_agent_loop!r}: the ERPO recipe "
            f"needs {AGENT_NAME!r}, the loop that applies per-prompt temperatures; remove the override."
        )
    if config.actor_rollout_ref.model.get("use_fused_kernels", False):
        raise ConfigRefused(
            "actor_rollout_ref.model.use_fused_kernels=true: fused log-prob kernels take one scalar temperature, but "
            "ERPO scores each sample at its own temperature; set actor_rollout_ref.model.use_fused_kernels=false."
        )
    if erpo_cfg.temperature.base != float(rollout.temperature):
        raise ConfigRefused(
            f"erpo.temperature.base={erpo_cfg.temperature.base} differs from actor_rollout_ref.rollout.temperature="
            f"{rollout.temperature}; set both to the same value (the base temperature of a non-residual prompt)."
        )
    filter_groups = config.algorithm.get("filter_groups") or {}
    if erpo_cfg.ra.enabled and filter_groups.get("enable", False) and filter_groups.get("metric") != "acc":
        raise ConfigRefused(
            f"erpo.ra.enabled=true with algorithm.filter_groups.metric={filter_groups.get('metric')!r}: RA keeps "
            "all-correct groups through DAPO's filter by the reward's acc (one definition of correct for RA, the "
            "tracker and the filter); set algorithm.filter_groups.metric=acc."
        )
    if erpo_cfg.ra.enabled and config.algorithm.adv_estimator != ESTIMATOR_NAME:
        raise ConfigRefused(
            f"erpo.ra.enabled=true needs algorithm.adv_estimator={ESTIMATOR_NAME} (got "
            f"{config.algorithm.adv_estimator!r}); use an erpo algorithm preset or set the estimator."
        )
    refuse_idle_ra_magnitude(erpo_cfg.ra, bool(config.algorithm.get("norm_adv_by_std_in_grpo", True)))
    reward_fn = config.reward.get("custom_reward_function") or {}
    scale = (reward_fn.get("reward_kwargs") or {}).get("scale", "zero_one")
    if scale not in REWARD_SCALES:
        raise ConfigRefused(
            f"reward.custom_reward_function.reward_kwargs.scale={scale!r} is not supported; choose "
            f"one of {sorted(REWARD_SCALES)} (erpo/rewards/math_reward.py)."
        )


def refuse_idle_ra_magnitude(ra, norm_by_std: bool) -> None:
    """virtual_response's pseudo_reward cancels under std normalisation (every all-correct response gets
    1/sqrt(G+1) for any value below the real reward, docs/erpo.md "RA forms"): a value there would be a knob
    that does nothing, so it is refused; without std normalisation the value sets RA's size, so it is required."""
    if not ra.enabled or ra.form != "virtual_response":
        return
    if norm_by_std and ra.pseudo_reward is not None:
        raise ConfigRefused(
            f"erpo.ra.pseudo_reward={ra.pseudo_reward} has no effect: with algorithm.norm_adv_by_std_in_grpo=true "
            "every response of an all-correct group gets 1/sqrt(G+1) under erpo.ra.form=virtual_response, whatever "
            "the pseudo reward. Set erpo.ra.pseudo_reward=null, or give RA a magnitude that survives normalisation "
            "(erpo.ra.form=fixed_advantage erpo.ra.advantage=<a>), or set algorithm.norm_adv_by_std_in_grpo=false."
        )
    if not norm_by_std and ra.pseudo_reward is None:
        raise ConfigRefused(
            "erpo.ra.pseudo_reward=null with algorithm.norm_adv_by_std_in_grpo=false: without std normalisation the "
            "pseudo reward sets RA's advantage, (r - p) / (G + 1); choose it explicitly (e.g. 0.0, a wrong answer)."
        )


def check_rl_parquet(path: str, field: str) -> None:
    """Every row needs a data_source and a non-negative integer ``extra_info.index``, unique per source.

    The index is the prompt's stable key in the tracker; verl itself silently uses 0 when it
    is missing, which would merge every prompt's history into one.
    """
    if not os.path.exists(path):
        raise ConfigRefused(f"{field}: file {path!r} does not exist; prepare it with `python -m erpo.data` first.")
    table = pq.read_table(path, columns=["data_source", "extra_info"])
    sources = table.column("data_source").to_pylist()
    extras = table.column("extra_info").to_pylist()
    seen: dict[tuple[str, int], int] = {}
    for row, (source, extra) in enumerate(zip(sources, extras, strict=True)):
        index = (extra or {}).get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ConfigRefused(
                f"{field}: {path} row {row} has extra_info.index={index!r}; every row needs a non-negative integer "
                "dataset index (the prompt's key in the ERPO tracker): re-run `python -m erpo.data`."
            )
        if (source, index) in seen:
            raise ConfigRefused(
                f"{field}: {path} rows {seen[(source, index)]} and {row} share data_source={source!r} and "
                f"extra_info.index={index}; indices must be unique per data source."
            )
        seen[(source, index)] = row


def as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
