"""Fault tests: malformed model outputs through the reward, bad tracker files, bad config."""

import json
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.errors import ConfigError, StateFileError
from erpo.rewards import math_reward
from recipe.common.components import load_component_states
from recipe.erpo.component import STATE_FILE, ERPOComponent

MALFORMED_KINDS = ("counted", "no_answer", "unparsable", "refused_symbolic", "timeouts", "errors")


def _malformed_outputs(count: int, seed: int = 0) -> list:
    """Empty, huge, unbalanced, deeply nested, towers, binary garbage, broken LaTeX, non-strings."""
    rng = np.random.default_rng(seed)
    makers = [
        lambda i: "",
        lambda i: None,
        lambda i: i,  # an int where text is expected
        lambda i: b"\x00\xff" * 10,
        lambda i: "x" * (1 << 20),  # 1 MB, no answer
        lambda i: "\\boxed{" * 10_000,  # never closed
        lambda i: "\\boxed{" + "{" * 10_000 + "}" * 10_000 + "}",  # 10k-deep braces, empty content
        lambda i: "\\boxed{" + "9^" * int(rng.integers(3, 50)) + "9}",  # exponent tower
        lambda i: "\\boxed{" + "".join(map(chr, rng.integers(0x80, 0x2FFF, 50))) + "}",  # unicode junk
        lambda i: "\\boxed{\\frac{\\frac{\\frac{}{}}{}}{}}",
        lambda i: "\\boxed{\\begin{matrix}" + "&" * 500 + "\\end{matrix}}",
        lambda i: "\\boxed{" + "\\sqrt{" * 200 + "}" * 200 + "}",
        lambda i: bytes(rng.integers(0, 256, 64, dtype=np.uint8)).decode("latin-1"),
        lambda i: "\\boxed{}" + "\ud800",  # lone surrogate
        lambda i: "The answer is \\boxed{\\left(\\right.}",
        lambda i: "\\boxed{" + "(" * 3000 + "}",
    ]
    outputs = [makers[i % len(makers)](i) for i in range(count)]
    assert not any(isinstance(o, str) and "\\boxed{42}" in o for o in outputs)
    return outputs


def test_thousand_malformed_outputs_score_zero_are_counted_and_stay_in_bound(monkeypatch):
    math_reward.warm_up()  # comparison workers started before timing (a start takes 1-2 s)
    monkeypatch.setattr(math_reward, "TIMEOUT_S", 1.0)
    monkeypatch.setattr(math_reward, "WAIT_S", 0.5)
    bound = math_reward.TIMEOUT_S + math_reward.WAIT_S  # a call's bound (docs/reward.md)
    before = math_reward.reward_stats()
    outputs = _malformed_outputs(1000)
    walls, results = [], []
    for out in outputs:
        start = time.perf_counter()
        results.append(math_reward.compute_score("math500", out, "42"))  # must not raise
        walls.append(time.perf_counter() - start)
    after = math_reward.reward_stats()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    assert all(r["score"] == 0.0 and r["acc"] is False for r in results)
    # every call is counted: no answer, an exception, or an extracted answer that was wrong
    # (unparsable, refused exponent tower, timed out, or a readable wrong value)
    assert delta["calls"] == 1000
    assert delta.get("no_answer", 0) + delta.get("errors", 0) + delta.get("wrong", 0) == 1000, delta
    assert delta.get("correct", 0) == 0
    assert delta.get("refused_symbolic", 0) > 0 and delta.get("no_answer", 0) > 0  # the buckets are exercised
    # symbolic comparisons run in killable workers; extraction of a 1 MB string is bounded by MAX_CHARS
    assert max(walls) < bound + 0.5, f"slowest call {max(walls):.2f}s"


def test_corrupt_or_missing_tracker_file_is_an_error_unless_fresh_start_is_asked(tmp_path, caplog):
    trainer_cfg = OmegaConf.create({"default_local_dir": str(tmp_path), "resume_mode": "auto"})
    folder = tmp_path / "global_step_2"

    def load(allow_fresh: bool) -> ERPOComponent:
        component = ERPOComponent(ERPOConfig(allow_fresh_tracker=allow_fresh))
        load_component_states([component], trainer_cfg, 2)
        return component

    with pytest.raises(StateFileError, match=r"global_step_2/erpo_state\.json.*erpo\.allow_fresh_tracker"):
        load(allow_fresh=False)  # missing
    folder.mkdir()
    for corrupt in ('{"format": "erpo-controller", "trunc', "[1, 2]"):
        (folder / STATE_FILE).write_text(corrupt)
        with pytest.raises(StateFileError, match="missing or unreadable"):
            load(allow_fresh=False)
    with caplog.at_level("WARNING"):
        assert len(load(allow_fresh=True).controller.tracker) == 0
    assert "Starting a fresh ERPO tracker state" in caplog.text  # a fresh start is logged, never silent


def test_tracker_state_of_another_shape_is_refused(tmp_path):
    controller = ERPOController(ERPOConfig.from_dict({"history_length": 4}))
    controller.update(1, ["s"], np.array([3]), np.array([4]), np.array([4]), np.array([1.0]), np.array([1.0]))
    state = json.loads(json.dumps(controller.state_dict()))
    other = ERPOController(ERPOConfig.from_dict({"history_length": 8}))
    with pytest.raises(ValueError, match="window"):
        other.load_state_dict(state)


BAD_FIELDS = [
    ({"history_length": 0}, "erpo.history_length"),
    ({"history_length": 2.5}, "erpo.history_length"),
    ({"enabled": "yes"}, "erpo.enabled"),
    ({"temperature": {"all_wrong": False}}, "erpo.temperature.all_wrong"),
    ({"temperature": {"t_max": float("nan")}}, "erpo.temperature.t_max"),
    ({"ra": {"pseudo_reward": "low"}}, "erpo.ra.pseudo_reward"),
    ({"ra": {"pseudo_reward": 0.0}}, "erpo.ra.pseudo_reward"),  # set while RA is off: a knob that does nothing
    ({"ra": {"enabled": True, "pseudo_reward": 1.0}}, "erpo.ra.pseudo_reward"),
    ({"ra": {"enabled": True, "form": "bonus"}}, "erpo.ra.form"),
    ({"ra": {"enabled": True, "form": "fixed_advantage"}}, "erpo.ra.advantage"),
    (
        {"ra": {"enabled": True, "form": "fixed_advantage", "advantage": 0.1, "pseudo_reward": 0.0}},
        "erpo.ra.pseudo_reward",
    ),
    ({"ra": {"enabled": True, "advantage": 0.1}}, "erpo.ra.advantage"),
    ({"temperature": 1.0}, "erpo.temperature"),
    ({"correct_threshold": 0.0}, "erpo.correct_threshold"),
    ({"correct_threshold": 1.5}, "erpo.correct_threshold"),
    ({"temperature": {"base": 0.0}}, "erpo.temperature.base"),
    ({"temperature": {"base": -1.0}}, "erpo.temperature.base"),
    ({"temperature": {"t_max": 0.5}}, "erpo.temperature.t_max"),
    ({"temperature": {"schedule": "cosine"}}, "erpo.temperature.schedule"),
    ({"temperature": {"step": -0.1}}, "erpo.temperature.step"),
    ({"temperature": {"on_mixed": "forget"}}, "erpo.temperature.on_mixed"),
    ({"temperature": {"decay": 1.5}}, "erpo.temperature.decay"),
    ({"temperature": {"all_wrong": "boost"}}, "erpo.temperature.all_wrong"),
    ({"temperature": {"t_min": 0.0}}, "erpo.temperature.t_min"),
    ({"temperature": {"schedule": "constant", "high": 9.0}}, "erpo.temperature.high"),
    ({"windw": 8}, "erpo.windw"),
    ({"ra": {"pseudo_rewrd": 0.1}}, "erpo.ra.pseudo_rewrd"),
]


@pytest.mark.parametrize(("values", "field"), BAD_FIELDS, ids=[f for _, f in BAD_FIELDS])
def test_every_invalid_field_is_refused_naming_it(values, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        ERPOConfig.from_dict(values)
