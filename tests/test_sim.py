"""Simulator: reproducible, uses the real controller, orders variants as the mechanism implies."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from erpo.sim import SimConfig, run_variants, simulate

SMALL = dict(num_prompts=2000, steps=40, batch_size=128, n=8, init_logit_mean=2.5, seed=3)


def test_reproducible_with_a_seed():
    assert simulate("erpo", SimConfig(**SMALL)) == simulate("erpo", SimConfig(**SMALL))
    assert simulate("erpo", SimConfig(**SMALL)) != simulate("erpo", SimConfig(**{**SMALL, "seed": 4}))


def test_erpo_keeps_more_prompts_informative_when_all_correct_dominates():
    res = run_variants(SimConfig(**SMALL), ["grpo", "erpo", "dapo"])["variants"]
    grpo, erpo, dapo = (res[v]["summary"] for v in ("grpo", "erpo", "dapo"))
    assert grpo["final_frac_all_correct"] > 0.5  # the setting really is residual-dominated
    assert erpo["effective_prompts_per_step"] > grpo["effective_prompts_per_step"]
    assert erpo["total_rollouts"] == grpo["total_rollouts"]  # no extra rollouts
    assert erpo["mean_temperature"] > 1.0 == grpo["mean_temperature"]
    assert dapo["total_rollouts"] > grpo["total_rollouts"]  # dynamic sampling pays for redraws


def test_unknown_variant_and_bad_erpo_field():
    with pytest.raises(ValueError, match="variant"):
        simulate("ppo", SimConfig(**SMALL))
    with pytest.raises(ValueError, match="erpo.temperature.t_max"):
        simulate("erpo", SimConfig(**{**SMALL, "erpo": {"temperature": {"t_max": 0.1}}}))


def test_hydra_config_composes_into_simconfig():
    conf = str(Path(__file__).resolve().parents[1] / "conf" / "sim")
    with initialize_config_dir(config_dir=conf, version_base=None):
        cfg = compose("sim", overrides=["steps=3", "num_prompts=300", "batch_size=32", "erpo.temperature.schedule=table",
                                        "+erpo.temperature.table=[1.1,1.3]"])
    raw = OmegaConf.to_container(cfg)
    raw.pop("variants"), raw.pop("out_dir")
    out = run_variants(SimConfig(**raw), ["erpo"])
    assert len(out["variants"]["erpo"]["series"]["effective_prompts"]) == 3
