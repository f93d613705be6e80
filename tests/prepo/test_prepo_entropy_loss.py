"""The weighted loss against verl 0.9.1's real vanilla loss, ppo_loss and registry (CPU, tiny tensors)."""

import pytest
import torch
from tensordict import TensorDict
from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla, get_policy_loss_fn
from verl.utils import tensordict_utils as tu
from verl.workers.config import FSDPActorConfig, PolicyLossConfig
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import left_right_2_no_padding

from erpo.prepo.config import WeightingConfig
from recipe.prepo.loss import (
    PREPO_LOSS_MODE,
    compute_policy_loss_prepo_entropy_weighted,
    make_prepo_loss_fn,
)
from recipe.prepo.weights import relative_entropy_weights


def _on(**fields) -> WeightingConfig:
    """The weighting on (its default is off, as in recipe/conf/train.yaml), with these fields."""
    return WeightingConfig(enabled=True, **fields)


def actor_config(loss_mode="vanilla", loss_agg_mode="token-mean"):
    return FSDPActorConfig(
        rollout_n=8,
        ppo_micro_batch_size_per_gpu=2,
        clip_ratio_low=0.2,
        clip_ratio_high=0.28,
        loss_agg_mode=loss_agg_mode,
        policy_loss=PolicyLossConfig(loss_mode=loss_mode),
    )


def ppo_inputs(seed=0, batch=4, length=6):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, length)
    mask[1, 3:] = 0
    mask[3, 1:] = 0
    old = -torch.rand(batch, length, generator=g)
    new = (old + 0.3 * torch.randn(batch, length, generator=g)).requires_grad_()
    adv = torch.randn(batch, 1, generator=g).expand(batch, length).clone()
    return old, new, adv, mask.bool()


def test_registered_name_resolves_through_verl_getter():
    assert get_policy_loss_fn(PREPO_LOSS_MODE) is compute_policy_loss_prepo_entropy_weighted


def test_weights_average_to_one_token_weighted():
    g = torch.Generator().manual_seed(1)
    entropy = torch.rand(5, 7, generator=g) * 3
    mask = (torch.rand(5, 7, generator=g) > 0.3).float()
    mask[:, 0] = 1
    w, metrics = relative_entropy_weights(entropy, mask)
    lengths = mask.sum(-1)
    assert torch.allclose((lengths * w).sum() / lengths.sum(), torch.tensor(1.0))
    h_i = (entropy * mask).sum(-1) / lengths
    assert torch.allclose(w, h_i / ((entropy * mask).sum() / mask.sum()))
    assert metrics["prepo/weight_max"] == pytest.approx(w.max().item())


def test_weights_edge_cases_clip_detach_and_empty_rows():
    entropy = torch.tensor([[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]], requires_grad=True)
    mask = torch.tensor([[1, 1], [1, 1], [0, 0]])
    w, _ = relative_entropy_weights(entropy, mask, detach=True)
    assert torch.allclose(w, torch.tensor([0.5, 1.5, 1.0])) and not w.requires_grad  # empty row -> 1
    w_clipped, _ = relative_entropy_weights(entropy, mask, clip_min=0.7, clip_max=1.2)
    assert torch.allclose(w_clipped, torch.tensor([0.7, 1.2, 1.0]))
    w_grad, _ = relative_entropy_weights(entropy, mask, detach=False)
    assert w_grad.requires_grad
    w_zero, _ = relative_entropy_weights(torch.zeros(2, 2), torch.ones(2, 2))
    assert torch.equal(w_zero, torch.ones(2))  # deterministic policy: no relative signal
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        relative_entropy_weights(torch.zeros(2, 3), torch.ones(2, 2))


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean"])
def test_equal_entropies_give_exactly_verls_vanilla_loss(agg):
    old, new, adv, mask = ppo_inputs()
    cfg = actor_config(PREPO_LOSS_MODE, agg)
    entropy = torch.full(old.shape, 0.5)  # exact in binary, so every w_i is exactly 1
    loss, metrics = compute_policy_loss_prepo_entropy_weighted(
        old, new, adv, mask, agg, cfg, entropy=entropy, weighting=_on()
    )
    ref_loss, ref_metrics = compute_policy_loss_vanilla(old, new, adv, mask, agg, cfg)
    assert torch.equal(loss, ref_loss)
    assert metrics["actor/pg_clipfrac"] == ref_metrics["actor/pg_clipfrac"]
    assert metrics["prepo/weight_min"] == metrics["prepo/weight_max"] == 1.0


def test_unequal_entropies_scale_each_sequence_and_keep_rollout_correction():
    old, new, adv, mask = ppo_inputs(seed=3)
    cfg = actor_config(PREPO_LOSS_MODE)
    entropy = torch.rand(old.shape, generator=torch.Generator().manual_seed(4)) * 2
    is_weights = torch.rand(old.shape, generator=torch.Generator().manual_seed(5)) + 0.5
    w, _ = relative_entropy_weights(entropy, mask)
    assert not torch.allclose(w, torch.ones_like(w))
    loss, _ = compute_policy_loss_prepo_entropy_weighted(
        old, new, adv, mask, "token-mean", cfg, is_weights, entropy=entropy
    )
    expected, _ = compute_policy_loss_vanilla(old, new, adv, mask, "token-mean", cfg, is_weights * w[:, None])
    unweighted, _ = compute_policy_loss_vanilla(old, new, adv, mask, "token-mean", cfg, is_weights)
    assert torch.allclose(loss, expected) and not torch.allclose(loss, unweighted)


def test_disabled_weighting_is_vanilla_and_missing_entropy_is_an_error():
    old, new, adv, mask = ppo_inputs()
    cfg = actor_config(PREPO_LOSS_MODE)
    off = WeightingConfig(enabled=False)
    loss, _ = compute_policy_loss_prepo_entropy_weighted(
        old, new, adv, mask, "token-mean", cfg, entropy=torch.rand(old.shape), weighting=off
    )
    assert torch.equal(loss, compute_policy_loss_vanilla(old, new, adv, mask, "token-mean", cfg)[0])
    with pytest.raises(ValueError, match="set_loss_fn"):
        get_policy_loss_fn(PREPO_LOSS_MODE)(old, new, adv, mask, "token-mean", cfg)


def engine_micro_batch(seed=0):
    """A micro-batch in the no-padding layout verl's engine hands to its loss function."""
    g = torch.Generator().manual_seed(seed)
    prompt_lens, response_lens, p, r = [4, 2, 3], [5, 1, 3], 4, 5
    attention = torch.zeros(3, p + r, dtype=torch.long)
    for i, (pl, rl) in enumerate(zip(prompt_lens, response_lens, strict=True)):
        attention[i, p - pl : p] = 1
        attention[i, p : p + rl] = 1
    input_ids = torch.randint(1, 50, (3, p + r), generator=g) * attention
    data = TensorDict(
        {
            "input_ids": input_ids,
            "attention_mask": attention,
            "position_ids": (attention.cumsum(-1) - 1).clamp(min=0),
            "prompts": input_ids[:, :p],
            "responses": input_ids[:, p:],
            "response_mask": attention[:, p:],
            "old_log_probs": -torch.rand(3, r, generator=g),
            "advantages": torch.randn(3, 1, generator=g).expand(3, r).clone(),
        },
        batch_size=[3],
    )
    data = left_right_2_no_padding(data)
    tu.assign_non_tensor(data, dp_size=1, batch_num_tokens=None, global_batch_size=None)
    num_tokens = int(attention.sum())
    log_probs = (-torch.rand(num_tokens, generator=g)).requires_grad_()
    return data, log_probs, num_tokens


def test_worker_loss_fn_feeds_current_entropies_through_verls_ppo_loss():
    data, log_probs, num_tokens = engine_micro_batch()
    flat = {"log_probs": log_probs, "entropy": torch.full((num_tokens,), 0.5)}
    prepo_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), _on(normaliser_scope="micro_batch"))
    loss, metrics = prepo_fn(model_output=flat, data=data)
    ref_loss, _ = ppo_loss(actor_config("vanilla"), flat, data)
    assert torch.equal(loss, ref_loss) and "prepo/weight_mean" in metrics

    varied = {"log_probs": log_probs, "entropy": torch.rand(num_tokens, generator=torch.Generator().manual_seed(9))}
    assert not torch.allclose(prepo_fn(model_output=varied, data=data)[0], ref_loss)
    with pytest.raises(ValueError, match="calculate_entropy=True"):
        prepo_fn(model_output={"log_probs": log_probs}, data=data)


def test_make_prepo_loss_fn_requires_the_registered_loss_mode():
    with pytest.raises(ValueError, match=f"loss_mode={PREPO_LOSS_MODE}"):
        make_prepo_loss_fn(actor_config("vanilla"), _on())


def test_old_entropy_source_reads_the_batch_field_verls_v1_trainer_writes():
    data, log_probs, _ = engine_micro_batch()
    weighting = _on(entropy_source="old", normaliser_scope="micro_batch")
    prepo_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), weighting)
    with pytest.raises(ValueError, match="no 'entropy' field"):
        prepo_fn(model_output={"log_probs": log_probs}, data=data)
    lengths = [5, 1, 3]
    per_seq = [torch.full((n,), h) for n, h in zip(lengths, [1.0, 2.0, 4.0], strict=True)]
    data["entropy"] = torch.nested.as_nested_tensor(per_seq, layout=torch.jagged)  # response tokens only
    loss, metrics = prepo_fn(model_output={"log_probs": log_probs}, data=data)
    h_bar = (5 * 1.0 + 1 * 2.0 + 3 * 4.0) / 9
    # ppo_loss wraps policy-loss metrics in verl Metric objects (mean-aggregated over micro-batches)
    assert metrics["prepo/weight_min"].values == [pytest.approx(1.0 / h_bar)]
    assert metrics["prepo/weight_max"].values == [pytest.approx(4.0 / h_bar)]


def test_batch_scope_divides_by_the_trainers_whole_batch_normaliser():
    from recipe.prepo.loss import NORMALISER_FIELD

    data, log_probs, num_tokens = engine_micro_batch()
    entropy = torch.rand(num_tokens, generator=torch.Generator().manual_seed(3)) + 0.5
    flat = {"log_probs": log_probs, "entropy": entropy}
    batch_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), _on())  # default scope: batch
    with pytest.raises(ValueError, match=NORMALISER_FIELD):
        batch_fn(model_output=flat, data=data)
    local_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), _on(normaliser_scope="micro_batch"))
    _, local = local_fn(model_output=flat, data=data)
    h_bar_local = local["prepo/entropy_normaliser"].values[0]
    # A whole-batch H_bar twice the micro-batch's halves every weight.
    tu.assign_non_tensor(data, **{NORMALISER_FIELD: 2 * h_bar_local})
    _, scaled = batch_fn(model_output=flat, data=data)
    assert scaled["prepo/weight_max"].values[0] == pytest.approx(local["prepo/weight_max"].values[0] / 2)
    assert scaled["prepo/entropy_normaliser"].values[0] == pytest.approx(2 * h_bar_local)


def test_mini_batch_scope_sums_the_ranks_of_one_optimiser_step():
    """The poster's "mini-batch (B rollouts)": H_bar over the rows of one PPO mini-batch. Each rank's loss call
    holds its share; the all-reduce adds the other ranks' entropy sums and token counts."""
    from recipe.prepo.weights import mini_batch_normaliser

    g = torch.Generator().manual_seed(5)
    entropy, mask = torch.rand(6, 7, generator=g), (torch.rand(6, 7, generator=g) > 0.3).long()
    whole = float((entropy * mask).sum() / mask.sum())
    assert mini_batch_normaliser(entropy, mask) == pytest.approx(whole)
    a, b = slice(0, 2), slice(2, 6)  # two ranks' shares of the same mini-batch
    other = torch.stack([(entropy[b].double() * mask[b]).sum(), mask[b].double().sum()])
    assert mini_batch_normaliser(entropy[a], mask[a], all_reduce=lambda t: t.add_(other)) == pytest.approx(whole)
    assert mini_batch_normaliser(entropy[a], mask[a]) != pytest.approx(whole)  # one share alone differs


def test_mini_batch_scope_in_verls_loss_needs_the_whole_share_per_call():
    data, log_probs, num_tokens = engine_micro_batch()
    flat = {"log_probs": log_probs, "entropy": torch.rand(num_tokens, generator=torch.Generator().manual_seed(4))}
    mini_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), _on(normaliser_scope="mini_batch"))
    with pytest.raises(ValueError, match="whole share of the PPO mini-batch"):  # verl's global_batch_size unset
        mini_fn(model_output=flat, data=data)
    tu.assign_non_tensor(data, global_batch_size=6)  # 3 rows here, 1 rank: half of the mini-batch
    with pytest.raises(ValueError, match="3 rows x 1 data-parallel ranks, the mini-batch 6 rows"):
        mini_fn(model_output=flat, data=data)
    tu.assign_non_tensor(data, global_batch_size=3)  # the whole mini-batch on one rank: as the micro-batch scope
    micro_fn = make_prepo_loss_fn(actor_config(PREPO_LOSS_MODE), _on(normaliser_scope="micro_batch"))
    loss, metrics = mini_fn(model_output=flat, data=data)
    ref_loss, ref = micro_fn(model_output=flat, data=data)
    assert torch.equal(loss, ref_loss)
    assert metrics["prepo/entropy_normaliser"].values == ref["prepo/entropy_normaliser"].values
