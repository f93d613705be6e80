"""recipe/conf/train.yaml's comments list every member of each config group, so reading it shows every choice."""

import re
from pathlib import Path

import pytest

from recipe.conf import CONF_DIR

TRAIN = Path(CONF_DIR) / "train.yaml"
# Defaults entries of train.yaml that choose a group of recipe/conf/: `- group: option` or `- override group@pkg: x`.
ENTRY = re.compile(r"^\s*- (?:override )?(?P<group>[\w/]+)(?:@[\w.]+)?: \S+")


def _subfolders(folder: Path) -> list[Path]:
    """The folders Hydra lists as groups: recipe/conf/ is a Python package, and Hydra skips its __pycache__."""
    return [p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"]


def _members(group: str) -> set[str]:
    """The options of a group: file stems, and `<folder>/<` for a folder of rows (experiment=cpu_study/<variant>)."""
    folder = Path(CONF_DIR) / group
    files = {p.stem for p in folder.glob("*.yaml") if not p.name.startswith("_")}
    return files | {f"{p.name}/<" for p in _subfolders(folder)}


def _comment_above_each_entry() -> dict[str, str]:
    out, comment = {}, []
    for line in TRAIN.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped)
            continue
        match = ENTRY.match(line)
        if match and match.group("group") != "ppo_trainer":
            out[match.group("group")] = " ".join(comment)
        comment = []
    return out


def _listed(member: str, comment: str) -> bool:
    if member.endswith("/<"):  # a folder of rows: `cpu_study/<variant>`
        return re.search(rf"(?<![\w.-]){re.escape(member)}\w+>", comment) is not None
    return re.search(rf"(?<![\w.-]){re.escape(member)}(?![\w.-])", comment) is not None


def test_every_group_of_the_defaults_list_has_a_comment():
    comments = _comment_above_each_entry()
    groups = {p.name for p in _subfolders(Path(CONF_DIR))} - {"hydra", "eval", "probe", "sim"}
    assert set(comments) == groups


@pytest.mark.parametrize("group", sorted(_comment_above_each_entry()))
def test_the_comment_lists_every_member(group):
    comment = _comment_above_each_entry()[group]
    missing = sorted(m for m in _members(group) if not _listed(m, comment))
    assert not missing, f"train.yaml's comment above `{group}` does not list {missing}"


def test_the_launcher_group_is_listed():
    text = TRAIN.read_text()
    for member in _members("hydra/launcher"):
        assert f"hydra/launcher={member}" in text


def test_a_missing_member_is_caught():
    assert not _listed("qwen3-4b", "qwen3-4b-base | tiny")
    assert _listed("qwen3-4b", "qwen3-4b | qwen3-4b-base")
    assert _listed("cpu_study/<", "smoke | cpu_study/<variant>") and not _listed("cpu_study/<", "cpu_study")
