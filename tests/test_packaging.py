"""The config tree ships with the package: a non-editable install composes and launches from any directory."""

import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from recipe.conf import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
# What a build reads: the packages, the packaging and the readme it names (not outputs/, results or .git).
SOURCES = ("erpo", "recipe", "pyproject.toml", "README.md")


def _source_copy(dest: Path) -> Path:
    """The project's sources in ``dest`` (a build writes build/ and *.egg-info beside them, not in the checkout)."""
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(src, dest / name)
    return dest


def _pip(*args: str, python: str = sys.executable, cwd: Path) -> None:
    done = subprocess.run([python, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_conf_is_found_inside_the_recipe_package():
    assert Path(CONF_DIR).is_absolute() and Path(CONF_DIR) == ROOT / "recipe" / "conf"
    assert (Path(CONF_DIR) / "train.yaml").is_file()


def test_hydra_lists_the_config_package_as_configs_only(tmp_path):
    """recipe/conf/ is a Python package: Hydra lists neither its __init__.py nor its __pycache__ (as an installed
    copy has it) as a config or a group, so the groups are the folders of yaml files."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf, ignore=shutil.ignore_patterns("__pycache__"))
    py_compile.compile(str(conf / "__init__.py"), doraise=True)
    assert (conf / "__pycache__").is_dir()
    folders = {p.name for p in conf.iterdir() if p.is_dir()} - {"__pycache__"}
    with initialize_config_dir(config_dir=str(conf), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        assert set(loader.get_group_options("", ObjectType.GROUP)) == folders
        assert "__init__" not in loader.get_group_options("", ObjectType.CONFIG)


def test_wheel_ships_every_config_file(tmp_path):
    src = _source_copy(tmp_path / "src")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("erpo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    yaml = {p.relative_to(ROOT).as_posix() for p in Path(CONF_DIR).rglob("*.yaml")}
    # recipe/conf/__init__.py says where the tree is (CONF_DIR); without it an installed copy cannot find it.
    expected = yaml | {"recipe/conf/__init__.py"}
    assert yaml and expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "erpo-train = recipe.driver.train:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_installed_entry_point_runs_the_smoke_run_outside_the_checkout(tmp_path):
    """``pip install .`` (not editable) into a fresh venv, then from a directory outside the repository
    ``erpo-train experiment=smoke --cfg job`` composes from the installed copy's conf and ``erpo-train
    experiment=smoke`` trains its 6 steps through verl (~100 s here)."""
    venv = tmp_path / "venv"
    # The system packages (verl, torch, hydra) are reused; --without-pip keeps the system's pip and setuptools.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    src = _source_copy(tmp_path / "src")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _pip("install", "--no-deps", "--no-build-isolation", "-q", str(src), python=python, cwd=elsewhere)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [python, "-c", "import recipe.conf as c; print(c.CONF_DIR)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where
    done = subprocess.run(
        [str(venv / "bin" / "erpo-train"), "experiment=smoke", "--cfg", "job"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # experiment=smoke composed: its variant and its 6 steps
    assert "\nvariant: erpo\n" in done.stdout and "total_training_steps: 6" in done.stdout, done.stdout[-3000:]

    # ... and runs: the smoke run trains through verl from the installed copy, writing outside the checkout.
    done = subprocess.run(
        [str(venv / "bin" / "erpo-train"), "experiment=smoke"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    last = elsewhere / "outputs" / "smoke" / "checkpoints" / "global_step_6"
    assert (last / "erpo_state.json").is_file() and (last / "rollouts_state.json").is_file(), sorted(
        str(p.relative_to(elsewhere)) for p in elsewhere.rglob("*")
    )[:50]
    assert (elsewhere / "outputs" / "logs" / "erpo" / "erpo-tiny-toy-s1.jsonl").is_file()
