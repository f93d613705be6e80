"""Data preparation on the shared files: row counts, schema, dense indices, normalised answers,
duplicate problems dropped, prompt wrappers stripped, local files in the hub's row format."""

import json

import pandas as pd
import pytest
from hub_format import dapo_hub_rows, shared_rows, write_jsonl

from erpo.data import (
    EVAL_SETS,
    SOURCES,
    DataError,
    build_rows,
    load_rows,
    normalise_answer,
    prepare,
    problem_key,
    strip_prompt_wrappers,
    to_verl_rows,
)
from erpo.data.__main__ import main as data_main
from erpo.data.prepare import default_local_dir
from erpo.data.sources import DAPO_HEAD, DAPO_TAIL, TEMPLATES
from recipe.erpo.refusals import check_rl_parquet

EXPECTED_ROWS = {
    "gsm8k_train": 7473,
    "gsm8k_test": 1319,
    "math500": 500,
    "aime24": 30,
    "aime25": 30,
    "amc23": 83,
    "minerva": 272,
    "olympiadbench": 675,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_prepare_shared_file(name, tmp_path):
    path = prepare(name, str(tmp_path / f"{name}.parquet"))
    df = pd.read_parquet(path)
    assert len(df) == EXPECTED_ROWS[name]
    assert set(df.columns) >= {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert list(df.extra_info.map(lambda e: e["index"])) == list(range(len(df)))  # dense
    assert all(df.extra_info.map(lambda e: e["answer_format"] == "boxed"))
    assert all(df.apply(lambda r: r.extra_info["answers"][0] == r.reward_model["ground_truth"], axis=1))
    assert all(df.reward_model.map(lambda r: r["ground_truth"] != ""))
    assert df.prompt.iloc[0][0]["role"] == "user" and "\\boxed{}" in df.prompt.iloc[0][0]["content"]
    check_rl_parquet(path, "data.train_files")  # the recipe accepts it


def test_ground_truths_are_normalised():
    assert normalise_answer("so 3 + 4 = 7\n#### 1,000", "gsm8k") == "1000"
    assert normalise_answer("142.0", "plain") == "142"
    with pytest.raises(DataError, match="alternative"):
        normalise_answer(["1", "2"], "plain")  # a list is alternatives, never joined into one answer
    assert normalise_answer("... so \\boxed{\\frac{1}{2}}.", "boxed") == "\\frac{1}{2}"
    assert normalise_answer({"ground_truth": "34"}, "dapo") == "34"
    rows = to_verl_rows("amc23", [{"problem": "p", "answer": "144.0"}])
    assert rows[0]["reward_model"]["ground_truth"] == "144"


def test_plain_template_and_limit(tmp_path):
    df = pd.read_parquet(prepare("math500", str(tmp_path / "m.parquet"), template="plain", limit=5))
    assert len(df) == 5 and "boxed" not in df.prompt.iloc[0][0]["content"]
    assert df.extra_info.iloc[0]["answer_format"] == "any"


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


def test_minerva_alternatives_are_kept_as_a_list(tmp_path):
    df = pd.read_parquet(prepare("minerva", str(tmp_path / "m.parquet")))
    raw = shared_rows("minerva")
    multi = [i for i, r in enumerate(raw) if len(set(r["answers"])) > 1]
    assert multi  # Minerva lists accepted alternatives
    for i in multi:
        answers = list(df.extra_info.iloc[i]["answers"])
        assert answers == list(dict.fromkeys(raw[i]["answers"])) and ", " not in df.reward_model.iloc[i]["ground_truth"]


def test_duplicates_are_dropped_for_every_dataset():
    for name in sorted(SOURCES):
        spec = SOURCES[name]
        if name == "dapo_math_17k":
            raw = dapo_hub_rows(
                [{"problem": "What is 1+1?", "answer": "2"}, {"problem": "What is 2+2?", "answer": "4"}]
            )
        elif spec.answer_kind == "gsm8k":
            raw = [
                {spec.question_field: "What is 1+1?", spec.answer_field: "so\n#### 2"},
                {spec.question_field: "What is 2+2?", spec.answer_field: "so\n#### 4"},
            ]
        elif spec.answer_kind == "boxed":
            raw = [
                {spec.question_field: "What is 1+1?", spec.answer_field: "\\boxed{2}"},
                {spec.question_field: "What is 2+2?", spec.answer_field: "\\boxed{4}"},
            ]
        else:
            raw = [
                {spec.question_field: "What is 1+1?", spec.answer_field: "2"},
                {spec.question_field: "What is 2+2?", spec.answer_field: "4"},
            ]
        noisy = [dict(r) for r in raw] * 3
        if spec.question_field in noisy[2] and isinstance(noisy[2][spec.question_field], str):
            noisy[2][spec.question_field] = "  What is   1+1? "  # whitespace differences are the same problem
        rows, report = build_rows(name, noisy)
        assert (report.read, report.kept, report.dropped) == (6, 2, 4), (name, report)
        assert [r["extra_info"]["index"] for r in rows] == [0, 1]


def test_same_text_with_another_answer_is_kept_and_reported():
    rows, report = build_rows(
        "math500", [{"problem": "p", "answer": "1"}, {"problem": "p", "answer": "2"}, {"problem": "p", "answer": "1.0"}]
    )
    assert (report.kept, report.dropped, report.conflicting) == (2, 1, 1)
    assert "different answers" in report.summary()


def test_problem_key_normalises_text_wrappers_and_answers():
    q = "Find $x$ if $x + 1 = 2$."
    key = problem_key(q, "1")
    for template in TEMPLATES.values():
        assert problem_key(template.format(question=q), "1") == key  # a templated prompt has the same key
    assert problem_key(f"{DAPO_HEAD}\n\n{q}\n\n{DAPO_TAIL}", "1.0") == key
    assert problem_key("Find $x$  if\n$x + 1 = 2$.", ["1"]) == key
    assert problem_key(q, "2") != key and problem_key(q + " Then double it.", "1") != key
    assert problem_key(q, "1, 2") == problem_key(q, "2,1")


def test_dapo_wrapper_is_stripped_before_the_template():
    problem = "How many primes are below 10?"
    wrapped = f"{DAPO_HEAD}\n\n{problem}\n\n{DAPO_TAIL}"
    assert strip_prompt_wrappers(wrapped) == problem
    assert strip_prompt_wrappers(wrapped.replace("\n\n", "\n")) == problem  # DAPO's repository spacing
    rows = to_verl_rows("dapo_math_17k", dapo_hub_rows([{"problem": problem, "answer": "4"}]))
    assert rows[0]["prompt"][0]["content"] == TEMPLATES["qwen_math_cot"].format(question=problem)
    assert rows[0]["extra_info"]["question"] == problem


def test_local_file_in_the_hub_row_format_goes_through_the_hub_path(tmp_path, monkeypatch, capsys):
    """--local-file with DAPO-Math-17k's own rows (duplicates included) == --source hub on the same rows."""
    import datasets

    problems = shared_rows("aime24")[:10] + shared_rows("amc23")[:10]
    hub_rows = dapo_hub_rows(problems, copies=5)
    local = write_jsonl(hub_rows, tmp_path / "dapo_hub_format.jsonl")
    assert (
        data_main(
            [
                "--dataset",
                "dapo_math_17k",
                "--local-file",
                local,
                "--out",
                str(tmp_path / "local.parquet"),
                "--template",
                "dapo",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "read 100 rows, kept 20, dropped 80" in printed

    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: datasets.Dataset.from_list(hub_rows))
    prepare("dapo_math_17k", str(tmp_path / "hub.parquet"), source="hub", template="dapo")
    local_df, hub_df = pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "hub.parquet")
    assert len(local_df) == 20 and local_df.drop(columns=["extra_info"]).equals(hub_df.drop(columns=["extra_info"]))
    assert [e["index"] for e in local_df.extra_info] == list(range(20))
    assert [e["id"] for e in local_df.extra_info] == [r["extra_info"]["index"] for r in hub_rows[:20]]
    assert local_df.prompt.iloc[0][0]["content"] == hub_rows[0]["prompt"][0]["content"]
    check_rl_parquet(str(tmp_path / "local.parquet"), "data.train_files")


def test_local_parquet_file(tmp_path):
    hub_rows = dapo_hub_rows([{"problem": "What is 3+4?", "answer": "7"}], copies=3)
    path = tmp_path / "dapo.parquet"
    pd.DataFrame(hub_rows).to_parquet(path)
    rows, report = build_rows("dapo_math_17k", load_rows("dapo_math_17k", local_file=str(path)))
    assert (report.read, report.kept) == (3, 1) and rows[0]["reward_model"]["ground_truth"] == "7"


def test_bad_json_line_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"problem": "p", "answer": "1"}) + "\n{not json\n")
    with pytest.raises(DataError, match="line 2"):
        to_verl_rows("math500", load_rows("math500", local_file=str(path)))
