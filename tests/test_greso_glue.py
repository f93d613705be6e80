"""GRESO's verl glue (recipe/greso/component.py) on a fake trainer: verl's data loader and batches, the real
ERPO component (its tracker is GRESO's history). Which prompts are rolled out, that the batch is filled, the
draw bound, and the once-per-step end_step; plus the refusals that keep GRESO out of combinations that do
not compose, and the component list each preset builds."""

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.components import ScoredGroup, StepContext, choose_batch, close_step, shared_pieces
from erpo.erpo.config import ERPOConfig
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.conf import CONF_DIR
from recipe.erpo.component import ERPOComponent
from recipe.greso.component import GRESOCannotFill, GRESOComponent, candidate_limit

SOURCE = "toy"


class FakeLoader:
    """verl's StatefulDataLoader as the glue sees it: len() batches of batch_size prompts per epoch."""

    def __init__(self, num_prompts: int, batch_size: int):
        self.num_prompts, self.batch_size = num_prompts, batch_size

    def __len__(self):
        return self.num_prompts // self.batch_size


class FakeVerl:
    """The part of verl's trainer the component calls: ``_next_train_batch`` in whole loader chunks, cycling over
    the data set in order."""

    def __init__(self, config):
        self.config = config
        self.global_steps = 1
        chunk = config.data.gen_batch_size or config.data.train_batch_size
        self.train_dataloader = FakeLoader(config.num_prompts, chunk)
        self.position = 0
        self.requests: list[int] = []

    def _next_train_batch(self, num_prompts=None):
        num_prompts = num_prompts or self.config.data.train_batch_size
        chunk = self.train_dataloader.batch_size
        assert num_prompts % chunk == 0, "verl fetches whole gen_batch_size chunks"
        self.requests.append(num_prompts)
        index = [(self.position + i) % self.config.num_prompts for i in range(num_prompts)]
        self.position += num_prompts
        batch = tu.get_tensordict(
            {
                "input_ids": torch.tensor(index, dtype=torch.long).unsqueeze(1),
                "data_source": np.array([SOURCE] * num_prompts, dtype=object),
                "index": np.array(index, dtype=object),
            }
        )
        tu.assign_non_tensor_data(batch, "global_steps", self.global_steps)
        return batch


class Trainer(FakeVerl):
    """The trainer's component calls (recipe/erpo/trainer.py) over GRESO then ERPO."""

    def __init__(self, config):
        super().__init__(config)
        self.greso = GRESOComponent.from_config(config)
        self.greso.bind(self)
        self.components = [self.greso, ERPOComponent(ERPOConfig())]
        self.shared = shared_pieces(self.components)

    def ctx(self) -> StepContext:
        return StepContext(step=self.global_steps, seed=self.config.seed, shared=self.shared)

    def next_batch(self, num_prompts=None):
        return choose_batch(self.components, super()._next_train_batch, num_prompts, self.ctx())

    def end_step(self, groups=()) -> dict:
        return close_step(self.components, list(groups), self.ctx())


def make(num_prompts=16, batch=4, gen_batch_size=None, dapo=False, **greso):
    config = OmegaConf.create(
        {
            "num_prompts": num_prompts,
            "seed": 3,
            "data": {"train_batch_size": batch, "gen_batch_size": gen_batch_size},
            "algorithm": {"filter_groups": {"enable": dapo}},
            "greso": {"enabled": True, **greso},
        }
    )
    return Trainer(config)


def indices(batch) -> list[int]:
    return [int(unwrap_non_tensor(i)) for i in batch["index"]]


def groups(prompts, n_correct, n=4) -> list[ScoredGroup]:
    """One scored group per prompt, ``n_correct`` of ``n`` correct."""
    return [
        ScoredGroup(
            SOURCE,
            int(p),
            1.0,
            tuple([1.0] * n_correct + [0.0] * (n - n_correct)),
            tuple([True] * n_correct + [False] * (n - n_correct)),
            True,
        )
        for p in prompts
    ]


def record(trainer, prompts, n_correct, n=4) -> dict:
    """One visit per prompt observed by every component and the step closed, as the trainer does after
    scoring; returns the step's metrics."""
    return trainer.end_step(groups(prompts, n_correct, n))


def test_unseen_prompts_are_all_kept_and_the_batch_is_exactly_the_train_batch():
    trainer = make()
    batch = trainer.next_batch()
    assert indices(batch) == [0, 1, 2, 3] and unwrap_non_tensor(batch["global_steps"]) == 1
    metrics = trainer.end_step()
    assert metrics["greso/candidates"] == 4 and metrics["greso/skipped"] == 0 and metrics["greso/kept"] == 4


def test_zero_variance_prompts_are_skipped_and_more_candidates_fill_the_batch():
    trainer = make(num_prompts=64, batch=8, gen_batch_size=1, p_hard=0.05, p_min=0.05)
    record(trainer, range(0, 32), n_correct=0)  # prompts 0..31: all wrong once (keep probability 0.05)
    for _ in range(3):  # three steps' batches
        batch = trainer.next_batch()
        got = indices(batch)
        assert len(got) == 8 and len(set(got)) == 8  # filled to the train batch, no prompt twice
        metrics = trainer.end_step()
        assert metrics["greso/kept"] == 8 and metrics["greso/candidates"] == 8 + metrics["greso/skipped"]
        assert metrics["greso/skipped_hard"] == metrics["greso/skipped"]
        trainer.global_steps += 1
    # 24 prompts kept from the loader's order: the all-wrong prompts mostly skipped, so the draws reach
    # far into the fresh prompts 32.. (each skip cost a candidate, not a rollout).
    skipped_total = trainer.greso.selector.counts["skipped_total"]
    assert skipped_total > 10 and trainer.position == 24 + skipped_total


def test_skipped_prompts_never_appear_and_draws_are_exactly_the_shortfall():
    trainer = make(num_prompts=40, batch=4, gen_batch_size=1, p_hard=0.5)
    record(trainer, range(40), n_correct=0)
    batch = trainer.next_batch()
    selection_draws = trainer.requests
    assert len(indices(batch)) == 4
    # every draw asks for exactly the prompts still missing (gen_batch_size=1: nothing is carried)
    assert selection_draws[0] == 4 and all(d <= 4 for d in selection_draws) and trainer.greso.carry == []
    assert trainer.position == sum(selection_draws)


def test_loader_chunks_larger_than_the_shortfall_carry_kept_prompts_to_the_next_request():
    trainer = make(num_prompts=64, batch=8, gen_batch_size=8, dapo=True)
    record(trainer, [2, 5], n_correct=4)  # two easy prompts; the rest unseen
    first = indices(trainer.next_batch())  # dynamic sampling: ceil(1.5 x 8) = 12 prompts
    assert len(first) == 12
    refill = indices(trainer.next_batch(3))  # a DAPO refill of 3
    assert len(refill) == 3
    drawn = set(range(trainer.position))
    skipped = (
        drawn - set(first) - set(refill) - {int(unwrap_non_tensor(i)) for c in trainer.greso.carry for i in c["index"]}
    )
    assert skipped <= {2, 5}  # only the easy prompts can be skipped; kept ones are never lost
    assert not set(first) & set(refill)


def test_first_round_is_the_larger_sampling_batch_only_with_dynamic_sampling():
    assert len(indices(make(batch=4).next_batch())) == 4
    assert len(indices(make(batch=4, dapo=True).next_batch())) == math.ceil(1.5 * 4)
    assert len(indices(make(batch=4, dapo=True, sampling_batch_multiplier=2.0).next_batch())) == 8


def test_seeded_decisions_repeat_for_the_same_step_and_state():
    runs = []
    for _ in range(2):
        trainer = make(num_prompts=32, batch=4)
        record(trainer, range(32), n_correct=0)
        trainer.global_steps = 7
        runs.append(indices(trainer.next_batch()))
    assert runs[0] == runs[1]


def test_a_batch_that_cannot_be_filled_names_the_fields_to_change():
    trainer = make(num_prompts=16, batch=2, gen_batch_size=1000, p_min=0.0, p_hard=0.0, keep_floor=0.0)
    record(trainer, range(16), n_correct=0)  # every prompt all wrong, keep probability 0
    with pytest.raises(GRESOCannotFill, match=r"greso\.keep_floor.*greso\.p_min"):
        trainer.next_batch()
    assert trainer.position == candidate_limit(2, 0.0)  # it stopped at the bound
    assert candidate_limit(256, 0.01) == 256000 and candidate_limit(1, 0.5) == 20


def test_end_step_once_per_step_adapts_from_the_second_data_epoch():
    trainer = make(num_prompts=8, batch=4, target_zero_variance=0.25, adapt_step=0.1)
    for step in (1, 2, 3):
        trainer.global_steps = step
        batch = trainer.next_batch()
        metrics = record(trainer, indices(batch), n_correct=0)  # every group all wrong: hard share 1 > target
        epoch = (trainer.greso.selector.counts["candidates_total"] - 1) // 8  # the latest candidate's data epoch
        assert trainer.greso.epoch() == epoch
        # epoch 0 (steps 1-2 draw 4 + 4 of 8 prompts): no adaptation; step 3 draws from epoch 1: one step down
        assert metrics["greso/p_hard"] == pytest.approx(0.5 if epoch < 1 else 0.4)
        assert metrics["greso/zero_variance_share"] == 1.0


# ---- refusals (recipe/erpo/refusals.py), before Ray -------------------------------------------------
@pytest.fixture
def compose():

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    conf = CONF_DIR

    def run(*overrides):
        with initialize_config_dir(config_dir=conf, version_base=None):
            return hydra_compose(config_name="train", overrides=list(overrides))

    return run


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["algorithm=greso", "prepo.enabled=true"], "prepo.enabled"),
        (["algorithm=erpo_prepo", "greso.enabled=true"], "greso.enabled"),
        (["algorithm=greso", "greso.p_min=0.6"], "greso.p_easy"),
        (["algorithm=greso", "greso.sampling_batch_multiplier=0.5"], "greso.sampling_batch_multiplier"),
        (["algorithm=greso", "+trainer.v1.sync.parameter_sync_step=2"], "parameter_sync_step"),
    ],
)
def test_bad_greso_combinations_are_refused_naming_the_field(compose, overrides, field):
    from recipe.erpo.refusals import ConfigRefused, refuse_bad_fields

    with pytest.raises(ConfigRefused, match=field.replace(".", r"\.")):
        refuse_bad_fields(compose(*overrides))


@pytest.mark.parametrize(
    "algorithm, names",
    [
        ("grpo", ["rollouts", "erpo"]),
        ("greso", ["rollouts", "greso", "erpo"]),
        ("erpo_greso", ["rollouts", "greso", "erpo"]),
        ("erpo_prepo", ["rollouts", "prepo", "erpo"]),
    ],
)
def test_presets_pass_the_refusals_and_build_their_components_in_order(compose, algorithm, names):
    """The registry builds each preset's components once, GRESO (or PREPO) choosing before ERPO tempers."""
    from erpo.components import build_components
    from recipe.erpo.refusals import refuse_bad_fields

    cfg = compose(f"algorithm={algorithm}")
    assert refuse_bad_fields(cfg).enabled == algorithm.startswith("erpo")
    assert [c.name for c in build_components(cfg)] == names
