"""Simulator: reproducible, uses the real controller, orders variants as the mechanism implies."""

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY
from erpo.erpo.controller import TrackerHistory
from erpo.erpo.tracker import Outcome
from erpo.sim import SimConfig, run_variants, simulate
from erpo.sim.model import compose as compose_variant
from erpo.sim.world import World
from recipe.conf import CONF_DIR

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
    conf = str(Path(CONF_DIR) / "sim")
    with initialize_config_dir(config_dir=conf, version_base=None):
        cfg = compose(
            "sim",
            overrides=[
                "steps=3",
                "num_prompts=300",
                "batch_size=32",
                "erpo.temperature.schedule=table",
                "+erpo.temperature.table=[1.1,1.3]",
                "greso.target_zero_variance=0.1",
            ],
        )
    raw = OmegaConf.to_container(cfg)
    variants = raw.pop("variants")
    raw.pop("out_dir")
    assert raw.pop("method_modules") == []
    assert variants == ["grpo", "dapo", "erpo", "erpo_dapo", "prepo", "greso", "erpo_greso"]
    out = run_variants(SimConfig(**raw), ["erpo", "erpo_greso"])
    assert len(out["variants"]["erpo"]["series"]["effective_prompts"]) == 3
    assert out["config"]["greso"]["target_zero_variance"] == 0.1


def test_greso_and_prepo_variants_are_reproducible_and_account_for_what_they_draw():
    cfg = SimConfig(**SMALL)
    assert simulate("greso", cfg) == simulate("greso", cfg) and simulate("prepo", cfg) == simulate("prepo", cfg)
    prepo = simulate("prepo", cfg)
    assert set(prepo["candidates"]) == {5.0 * 128} and set(prepo["rollouts"]) == {128.0 * 8}  # scoring is free
    greso = simulate("greso", cfg)
    assert all(c >= r / 8 for c, r in zip(greso["candidates"], greso["rollouts"], strict=True))  # skipped: no rollout
    assert max(greso["effective_prompts"]) <= 128  # surplus mixed groups are not trained on


def test_greso_skips_residual_prompts_and_spends_fewer_rollouts_per_effective_prompt_than_dapo():
    res = run_variants(SimConfig(**SMALL), ["dapo", "greso", "erpo_greso"])["variants"]
    dapo, greso, both = (res[v]["summary"] for v in ("dapo", "greso", "erpo_greso"))
    assert greso["skipped_share_of_candidates"] > 0.3
    assert greso["rollouts_per_effective_prompt"] < dapo["rollouts_per_effective_prompt"]
    assert both["mean_temperature"] > 1.0 == greso["mean_temperature"] and both["skipped_share_of_candidates"] > 0


def test_a_lower_greso_target_skips_more():
    """In a pool with both easy and hard prompts (mean logit 0). In the default easy pool every target
    <= 1 is below the all-correct share x 3, so p_easy falls to p_min whatever the target."""

    def skipped(target):
        cfg = SimConfig(**{**SMALL, "init_logit_mean": 0.0, "greso": {"target_zero_variance": target}})
        return run_variants(cfg, ["greso"])["variants"]["greso"]["summary"]["skipped_share_of_candidates"]

    assert skipped(0.05) > skipped(0.8)


def test_a_rollout_budget_stops_every_variant_at_one_budget():
    budget = 20 * 128 * 8
    out = run_variants(SimConfig(**{**SMALL, "rollout_budget": budget}), ["grpo", "dapo", "greso"])["variants"]
    for name, v in out.items():
        rollouts = v["series"]["rollouts"]
        assert sum(rollouts[:-1]) < budget <= sum(rollouts), name
    assert out["grpo"]["summary"]["steps"] == 20 and out["dapo"]["summary"]["steps"] < 20


def test_greso_sits_beside_the_controller_and_shares_only_what_is_published():
    """GRESO reads the tracker through the published history view; under a mean-score rule it publishes the
    rule, and the tracker records the same outcomes GRESO counts (thresholds 0.8 / 0.2 make a 7/8 or a 1/8
    group zero-variance, which acc calls mixed)."""
    rule = {"group_rule": "mean_score", "easy_mean_at_least": 0.8, "hard_mean_at_most": 0.2}
    cfg = SimConfig(**{**SMALL, "greso": rule})
    controller, greso, shared = compose_variant("greso", cfg)
    assert set(shared) == {PROMPT_HISTORY, OUTCOME_RULE} and greso.history is shared[PROMPT_HISTORY]
    assert isinstance(greso.history, TrackerHistory) and not hasattr(controller, "greso")
    gathered = World(cfg, controller, greso).shared  # the same pieces when the world gathers them itself
    assert set(gathered) == set(shared) and gathered[OUTCOME_RULE] == shared[OUTCOME_RULE]
    world = World(cfg, controller, greso, shared)
    prompts = np.arange(cfg.batch_size)
    mixed_by_acc, _ = world.rollout(0, prompts)
    kind = controller.history().zero_variance_streaks(["sim"] * len(prompts), prompts)[1]
    assert (
        int(np.sum(kind != Outcome.MIXED))
        == greso.selector.counts["easy_groups"] + greso.selector.counts["hard_groups"]
    )
    assert int(np.sum(kind != Outcome.MIXED)) > int(np.sum(~mixed_by_acc))  # the rule, not acc, decided
    plain_controller, plain_greso, plain_shared = compose_variant("erpo_greso", SimConfig(**SMALL))
    assert set(plain_shared) == {PROMPT_HISTORY} and plain_controller.cfg.enabled
    assert compose_variant("erpo", SimConfig(**SMALL))[1] is None


def test_the_simulator_command_runs_a_schedule_registered_in_a_users_module(tmp_path):
    """``method_modules`` is read by ``python -m erpo.sim`` as by training: a user's schedule is selectable."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "my_sim_schedule.py").write_text(
        "import numpy as np\n"
        "from erpo.erpo.temperature import register_schedule\n"
        "@register_schedule('to_cap_sim')\n"
        "def _to_cap(current, streak, cfg):\n"
        "    return np.full_like(current, cfg.t_max)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    out = tmp_path / "out"
    args = ["method_modules=[my_sim_schedule]", "erpo.temperature.schedule=to_cap_sim", "variants=[erpo]"]
    args += ["steps=3", "num_prompts=200", "batch_size=32", f"out_dir={out}", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run([sys.executable, "-m", "erpo.sim", *args], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "sim.json").read_text())
    assert result["config"]["erpo"]["temperature"]["schedule"] == "to_cap_sim"
