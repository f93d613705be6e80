"""The model passes' field list (recipe/platform/pass_fields.py): every tensor field, only the listed non-tensor
ones, the batch restored after the pass, verl's behaviour where the setting is null."""

from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir

from recipe.conf import CONF_DIR
from recipe.platform.pass_fields import check_non_tensor_fields, narrowed, pass_fields

SCHEMA = {
    "input_ids": {"is_non_tensor": False},
    "temperature": {"is_non_tensor": False},  # ERPO's per-sample temperature: a tensor field, always sent
    "old_log_probs": {"is_non_tensor": False},
    "raw_prompt": {"is_non_tensor": True},
    "extra_info": {"is_non_tensor": True},
    "multi_modal_inputs": {"is_non_tensor": True},
}


def test_every_tensor_field_and_only_the_listed_non_tensor_fields():
    assert pass_fields(SCHEMA, ["multi_modal_inputs", "teacher_ids"]) == [
        "input_ids",
        "multi_modal_inputs",
        "old_log_probs",
        "temperature",
    ]
    assert pass_fields(SCHEMA, []) == ["input_ids", "old_log_probs", "temperature"]


def test_the_pass_sees_the_narrowed_list_and_the_step_gets_the_batch_back_as_verl_made_it():
    batch = SimpleNamespace(fields=None)
    asked = []

    def schema(b):
        asked.append(b)
        return SCHEMA

    with narrowed(batch, ["multi_modal_inputs"], schema):
        assert batch.fields == ["input_ids", "multi_modal_inputs", "old_log_probs", "temperature"]
    assert batch.fields is None and asked == [batch]

    with pytest.raises(RuntimeError), narrowed(batch, [], schema):  # restored when the pass fails too
        raise RuntimeError("pass failed")
    assert batch.fields is None


def test_null_leaves_the_batch_alone():
    def schema(_):
        raise AssertionError("no schema lookup")

    batch = SimpleNamespace(fields=None)
    with narrowed(batch, None, schema):
        assert batch.fields is None
    named = SimpleNamespace(fields=["input_ids", "raw_prompt"])
    with narrowed(named, None, schema):
        assert named.fields == ["input_ids", "raw_prompt"]


def test_a_batch_that_names_its_fields_keeps_only_those_minus_unlisted_non_tensor_ones():
    # verl's passes after the first get the batch kv_batch_put returned, which names every persisted field.
    every = ["raw_prompt", "input_ids", "extra_info", "old_log_probs", "multi_modal_inputs", "temperature"]
    batch = SimpleNamespace(fields=list(every))
    with narrowed(batch, ["multi_modal_inputs"], lambda _: SCHEMA):
        assert batch.fields == ["input_ids", "old_log_probs", "multi_modal_inputs", "temperature"]
    assert batch.fields == every
    # verl's own narrower choice stays narrow; a name the schema does not know goes to TransferQueue as it would.
    chosen = SimpleNamespace(fields=["input_ids", "not_stored"])
    with narrowed(chosen, ["multi_modal_inputs"], lambda _: SCHEMA):
        assert chosen.fields == ["input_ids", "not_stored"]


@pytest.mark.parametrize("bad", ["multi_modal_inputs", [""], [3], ["a", None]])
def test_a_malformed_setting_is_refused_naming_the_field(bad):
    with pytest.raises(ValueError, match="platform.pass_non_tensor_fields"):
        check_non_tensor_fields(bad)
    assert check_non_tensor_fields(None) is None
    assert check_non_tensor_fields(["multi_modal_inputs"]) == ["multi_modal_inputs"]


def test_cpu_keeps_the_fields_verls_engine_and_losses_read_and_gpu_keeps_verls_behaviour():
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cpu = compose("train", overrides=["platform=cpu"])
        gpu = compose("train", overrides=["platform=gpu"])
    assert gpu.platform.pass_non_tensor_fields is None
    assert {"multi_modal_inputs", "teacher_ids", "teacher_logprobs"} <= set(cpu.platform.pass_non_tensor_fields)


@pytest.mark.parametrize(
    "override,message",
    [
        ("platform.pass_non_tensor_fields=multi_modal_inputs", "platform.pass_non_tensor_fields"),
        ("platform.llm_client_class=no.such.Client", "platform.llm_client_class='no.such.Client'"),
        ("platform.task_runner_in_driver=sometimes", "platform.task_runner_in_driver must be true"),
        ("platform.prestart_rollout_workers=sometimes", "platform.prestart_rollout_workers must be true"),
        ("actor_rollout_ref.rollout.agent.agent_loop_manager_class=null", "verl's own manager \\(null\\)"),
        ("platform.prestart_rollout_server=sometimes", "platform.prestart_rollout_server must be true"),
        ("actor_rollout_ref.rollout.disaggregation.enabled=true", "prefill/decode servers are not prestarted"),
    ],
)
def test_a_malformed_platform_setting_is_refused_before_ray(override, message):
    from recipe.erpo.refusals import ConfigRefused, check_platform_fields

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        good = compose("train", overrides=["platform=cpu"])
        bad = compose("train", overrides=["platform=cpu", override])
    check_platform_fields(good)
    with pytest.raises(ConfigRefused, match=message):
        check_platform_fields(bad)
