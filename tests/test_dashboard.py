"""python -m erpo.analysis.dashboard: the W&B comparison built offline from the CPU study's committed W&B runs,
checked against what the runs logged, docs/metrics.md and W&B's own workspace and report models. No network."""

import json
from pathlib import Path

import pytest
from metric_docs import undocumented

from erpo.analysis.dashboard import catalogue
from erpo.analysis.dashboard.__main__ import main
from erpo.analysis.dashboard.report import mechanism_markdown, run_mechanism
from erpo.analysis.dashboard.sources import RunRecord, api_runs, offline_runs
from erpo.analysis.dashboard.spec import build_sections, build_spec
from erpo.analysis.metric_list import DOC
from erpo.analysis.wandb_offline import read_wandb_file
from erpo.errors import InputError

STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "cpu_study"
WANDB_FILES = sorted(STUDY.glob("runs/*/*.wandb"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The CLI run once on the committed study: spec JSON, printed summary, and the runs read independently."""
    assert len(WANDB_FILES) >= 2, "the CPU study commits W&B offline runs of at least two variants"
    out = tmp_path_factory.mktemp("dashboard") / "spec.json"
    argv = [
        "--entity",
        "someone",
        "--project",
        "erpo",
        "--offline-runs",
        str(STUDY / "runs"),
        "--results",
        str(STUDY / "runs"),
        "--baseline",
        "grpo",
        "--no-published",
        "--out",
        str(out),
    ]
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    runs = [read_wandb_file(path) for path in WANDB_FILES]
    return json.loads(out.read_text()), printed.getvalue(), runs


def _panel_keys(spec):
    return [
        (s["name"], p["title"], key)
        for s in spec["workspace"]["sections"]
        for p in s["panels"]
        for key in p["y"] + ([p["x"]] if p["x"] else [])
    ]


def test_every_panel_key_was_logged_by_some_run_and_is_documented(built):
    spec, _, runs = built
    logged = set().union(*({k for row in run["history"].values() for k in row} for run in runs))
    keys = _panel_keys(spec)
    assert len(keys) >= 8
    assert [k for k in keys if k[2] not in logged] == []
    assert undocumented({k for _, _, k in keys}) == []  # the tests' own reader of docs/metrics.md agrees


def test_every_variant_group_appears(built):
    spec, printed, runs = built
    groups = {run["group"] for run in runs}
    assert groups == {"grpo", "erpo"} and set(spec["groups"]) == groups
    assert {r["group"] for r in spec["runs"]} == groups and {r["name"] for r in spec["runs"]} == {
        run["name"] for run in runs
    }
    view = spec["workspace_view"]["spec"]["section"]["runSets"][0]
    assert view["filters"]["filters"][0]["value"] == spec["groups"]  # the workspace shows exactly these groups
    assert view["grouping"] == [{"section": "run", "name": "group"}]
    report = spec["report"]
    for group in groups:
        assert f"| {group} |" in report["mechanism"] and f"| {group} |" in report["deltas"][0]["markdown"]
        assert f"cpu_study-{group}-s1 | {group} |" in report["table"]
        assert f"{group} (1 runs)" in printed


def test_sections_kept_and_dropped_with_a_message(built):
    spec, printed, _ = built
    names = [s["name"] for s in spec["workspace"]["sections"]]
    assert names == ["Held-out accuracy", "Residual prompts", "Temperatures"]
    assert spec["workspace"]["sections"][0]["panels"][0]["y"] == ["val-core/cpu_study/acc/mean@2"]
    for dropped in ("Effective prompts and rollouts", "PREPO", "GRESO"):
        message = next(m for m in spec["notes"] if m.startswith(f"{dropped}: section dropped"))
        assert f"note: {message}" in printed
    assert "'rollouts/total'" in next(m for m in spec["notes"] if m.startswith("Effective"))
    assert "specification:" in printed and "--push" in printed


def _without_ids(tree):
    if isinstance(tree, dict):
        return {k: _without_ids(v) for k, v in tree.items() if k != "__id__"}
    return [_without_ids(v) for v in tree] if isinstance(tree, list) else tree


def test_wandb_models_accept_the_spec(built):
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws

    from erpo.analysis.dashboard.wandb_objects import report, workspace

    spec, _, _ = built
    space = workspace(spec)
    assert isinstance(space, ws.Workspace) and space.entity == "someone" and space.project == "erpo"
    view = space._to_model().model_dump(by_alias=True, exclude_none=True, mode="json")
    assert _without_ids(view) == _without_ids(spec["workspace_view"])  # the library draws new panel ids each time
    stored = view["spec"]["section"]["panelBankConfig"]["sections"]
    assert [s["name"] for s in stored] == [s["name"] for s in spec["workspace"]["sections"]]
    for section, wire in zip(spec["workspace"]["sections"], stored, strict=True):
        text, *plots = wire["panels"]  # a text panel first: the question and how the plots are drawn
        assert text["config"]["value"].startswith(section["question"]) and "min-max" in text["config"]["value"]
        assert [p["config"]["metrics"] for p in plots] == [p["y"] for p in section["panels"]]
        for panel in plots:
            assert panel["config"]["smoothingType"] == "none"
            assert (panel["config"]["groupBy"], panel["config"]["groupAgg"], panel["config"]["groupArea"]) == (
                "group",
                "mean",
                "minmax",
            )
    rep = report(spec)
    assert isinstance(rep, wr.Report)
    grids = [b for b in rep.blocks if isinstance(b, wr.PanelGrid)]
    assert len(grids) == len(spec["workspace"]["sections"])
    assert rep.blocks[3].text == spec["report"]["table"]


def test_report_numbers_match_the_study_analysis(built):
    """The mechanism read from the W&B runs equals the study's analysis, which read the JSONL logs."""
    spec, _, _ = built
    analysis = {row["variant"]: row for row in json.loads((STUDY / "analysis.json").read_text())["per_run"]}
    lines = spec["report"]["mechanism"].splitlines()
    assert lines[0] == (
        "| variant | runs | all-correct share | mixed share | all-wrong share | mean T | share above base T |"
    )
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        variant, values = cells[0], [float(c) for c in cells[2:7]]
        keys = ("frac_all_correct", "frac_mixed", "frac_all_wrong", "mean_temperature", "share_raised")
        expected = [analysis[variant][k] for k in keys]
        assert values == pytest.approx(expected, abs=6e-3)  # the table prints 3 significant digits


def _run(group, keys, seed=1, n=8, steps=3, values=None):
    history = {s: {k: (values or {}).get(k, 0.5) for k in keys} for s in range(1, steps + 1)}
    return RunRecord(f"{group}-{seed}", f"{group}-s{seed}", group, "m", seed, n, history)


def test_rollouts_prepo_and_greso_sections_when_their_keys_are_logged():
    prepo = [
        "prepo/selected_ppl_mean",
        "prepo/candidate_ppl_min",
        "prepo/candidate_ppl_max",
        "prepo/progress",
        "actor/prepo/weight_std",
        "prepo/rollouts_used",
    ]
    runs = [
        _run("grpo", ["erpo/frac_mixed", "rollouts/total", "rollouts/effective"]),
        _run("prepo", ["erpo/frac_mixed", "rollouts/total", "rollouts/effective", *prepo]),
        _run("greso", ["erpo/frac_mixed", "greso/kept", "greso/p_easy"]),
    ]
    spec = build_spec(runs, "e", "p", ["grpo", "prepo", "greso"])
    sections = {s["name"]: s for s in spec["workspace"]["sections"]}
    assert list(sections) == ["Residual prompts", "Effective prompts and rollouts", "PREPO", "GRESO"]
    curve = next(p for p in sections["Effective prompts and rollouts"]["panels"] if p["x"])
    assert curve == {
        "title": "gradient-carrying rollouts vs rollouts spent",
        "y": ["rollouts/effective"],
        "x": "rollouts/total",
    }
    assert len(sections["PREPO"]["panels"]) == 5
    greso = {p["title"]: p["y"] for p in sections["GRESO"]["panels"]}
    assert greso == {
        "candidates kept this step": ["greso/kept"],
        "keep probabilities after adaptation": ["greso/p_easy"],
    }
    assert (
        "GRESO / keep probabilities after adaptation: plots ['greso/p_easy']; no run logged ['greso/p_hard']"
        in (spec["notes"])
    )
    assert any(m.startswith("Held-out accuracy: section dropped") for m in spec["notes"])


def test_a_renamed_metric_fails_instead_of_leaving_an_empty_panel(tmp_path, monkeypatch):
    renamed = tmp_path / "metrics.md"
    renamed.write_text(DOC.read_text().replace("| erpo/frac_mixed |", "| erpo/share_mixed |"))
    with pytest.raises(InputError, match=r"\['erpo/frac_mixed'\] are not in metrics.md"):
        build_sections({"erpo/frac_mixed"}, doc=renamed)
    typo = catalogue.Section("Residual prompts", "?", (catalogue.Panel("mixed", ("erpo/frac_mixd",)),))
    monkeypatch.setattr(catalogue, "STATIC_SECTIONS", (typo,))
    monkeypatch.setattr("erpo.analysis.dashboard.spec.STATIC_SECTIONS", (typo,))
    with pytest.raises(InputError, match="erpo/frac_mixd"):
        build_sections({"erpo/frac_mixed"})


def test_bad_input_is_refused_naming_the_field():
    runs = [_run("grpo", ["erpo/frac_mixed"]), _run("erpo", ["erpo/frac_mixed"])]
    with pytest.raises(InputError, match=r"--groups: \['dapo'\] have no runs in src; groups there: \['erpo', 'grpo'\]"):
        build_spec(runs, "e", "p", ["grpo", "dapo"], source="src")
    with pytest.raises(InputError, match="--model qwen: no run of that model_name"):
        build_spec(runs, "e", "p", model="qwen")
    with pytest.raises(InputError, match="--entity is empty"):
        build_spec(runs, "", "p")
    with pytest.raises(InputError, match="none of the comparison's sections"):
        build_spec([_run("grpo", ["actor/lr"])], "e", "p")
    with pytest.raises(InputError, match=r"several models \['m', 'qwen'\] .* --model"):
        build_spec([*runs, RunRecord("x", "x", "grpo", "qwen", 1, 8, {1: {"erpo/frac_mixed": 0.5}})], "e", "p")
    assert main(["--entity", "e", "--project", "p", "--offline-runs", "/nonexistent"]) == 2
    assert main(["--entity", "e", "--project", "p", "--offline-runs", "x", "--baseline", "grpo"]) == 2  # no --results


def test_two_runs_of_one_seed_are_reported():
    runs = [_run("grpo", ["erpo/frac_mixed"]), _run("grpo", ["erpo/frac_mixed"]), _run("grpo", ["erpo/frac_mixed"], 2)]
    runs[1].run_id, runs[1].name = "rerun", "grpo-s1-rerun"
    spec = build_spec(runs, "e", "p")
    assert "group grpo: 2 runs of seed 1 (['grpo-s1', 'grpo-s1-rerun']); the mean and band count each" in spec["notes"]


def test_mechanism_numbers_by_hand():
    # n = 8; after 10 steps 640 rollouts generated, 320 in gradient-carrying groups
    run = _run("erpo", [], steps=10)
    for step in range(1, 11):
        run.history[step] = {
            "rollouts/total": 64.0 * step,
            "rollouts/effective": 32.0 * step,
            "erpo/frac_mixed": 1.0 if step == 1 else 0.0,
            "erpo/groups": 10.0 if step == 1 else 30.0,
        }
    got = run_mechanism(run)
    assert got["rollouts"] == 640 and got["effective prompts/step"] == pytest.approx(320 / 8 / 10)
    assert got["rollouts per effective prompt"] == pytest.approx(8 * 640 / 320)
    assert got["mixed share"] == pytest.approx(10 / (10 + 9 * 30))  # weighted by the step's groups
    other = _run("erpo", [], seed=2, steps=10)
    other.history = {s: {"erpo/frac_mixed": 0.5} for s in range(1, 11)}  # no erpo/groups: plain mean
    table = mechanism_markdown([run, other], ["erpo"])
    assert "| erpo | 2 | " in table and f"{(10 / 280 + 0.5) / 2:.3g} ({10 / 280:.3g}-0.5)" in table


class _FakeRun:
    def __init__(self, run_id, group):
        self.id, self.name, self.group = run_id, f"{group}-{run_id}", group
        self.config = {"model_name": "m", "seed": 1, "actor_rollout_ref": {"rollout": {"n": 4}}}

    def history(self, samples, pandas):
        assert pandas is False and samples >= 10_000
        return [
            {"_step": 1, "erpo/frac_mixed": 0.5, "erpo/groups": float("nan")},
            {"_step": 2, "erpo/frac_mixed": 0.25},
        ]


class _FakeApi:
    def __init__(self):
        self.calls = []

    def runs(self, path, filters):
        self.calls.append((path, filters))
        return [_FakeRun("a", "grpo"), _FakeRun("b", "erpo")]


def test_api_runs_read_group_config_and_history():
    api = _FakeApi()
    runs = api_runs("ent", "proj", ["grpo", "erpo"], api=api)
    assert api.calls == [("ent/proj", {"group": {"$in": ["grpo", "erpo"]}})]
    assert [(r.group, r.n, r.seed) for r in runs] == [("grpo", 4, 1), ("erpo", 4, 1)]
    assert runs[0].history == {1: {"_step": 1, "erpo/frac_mixed": 0.5}, 2: {"_step": 2, "erpo/frac_mixed": 0.25}}
    assert runs[0].keys == {"erpo/frac_mixed"}  # NaN is "not logged"


def test_push_saves_the_workspace_and_the_report(built, tmp_path, monkeypatch, capsys):
    """--push's code path up to W&B's own save calls (which need a login and the network, stood in for here)."""
    from types import SimpleNamespace

    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws

    saved = []

    def save(kind):
        def method(self, *args, **kwargs):
            saved.append((kind, self))
            return SimpleNamespace(url=f"https://wandb.invalid/{kind}")

        return method

    monkeypatch.setattr(ws.Workspace, "save", save("workspace"))
    monkeypatch.setattr(wr.Report, "save", save("report"))
    monkeypatch.setattr("erpo.analysis.dashboard.__main__.offline_runs", lambda root: _spec_runs(built))
    argv = [
        "--entity",
        "someone",
        "--project",
        "erpo",
        "--offline-runs",
        "x",
        "--results",
        str(STUDY / "runs"),
        "--no-published",
        "--out",
        str(tmp_path / "spec.json"),
        "--push",
    ]
    assert main(argv) == 0
    assert [kind for kind, _ in saved] == ["workspace", "report"]
    assert [s.name for s in saved[0][1].sections] == [s["name"] for s in built[0]["workspace"]["sections"]]
    out = capsys.readouterr().out
    assert (
        "saved workspace: https://wandb.invalid/workspace" in out
        and "saved report: https://wandb.invalid/report" in out
    )


def _spec_runs(built):
    """The committed runs as RunRecords, from the module fixture's independent read (no second read)."""
    _, _, runs = built
    return [
        RunRecord(
            r["run_id"],
            r["name"],
            r["group"],
            r["config"]["model_name"],
            r["config"]["seed"],
            r["config"]["actor_rollout_ref"]["rollout"]["n"],
            r["history"],
        )
        for r in runs
    ]


def test_a_resumed_offline_run_is_one_run(tmp_path, monkeypatch):
    """Two offline folders of one run id (a resume) merge into one run; a later file's steps win."""
    first = tmp_path / "offline-run-20260101_000000-abc" / "run-abc.wandb"
    second = tmp_path / "offline-run-20260102_000000-abc" / "run-abc.wandb"
    other = tmp_path / "offline-run-20260101_000000-xyz" / "run-xyz.wandb"
    for path in (first, second, other):
        path.parent.mkdir()
        path.write_bytes(b"")
    contents = {
        first: {
            "run_id": "abc",
            "name": "erpo-s1",
            "group": "erpo",
            "config": {"seed": 1},
            "history": {1: {"erpo/frac_mixed": 0.1}, 2: {"erpo/frac_mixed": 0.2}},
        },
        second: {
            "run_id": "abc",
            "name": "erpo-s1",
            "group": "erpo",
            "config": {"seed": 1},
            "history": {2: {"erpo/frac_mixed": 0.25}, 3: {"erpo/frac_mixed": 0.3}},
        },
        other: {"run_id": "xyz", "name": "grpo-s1", "group": "grpo", "config": {"seed": 1}, "history": {1: {}}},
    }
    monkeypatch.setattr("erpo.analysis.dashboard.sources.read_wandb_file", lambda path: contents[path])
    runs = {r.run_id: r for r in offline_runs(tmp_path)}
    assert sorted(runs) == ["abc", "xyz"]
    assert runs["abc"].history == {
        1: {"erpo/frac_mixed": 0.1},
        2: {"erpo/frac_mixed": 0.25},
        3: {"erpo/frac_mixed": 0.3},
    }


def test_no_login_is_a_clear_error(monkeypatch, capsys):
    import wandb

    def no_key():
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    monkeypatch.setattr(wandb, "Api", no_key)
    assert main(["--entity", "e", "--project", "p", "--groups", "grpo"]) == 2
    assert "W&B API unavailable (No API key configured" in capsys.readouterr().err
