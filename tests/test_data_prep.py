"""Data preparation on the shared files: row counts, schema, unique indices, normalised answers."""

import pandas as pd
import pytest

from erpo.data import EVAL_SETS, SOURCES, DataError, normalise_answer, prepare, to_verl_rows
from erpo.data.prepare import default_local_dir
from recipe.erpo.refusals import check_rl_parquet

EXPECTED_ROWS = {"gsm8k_train": 7473, "gsm8k_test": 1319, "math500": 500, "aime24": 30, "aime25": 30,
                 "amc23": 83, "minerva": 272, "olympiadbench": 675}


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_prepare_shared_file(name, tmp_path):
    path = prepare(name, str(tmp_path / f"{name}.parquet"))
    df = pd.read_parquet(path)
    assert len(df) == EXPECTED_ROWS[name]
    assert set(df.columns) >= {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert df.extra_info.map(lambda e: e["index"]).is_unique
    assert all(df.reward_model.map(lambda r: r["ground_truth"] != ""))
    assert df.prompt.iloc[0][0]["role"] == "user" and "\\boxed{}" in df.prompt.iloc[0][0]["content"]
    check_rl_parquet(path, "data.train_files")  # the recipe accepts it


def test_ground_truths_are_normalised():
    assert normalise_answer("so 3 + 4 = 7\n#### 1,000", "gsm8k") == "1000"
    assert normalise_answer("142.0", "plain") == "142"
    assert normalise_answer(["1", "2"], "plain") == "1, 2"
    assert normalise_answer("... so \\boxed{\\frac{1}{2}}.", "boxed") == "\\frac{1}{2}"
    assert normalise_answer({"ground_truth": "34"}, "dapo") == "34"
    rows = to_verl_rows("amc23", [{"problem": "p", "answer": "144.0"}])
    assert rows[0]["reward_model"]["ground_truth"] == "144"


def test_plain_template_and_limit(tmp_path):
    df = pd.read_parquet(prepare("math500", str(tmp_path / "m.parquet"), template="plain", limit=5))
    assert len(df) == 5 and "boxed" not in df.prompt.iloc[0][0]["content"]


def test_rows_without_problem_or_answer_are_refused():
    with pytest.raises(DataError, match="math500 row 1 .* has no answer"):
        to_verl_rows("math500", [{"problem": "a", "answer": "1"}, {"problem": "b", "answer": None}])
    with pytest.raises(DataError, match="row 0 .* has no problem"):
        to_verl_rows("math500", [{"problem": "  ", "answer": "1"}])
    with pytest.raises(DataError, match="no answer"):
        to_verl_rows("gsm8k_test", [{"question": "q", "answer": "no hashes"}])


def test_hub_path_maps_fields(monkeypatch, tmp_path):
    """The hub branch (datasets.load_dataset) with the local copy standing in for the hub."""
    import datasets

    local = f"{default_local_dir()}/{SOURCES['aime24'].local_file}"
    calls, real_load = [], datasets.load_dataset

    def fake_load(hub_id, config, split):
        calls.append((hub_id, config, split))
        return real_load("json", data_files=local, split="train")

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    df = pd.read_parquet(prepare("aime24", str(tmp_path / "a.parquet"), source="hub"))
    assert calls == [("HuggingFaceH4/aime_2024", None, "train")] and len(df) == 30


def test_every_eval_set_has_a_source():
    assert set(EVAL_SETS) <= set(SOURCES)
