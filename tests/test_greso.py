"""GRESO's pure core: the skip rule on hand-computed cases, adaptation toward the target, state, refusals."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY
from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.erpo.tracker import Outcome, classify
from erpo.errors import ConfigError, InputError
from erpo.greso import GRESOConfig, GRESOSelector
from erpo.greso.config import refuse_mean_score_with_erpo
from erpo.greso.skip import adapted, keep_probability, skipped
from erpo.sim.greso import SimGRESO
from erpo.sim.model import SimConfig, simulate
from recipe.conf import CONF_DIR

CHECKPOINT_BEFORE_COMPONENTS = Path(__file__).parent / "fixtures" / "checkpoint_before_components"

EASY, HARD, MIXED, UNSEEN = Outcome.ALL_CORRECT, Outcome.ALL_WRONG, Outcome.MIXED, Outcome.UNSEEN


def test_keep_probability_by_hand():
    streak = np.array([0, 1, 2, 3, 10, 2, 0, 4])
    kind = np.array([UNSEEN, EASY, EASY, EASY, EASY, HARD, MIXED, MIXED])
    keep = keep_probability(streak, kind, p_easy=0.5, p_hard=0.8, keep_floor=0.01)
    # 0.5**10 = 0.00098 is below the floor; a mixed last visit (streak 0) is always kept
    assert keep.tolist() == pytest.approx([1.0, 0.5, 0.25, 0.125, 0.01, 0.64, 1.0, 1.0])
    mask = skipped(np.array([0.5, 0.5, 1.0, 0.01]), np.array([0.4, 0.6, 0.0, 0.989]))
    assert mask.tolist() == [True, False, False, True]


def test_select_uses_one_draw_per_candidate_and_keeps_the_first_k():
    selector = GRESOSelector(GRESOConfig(enabled=True, p_easy=0.5, p_hard=0.5))
    streak, kind = np.array([2, 0, 1, 1, 0, 3]), np.array([EASY, UNSEEN, HARD, EASY, MIXED, HARD])
    u = np.random.default_rng(7).random(6)  # the draws select() makes with the same seed
    expected_skip = u < 1 - np.array([0.25, 1, 0.5, 0.5, 1, 0.125])
    sel = selector.select(streak, kind, 2, np.random.default_rng(7))
    assert sel.skipped.tolist() == np.flatnonzero(expected_skip).tolist()
    eligible = np.flatnonzero(~expected_skip)
    assert sel.kept.tolist() == eligible[:2].tolist() and sel.unused.tolist() == eligible[2:].tolist()
    assert sel.metrics["greso/candidates"] == 6 and sel.metrics["greso/skipped"] == expected_skip.sum()
    again = GRESOSelector(GRESOConfig(enabled=True)).select(streak, kind, 2, np.random.default_rng(7))
    assert again.kept.tolist() == sel.kept.tolist()  # seeded: reproducible


@settings(max_examples=50, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(list(Outcome))), max_size=40),
    k=st.integers(0, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_selection_partitions_the_candidates(pairs, k, seed):
    streak = np.array([p[0] for p in pairs], dtype=np.int64)
    kind = np.array([p[1] for p in pairs], dtype=np.int64)
    sel = GRESOSelector(GRESOConfig(enabled=True)).select(streak, kind, k, np.random.default_rng(seed))
    together = np.concatenate([sel.kept, sel.skipped, sel.unused])
    assert sorted(together.tolist()) == list(range(len(pairs)))
    assert len(sel.kept) <= k and np.all(np.diff(sel.kept) > 0)
    never_skipped = (streak == 0) | (kind == MIXED) | (kind == UNSEEN)
    assert not np.isin(np.flatnonzero(never_skipped), sel.skipped).any()
    if len(sel.unused):
        assert len(sel.kept) == k and sel.unused.min() > sel.kept.max(initial=-1)


def test_adapted_moves_one_step_toward_the_target_and_stays_in_range():
    assert adapted(0.5, share=0.2, target=0.1, step=0.01, p_min=0.05, p_max=0.95) == pytest.approx(0.49)
    assert adapted(0.5, share=0.1, target=0.1, step=0.01, p_min=0.05, p_max=0.95) == pytest.approx(0.49)  # >= target
    assert adapted(0.5, share=0.05, target=0.1, step=0.01, p_min=0.05, p_max=0.95) == pytest.approx(0.51)
    assert adapted(0.95, share=0.0, target=0.1, step=0.01, p_min=0.05, p_max=0.95) == 0.95
    assert adapted(0.05, share=1.0, target=0.1, step=0.01, p_min=0.05, p_max=0.95) == 0.05


def test_end_step_splits_the_target_and_waits_for_the_adaptation_epoch():
    selector = GRESOSelector(GRESOConfig(enabled=True, target_zero_variance=0.3))  # easy 0.1, hard 0.2
    assert (selector.cfg.easy_target, selector.cfg.hard_target) == pytest.approx((0.1, 0.2))
    outcome = np.array([EASY] * 15 + [HARD] * 15 + [MIXED] * 70)  # easy 0.15 >= 0.1, hard 0.15 < 0.2
    selector.observe(outcome)
    m = selector.end_step(epoch=0)  # GRESO adapts from the second epoch on (adapt_from_epoch=1)
    assert (m["greso/p_easy"], m["greso/p_hard"]) == (0.5, 0.5) and m["greso/zero_variance_share"] == pytest.approx(0.3)
    selector.observe(outcome)
    m = selector.end_step(epoch=1)
    assert m["greso/p_easy"] == pytest.approx(0.49) and m["greso/p_hard"] == pytest.approx(0.51)
    assert selector.end_step(epoch=2)["greso/p_easy"] == pytest.approx(0.49)  # no groups: no adaptation


def _beside(erpo_cfg: ERPOConfig, greso_cfg: GRESOConfig) -> tuple[ERPOController, SimGRESO]:
    """ERPO's controller and GRESO beside it, sharing only the tracker's published history (as the simulator)."""
    controller = ERPOController(erpo_cfg)
    return controller, SimGRESO(greso_cfg, {PROMPT_HISTORY: controller.history()})


def _stream(controller, selector, steps, batch, rng, solve, epoch_of_step):
    """A synthetic training stream: fixed solve probabilities, GRESO picks `batch` of 2 * batch candidates.
    GRESO here is the bare selector fed with the streaks of ``controller.history()`` (the documented use)."""
    shares, history = [], controller.history()
    for step in range(steps):
        candidates = rng.choice(len(solve), 2 * batch, replace=False)
        streak, kind = history.zero_variance_streaks(["s"] * len(candidates), candidates)
        sel = selector.select(streak, kind, batch, rng)
        prompts = candidates[sel.kept]
        correct = rng.binomial(8, solve[prompts])
        controller.update(
            step, ["s"] * len(prompts), prompts, [8] * len(prompts), correct, correct / 8, [1.0] * len(prompts)
        )
        selector.observe(classify(correct, [8] * len(prompts)))
        shares.append(selector.end_step(epoch_of_step(step))["greso/zero_variance_share"])
    return np.asarray(shares)


def test_adaptation_drives_the_zero_variance_share_toward_the_target():
    """50 % always-solved and 20 % never-solved prompts: 70 % zero-variance groups without skipping;
    GRESO skips prompts on streaks and adapts p_easy / p_hard, so the share falls to the 0.25 target."""
    rng = np.random.default_rng(0)
    solve = np.concatenate([np.ones(1000), np.zeros(400), np.full(600, 0.5)])
    controller, selector = ERPOController(ERPOConfig(enabled=False)), GRESOSelector(GRESOConfig(enabled=True))
    shares = _stream(controller, selector, 120, 100, rng, solve, lambda step: 0 if step < 10 else 1)
    assert shares[:10].mean() > 0.6  # first epoch: nothing seen yet, almost nothing skipped
    assert abs(shares[-20:].mean() - 0.25) < 0.08  # tracks the target (measured 0.24 with this seed)
    assert selector.p_easy < 0.5  # all-correct groups stayed above their part of the target longest


def test_adaptation_raises_the_probabilities_when_zero_variance_groups_are_rare():
    rng = np.random.default_rng(1)
    solve = np.full(2000, 0.5)  # n = 8 at p = 0.5: 0.8 % zero-variance groups, far below the target
    controller, selector = ERPOController(ERPOConfig(enabled=False)), GRESOSelector(GRESOConfig(enabled=True))
    _stream(controller, selector, 30, 100, rng, solve, lambda step: 1)
    assert selector.p_easy == pytest.approx(0.8) and selector.p_hard == pytest.approx(0.8)


def _visit(controller, greso, step, indices, n_correct, mean):
    """One rollout round as the simulator's world runs it: the tracker records, GRESO counts."""
    size = len(indices)
    controller.update(step, ["s"] * size, indices, [8] * size, n_correct, mean, [1.0] * size)
    greso.observe(n_correct, [8] * size, mean)


def test_greso_state_round_trips_in_a_state_of_its_own_beside_the_controllers():
    controller, greso = _beside(ERPOConfig(), GRESOConfig(enabled=True))
    _visit(controller, greso, 0, [0, 1, 2, 3], [8, 0, 8, 3], [1, 0, 1, 0.4])
    greso.select(["s"] * 4, [0, 1, 2, 3], 2, np.random.default_rng(0))
    greso.end_step(1)
    _visit(controller, greso, 1, [0, 1], [8, 0], [1, 0])  # pending counts, mid-step
    erpo_state = json.loads(json.dumps(controller.state_dict()))
    greso_state = json.loads(json.dumps(greso.state_dict()))
    assert erpo_state["greso"] is None and greso_state["p_easy"] == pytest.approx(0.49)
    restored, restored_greso = _beside(ERPOConfig(), GRESOConfig(enabled=True))
    restored.load_state_dict(erpo_state)
    restored_greso.load_state_dict(greso_state)
    assert restored.state_dict() == controller.state_dict() and restored_greso.state_dict() == greso.state_dict()
    # the restored GRESO reads the restored controller's tracker (the view follows a replaced tracker)
    a = greso.select(["s"] * 4, [0, 1, 2, 3], 4, np.random.default_rng(5))
    b = restored_greso.select(["s"] * 4, [0, 1, 2, 3], 4, np.random.default_rng(5))
    assert a.keep_probability.tolist() == b.keep_probability.tolist() == pytest.approx([0.49**2, 0.49**2, 0.49, 1])
    assert a.kept.tolist() == b.kept.tolist() and greso.end_step(1) == restored_greso.end_step(1)


def test_a_controller_state_with_an_old_greso_entry_still_loads_and_greso_reads_that_entry():
    """erpo_state.json written when GRESO lived inside the controller (tests/fixtures/checkpoint_before_components):
    the controller restores the tracker and leaves the entry to GRESO, whose selector restores it."""
    old = json.loads((CHECKPOINT_BEFORE_COMPONENTS / "global_step_2" / "erpo_state.json").read_text())
    assert old["greso"] is not None
    controller = ERPOController(ERPOConfig())
    controller.load_state_dict(old)
    assert controller.tracker.state_dict() == old["tracker"] and controller.state_dict()["greso"] is None
    assert set(controller.state_dict()) == set(old)  # erpo_state.json keeps its shape
    selector = GRESOSelector(GRESOConfig(enabled=True))
    selector.load_state_dict(old["greso"])
    assert selector.state_dict() == old["greso"]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda g: g.update(p_easy=1.5),
        lambda g: g.update(p_hard=None),
        lambda g: g.update(version=7),
        lambda g: g["counts"].pop("groups"),
        lambda g: g["counts"].update(candidates=-2),
    ],
)
def test_a_corrupt_greso_state_is_refused_and_changes_nothing(corrupt):
    controller, greso = _beside(ERPOConfig(), GRESOConfig(enabled=True))
    _visit(controller, greso, 0, [0], [8], [1.0])
    state = json.loads(json.dumps(greso.state_dict()))
    corrupt(state)
    before = json.dumps(greso.state_dict(), sort_keys=True)
    with pytest.raises(InputError):
        greso.load_state_dict(state)
    assert json.dumps(greso.state_dict(), sort_keys=True) == before


def test_bad_select_arguments_are_refused_by_name():
    controller, greso = _beside(ERPOConfig(), GRESOConfig(enabled=True))
    rng = np.random.default_rng(0)
    for call, name in [
        (lambda: greso.select(["s", "s"], [0], 1, rng), "indices"),
        (lambda: greso.select(["s"], [-4], 1, rng), "indices"),
        (lambda: greso.select(["s"], [0], -1, rng), "k"),
        (lambda: greso.select(["s"], [0], 1.5, rng), "k"),
        (lambda: greso.select(["s"], [0], 1, 42), "rng"),
        (lambda: greso.end_step(-1), "epoch"),
        (lambda: greso.selector.select([1, 2], [EASY], 1, rng), "kind"),
        (lambda: greso.selector.select([-1], [EASY], 1, rng), "streak"),
        (lambda: greso.selector.observe([0]), "outcome"),
        (lambda: greso.observe([9], [8], [1.0]), "n_correct"),
    ]:
        with pytest.raises(InputError, match=rf"^{name}\b"):
            call()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ERPOController(ERPOConfig(), greso=GRESOConfig(enabled=True)),
        lambda: ERPOController(ERPOConfig(), GRESOConfig(enabled=True)),
    ],
)
def test_the_controller_refuses_greso_and_names_the_replacement(make):
    with pytest.raises(TypeError, match=r"GRESOSelector.*controller\.history\(\)\.zero_variance_streaks"):
        make()


def test_greso_without_a_published_history_is_refused():
    with pytest.raises(ConfigError, match="prompt_history"):
        SimGRESO(GRESOConfig(enabled=True), {})


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"p_easy": 0.99}, "greso.p_easy"),
        ({"p_hard": 0.01}, "greso.p_hard"),
        ({"p_min": 0.6, "p_max": 0.4}, "greso.p_min"),
        ({"target_zero_variance": 1.5}, "greso.target_zero_variance"),
        ({"keep_floor": -0.1}, "greso.keep_floor"),
        ({"adapt_step": 2.0}, "greso.adapt_step"),
        ({"adapt_from_epoch": -1}, "greso.adapt_from_epoch"),
        ({"sampling_batch_multiplier": 0.5}, "greso.sampling_batch_multiplier"),
        ({"hard_target_weight": -1.0}, "greso.hard_target_weight"),
        ({"enabled": "yes"}, "greso.enabled"),
        ({"p_esay": 0.5}, "greso.p_esay"),
    ],
)
def test_invalid_greso_config_names_the_field(bad, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        GRESOConfig.from_dict(bad)


def test_rollout_batch_is_the_scripts_384_for_256():
    assert GRESOSelector(GRESOConfig(enabled=True)).rollout_batch(256) == 384


def test_the_greso_node_of_train_yaml_builds_and_equals_the_dataclass_defaults():

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    conf = CONF_DIR
    with initialize_config_dir(config_dir=conf, version_base=None):
        cfg = compose("train")
    assert GRESOConfig.from_dict(OmegaConf.to_container(cfg.greso, resolve=True)) == GRESOConfig()
    assert GRESOConfig().enabled is False  # safe off


GRESO_RULE = {"group_rule": "mean_score", "easy_mean_at_least": 0.98, "hard_mean_at_most": 0.11}


def test_mean_score_rule_follows_gresos_thresholds_not_acc():
    """GRESO's code judges a group by its mean score (1 / 0.1 / 0 reward): easy at >= 0.98, hard at <= 0.11.
    With G = 16, one correct answer among 15 unformatted ones has mean 1/16 = 0.0625: hard for GRESO, mixed
    by acc; 15 correct and one formatted-but-wrong has mean 0.944: mixed under both. Under mean_score GRESO
    publishes its rule and the caller passes its codes to the tracker, so both count the same outcomes."""
    n = np.array([16, 16, 16, 16])
    n_correct = np.array([16, 0, 1, 15])
    mean = np.array([1.0, 0.1, 1 / 16, (15 + 0.1) / 16])

    def record(greso_cfg):
        controller, greso = _beside(ERPOConfig(enabled=False), greso_cfg)
        rule = greso.publishes().get(OUTCOME_RULE)
        controller.update(
            step=1,
            sources=["s"] * 4,
            indices=[0, 1, 2, 3],
            n=n,
            n_correct=n_correct,
            mean_reward=mean,
            temperature_used=np.ones(4),
            outcome=None if rule is None else rule(mean),
        )
        greso.observe(n_correct, n, mean)
        kinds = controller.tracker.zero_variance_streaks(["s"] * 4, [0, 1, 2, 3])[1].tolist()
        return kinds, greso.end_step(1)["greso/zero_variance_share"]

    by_mean = record(GRESOConfig.from_dict({"enabled": True, **GRESO_RULE}))
    assert by_mean == ([Outcome.ALL_CORRECT, Outcome.ALL_WRONG, Outcome.ALL_WRONG, Outcome.MIXED], 0.75)
    by_acc = record(GRESOConfig(enabled=True))
    assert by_acc == ([Outcome.ALL_CORRECT, Outcome.ALL_WRONG, Outcome.MIXED, Outcome.MIXED], 0.5)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"group_rule": "mean_score"}, "greso.easy_mean_at_least"),
        ({"easy_mean_at_least": 0.98}, "greso.easy_mean_at_least"),  # read only under mean_score
        ({"group_rule": "mean", **{k: v for k, v in GRESO_RULE.items() if k != "group_rule"}}, "greso.group_rule"),
        ({**GRESO_RULE, "hard_mean_at_most": 0.99}, "greso.hard_mean_at_most"),
    ],
)
def test_mean_score_rule_settings_are_checked(fields, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        GRESOConfig.from_dict({"enabled": True, **fields})


def test_mean_score_rule_is_refused_with_erpo_temperatures_in_the_simulator_as_in_training():
    mean_score = GRESOConfig.from_dict({"enabled": True, **GRESO_RULE})
    with pytest.raises(ConfigError, match="greso.group_rule=mean_score with erpo.enabled=true") as core:
        refuse_mean_score_with_erpo(mean_score, erpo_enabled=True)
    refuse_mean_score_with_erpo(mean_score, erpo_enabled=False)  # GRESO's own rule without ERPO is fine
    refuse_mean_score_with_erpo(GRESOConfig(enabled=True), erpo_enabled=True)  # acc with ERPO is fine
    sim = SimConfig(num_prompts=200, steps=2, batch_size=16, greso=dict(GRESO_RULE))
    with pytest.raises(ConfigError) as simulated:
        simulate("erpo_greso", sim)
    assert str(simulated.value) == f"variant=erpo_greso: {core.value}"
    assert len(simulate("greso", sim)["skipped"]) == 2  # the same rule without ERPO's temperatures runs


def test_a_disabled_greso_config_and_end_step_keep_old_callers_working():
    """Callers from when GRESO lived in the controller passed a disabled GRESO config and closed each step with
    end_step: both still work and change nothing."""
    plain, old_style = ERPOController(ERPOConfig()), ERPOController(ERPOConfig(), greso=GRESOConfig(enabled=False))
    for controller in (plain, old_style):
        controller.update(0, ["s"] * 2, [0, 1], [4, 4], [4, 2], [1.0, 0.5], [1.0, 1.0])
        assert controller.end_step(0) == {}
    assert plain.state_dict() == old_style.state_dict()
