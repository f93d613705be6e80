"""The recipe's verl hooks, with real verl objects (no Ray, no GPU)."""

import numpy as np
import pytest
import torch

from recipe.erpo import reactivation
from recipe.erpo.agent_loop import AGENT_NAME, per_request_sampling_params
from recipe.erpo.component import PerSampleTemperatureInfo, logprob_metadata


def test_agent_loop_is_registered_and_sets_per_request_temperature():
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    assert AGENT_NAME in _agent_loop_registry
    base = {"temperature": 1.0, "top_p": 1.0}
    assert per_request_sampling_params(base, {"temperature": torch.tensor(1.3)})["temperature"] == pytest.approx(1.3)
    assert per_request_sampling_params(base, {}) is base  # validation prompts keep val_kwargs
    with pytest.raises(ValueError, match="temperature"):
        per_request_sampling_params(base, {"temperature": 0.0, "index": 4})


def test_metadata_drops_verl_scalar_temperature():
    info = PerSampleTemperatureInfo({"global_steps": 3})
    info.update({"temperature": 1.0, "compute_loss": False})
    info["temperature"] = 0.7
    assert "temperature" not in info and info["compute_loss"] is False


def test_metadata_drops_the_scalar_verl_wrote_before_wrapping():
    """verl's ``_step_once`` sets extra_info["temperature"] when it samples the batch, before any
    log-prob pass: wrapping that dict must drop it, and so must its deep copy on the worker."""
    import copy

    info = PerSampleTemperatureInfo({"temperature": 1.0, "global_steps": 3})
    assert "temperature" not in info and info["global_steps"] == 3
    assert "temperature" not in copy.deepcopy(info)


def test_worker_side_merge_keeps_per_sample_temperature():
    """verl's worker merges metadata into the fetched batch; the per-sample field must survive."""
    from tensordict import TensorDict
    from verl.utils import tensordict_utils as tu

    batch = TensorDict({"temperature": torch.tensor([1.0, 1.3])}, batch_size=[2])
    info = PerSampleTemperatureInfo()
    info.update({"temperature": 1.0, "calculate_entropy": True})
    for key, val in info.items():
        tu.assign_non_tensor_data(tensor_dict=batch, key=key, val=val)
    assert batch["temperature"].tolist() == pytest.approx([1.0, 1.3])


@pytest.mark.parametrize("mode, expected", [("sampled", [1.0, 1.3]), ("base", [1.0, 1.0])])
def test_logprob_temperature_sampled_or_base_reaches_the_worker_batch(mode, expected):
    """erpo.logprob_temperature: the engine reads the merged per-sample field; base = verl's scalar
    (rollout.temperature, equal to erpo.temperature.base) for every sample, sampled = each one's own."""
    from tensordict import TensorDict
    from verl.utils import tensordict_utils as tu

    batch = TensorDict({"temperature": torch.tensor([1.0, 1.3])}, batch_size=[2])
    # verl's _step_once writes the scalar when it samples the batch; the hook then builds the metadata.
    info = logprob_metadata({"temperature": 1.0, "global_steps": 2}, mode)
    for key, val in info.items():
        tu.assign_non_tensor_data(tensor_dict=batch, key=key, val=val)
    merged = batch["temperature"]  # base: verl's scalar replaced the per-sample tensor (what verl does alone)
    values = merged.tolist() if isinstance(merged, torch.Tensor) else [float(merged)] * 2
    assert values == pytest.approx(expected)
    with pytest.raises(ValueError, match="logprob_temperature"):
        logprob_metadata({}, "mean")


def _grpo(scores, index):
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    rewards = torch.tensor(scores, dtype=torch.float32).unsqueeze(-1)
    return compute_grpo_outcome_advantage(rewards, torch.ones_like(rewards), np.array(index))[0]


def test_erpo_estimator_equals_grpo_without_ra():
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    reactivation.configure(False)
    scores, index = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0], ["a", "a", "a", "b", "b", "b"]
    rewards = torch.tensor(scores).unsqueeze(-1)
    adv, _ = get_adv_estimator_fn(reactivation.ESTIMATOR_NAME)(rewards, torch.ones_like(rewards), np.array(index))
    assert torch.equal(adv, _grpo(scores, index))


def test_ra_gives_all_correct_groups_a_positive_advantage_only():
    reactivation.configure(True)
    try:
        scores, index = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0], ["a", "a", "a", "b", "b", "b"]
        rewards = torch.tensor(scores).unsqueeze(-1)
        reactivation.set_all_correct_groups({"b"})
        adv, _ = reactivation.compute_erpo_grpo_advantage(rewards, torch.ones_like(rewards), np.array(index))
        assert torch.equal(adv[:3], _grpo(scores, index)[:3])  # mixed group untouched
        expected = (1 - 0.75) / (torch.tensor([1.0, 1, 1, 0]).std() + 1e-6)
        assert adv[3:, 0].tolist() == pytest.approx([expected.item()] * 3)
    finally:
        reactivation.set_all_correct_groups(None)
        reactivation.configure(False)


def _ra_advantage_of_16_correct(**settings) -> float:
    """RA's advantage of each response of one all-correct group of 16 (reward 1.0) under ``settings``."""
    norm_by_std = settings.pop("norm_by_std", True)
    reactivation.configure(True, **settings)
    try:
        rewards = torch.ones(16, 1)
        reactivation.set_all_correct_groups({"g"})
        adv, _ = reactivation.compute_erpo_grpo_advantage(
            rewards, torch.ones_like(rewards), np.array(["g"] * 16), config={"norm_adv_by_std_in_grpo": norm_by_std}
        )
        assert torch.all(adv == adv[0, 0])  # one value for the whole group
        return float(adv[0, 0])
    finally:
        reactivation.set_all_correct_groups(None)
        reactivation.configure(False)


def test_ra_forms_on_an_all_correct_group_of_16_at_two_magnitudes():
    """virtual_response under std normalisation: 1/sqrt(17) whatever the pseudo reward (why a value is
    refused there); without it, (1 - p) / 17; fixed_advantage: the advantage itself, which survives."""
    virtual_std = [_ra_advantage_of_16_correct(form="virtual_response", pseudo_reward=p) for p in (0.0, -1.0)]
    assert virtual_std == pytest.approx([1 / 17**0.5] * 2, rel=1e-4)  # the magnitude does nothing
    virtual_raw = [
        _ra_advantage_of_16_correct(form="virtual_response", pseudo_reward=p, norm_by_std=False) for p in (0.0, -1.0)
    ]
    assert virtual_raw == pytest.approx([1 / 17, 2 / 17]) and virtual_raw[0] != virtual_raw[1]
    fixed = [_ra_advantage_of_16_correct(form="fixed_advantage", advantage=a) for a in (0.1, 0.5)]
    assert fixed == pytest.approx([0.1, 0.5]) and fixed[0] != fixed[1]
    fixed_raw = [
        _ra_advantage_of_16_correct(form="fixed_advantage", advantage=a, norm_by_std=False) for a in (0.1, 0.5)
    ]
    assert fixed_raw == pytest.approx([0.1, 0.5])


def test_ra_settings_without_effect_are_refused():
    from erpo.erpo.config import ERPOConfig
    from recipe.erpo.refusals import ConfigRefused, refuse_idle_ra_magnitude

    def ra(**fields):
        return ERPOConfig.from_dict({"ra": {"enabled": True, **fields}}).ra

    with pytest.raises(ConfigRefused, match="erpo.ra.pseudo_reward=0.0 has no effect"):
        refuse_idle_ra_magnitude(ra(pseudo_reward=0.0), norm_by_std=True)
    with pytest.raises(ConfigRefused, match="erpo.ra.pseudo_reward=null"):
        refuse_idle_ra_magnitude(ra(), norm_by_std=False)
    refuse_idle_ra_magnitude(ra(), norm_by_std=True)  # today's reading, nothing to set
    refuse_idle_ra_magnitude(ra(pseudo_reward=-1.0), norm_by_std=False)
    refuse_idle_ra_magnitude(ra(form="fixed_advantage", advantage=0.2), norm_by_std=True)


def test_ra_decides_all_correct_from_acc_not_from_the_score():
    """DAPO's overlong penalty lowers a correct response's score: RA follows acc (the trainer's set)."""
    reactivation.configure(True)
    try:
        scores, index = [1.0, 0.4, 1.0, 1.0, 1.0, 1.0], ["a", "a", "a", "b", "b", "b"]
        rewards = torch.tensor(scores).unsqueeze(-1)
        reactivation.set_all_correct_groups({"a"})  # "a": all acc=1 (one penalised); "b": one acc=0 scored 1.0
        adv, _ = reactivation.compute_erpo_grpo_advantage(rewards, torch.ones_like(rewards), np.array(index))
        a = torch.tensor([1.0, 0.4, 1.0, 0.0])
        assert adv[:3, 0].tolist() == pytest.approx(((a[:3] - a.mean()) / (a.std() + 1e-6)).tolist())
        assert torch.equal(adv[3:], _grpo(scores, index)[3:])  # not all correct by acc: plain GRPO (zero)
        reactivation.set_all_correct_groups(None)
        with pytest.raises(RuntimeError, match="set_all_correct_groups"):
            reactivation.compute_erpo_grpo_advantage(rewards, torch.ones_like(rewards), np.array(index))
    finally:
        reactivation.set_all_correct_groups(None)
        reactivation.configure(False)


def test_dapo_filter_keeps_all_correct_groups_when_ra_is_on():
    """The wrapper the ERPO component puts on verl's buffer: of the zero-variance groups (shared acc cached per uid),
    only the all-wrong ones are evicted; the refill and verl's diagnostic follow the evicted ones."""
    from collections import Counter

    from recipe.erpo.component import keep_all_correct_groups

    class Buffer:
        _dapo_classification_cache = {"train": {"ok": 1.0, "bad": 0.0, "mixed": None}}

        def _dapo_filtered_keys(self, partition_id):
            return {"ok", "bad"}, Counter({1.0: 1, 0.0: 1})

    buffer = Buffer()
    keep_all_correct_groups(buffer, threshold=0.5)
    assert buffer._dapo_filtered_keys("train") == ({"bad"}, Counter({0.0: 1}))
