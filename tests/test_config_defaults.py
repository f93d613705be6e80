"""One default per field: the YAML a run composes (recipe/conf) and the config dataclasses agree.

A run takes its values from recipe/conf/train.yaml (and the temperature_schedule group); code that builds a
config from a partial dict (the simulator, tests, a checkpoint) takes the dataclass defaults. Where the two
disagreed, the same field name would mean two different runs.
"""

from dataclasses import asdict
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from erpo.erpo.config import ERPOConfig
from erpo.greso import GRESOConfig
from erpo.prepo.config import PREPOConfig
from recipe.conf import CONF_DIR

SECTIONS = {"erpo": ERPOConfig, "prepo": PREPOConfig, "greso": GRESOConfig}


def _leaves(node: dict, prefix: str) -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def _disagreements(yaml_node: dict, section: str) -> dict:
    defaults = _leaves(asdict(SECTIONS[section]()), section)
    written = _leaves(yaml_node, section)
    unknown = sorted(set(written) - set(defaults))
    assert not unknown, f"keys no config class has: {unknown}"
    return {key: (value, defaults[key]) for key, value in written.items() if value != defaults[key]}


@pytest.mark.parametrize(
    "section",
    [
        "erpo",
        "prepo",
        "greso",
    ],
)
def test_train_yaml_defaults_are_the_dataclass_defaults(section):
    train = OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "train.yaml"))
    assert _disagreements(train[section], section) == {}


def test_schedule_knobs_default_to_the_dataclass_defaults():
    """Each temperature_schedule file's knob (step, factor, ...) is the TemperatureConfig default; ``schedule``
    names the file and ``table`` has no default (the table schedule must list its temperatures)."""
    defaults = asdict(ERPOConfig().temperature)
    for path in sorted((Path(CONF_DIR) / "temperature_schedule").glob("*.yaml")):
        knobs = OmegaConf.to_container(OmegaConf.load(path))
        assert knobs.pop("schedule") == path.stem
        knobs.pop("table", None)
        wrong = {k: (v, defaults[k]) for k, v in knobs.items() if v != defaults[k]}
        assert wrong == {}, f"{path.name}: (yaml, dataclass) {wrong}"


@pytest.mark.parametrize("section", ["erpo", "greso"])
def test_simulator_restates_the_training_defaults(section):
    """recipe/conf/sim/sim.yaml lists the controller fields a user may override on the simulator's command line;
    their values are the training defaults, so a simulated run and a trained one start from the same settings."""
    sim = OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "sim" / "sim.yaml"))
    assert _disagreements(sim[section], section) == {}


def test_a_changed_default_is_caught():
    """The comparison sees a one-field change (the check can fail)."""
    train = OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "train.yaml"))
    train["erpo"]["temperature"]["t_max"] = 1.5
    assert _disagreements(train["erpo"], "erpo") == {"erpo.temperature.t_max": (1.5, 1.4)}
