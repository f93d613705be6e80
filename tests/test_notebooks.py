"""Notebooks run without error on real smoke-run logs; the analysis helpers they use are correct."""

import json
from pathlib import Path

import pandas as pd
import pytest

from erpo.analysis import load_runs, seed_bands
from erpo.analysis.runs import Run, final_table, temperature_histogram

FIXTURE_LOGS = Path(__file__).parent / "fixtures" / "logs"


def test_fixture_logs_are_real_runs_of_two_variants_and_two_seeds():
    runs = load_runs(FIXTURE_LOGS)
    variant_seeds = sorted((r.meta["variant"], r.meta["seed"]) for r in runs)
    assert variant_seeds == [("erpo", 1), ("erpo", 2), ("grpo", 1), ("grpo", 2)]
    for run in runs:
        assert list(run.history.index) == [1, 2, 3, 4, 5, 6]
        assert {"erpo/frac_mixed", "critic/score/mean", "timing_s/step"} <= set(run.history.columns)


def test_all_notebooks_execute_on_the_fixture_logs(tmp_path):
    from erpo.analysis.notebooks import execute_all

    written = execute_all(FIXTURE_LOGS, tmp_path / "out", eval_dir=tmp_path / "no_eval")
    assert [p.name for p in written] == ["training_dynamics.ipynb", "variant_comparison.ipynb", "schedule_study.ipynb"]
    for path in written:
        cells = json.loads(path.read_text())["cells"]
        images = sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
        assert images >= 1, f"{path.name} drew no figure"


def _run(name, variant, seed, values):
    return Run(name, {"variant": variant, "seed": seed}, pd.DataFrame({"m": values}, index=[1, 2, 3]))


def test_seed_bands_and_final_table():
    runs = [
        _run("a1", "a", 1, [0.0, 1.0, 2.0]),
        _run("a2", "a", 2, [2.0, 3.0, 4.0]),
        _run("b1", "b", 1, [5.0, 5.0, 5.0]),
    ]
    bands = seed_bands(runs, "m").set_index(["group", "step"])
    assert bands.loc[("a", 2)].tolist() == [2.0, 1.0, 3.0, 2]
    assert bands.loc[("b", 3)]["count"] == 1
    table = final_table(runs, ["m"], last=2)
    assert table.loc["a", "m"] == pytest.approx(2.5) and table.loc["a", "seeds"] == 2
    with pytest.raises(KeyError, match="nope"):
        seed_bands(runs, "nope")


def test_temperature_histogram_columns_are_bins():
    frame = pd.DataFrame({"erpo/temperature_hist/1-1.1": [1.0], "erpo/temperature_hist/2-inf": [0.0], "x": [3]})
    hist = temperature_histogram(Run("r", {}, frame))
    assert list(hist.columns) == ["1-1.1", "2-inf"]


def test_missing_logs_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="logger=jsonl"):
        load_runs(tmp_path)


# The redesigned study's folder (benchmarks.cpu_study's default); the first version's (cpu_study/) predates
# rollouts/* and the code record, which the current notebook reads.
CPU_STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "cpu_study_v2"


@pytest.mark.skipif(not (CPU_STUDY / "analysis.json").exists(), reason="no committed CPU study yet")
def test_cpu_study_notebook_renders_every_figure_from_the_committed_runs(tmp_path):
    from benchmarks.cpu_study.analyse import render_figures

    figures = render_figures(CPU_STUDY, tmp_path / "figures")
    names = {p.name for p in figures.glob("*.png")}
    assert names == {"shares.png", "effective_prompts.png", "temperatures.png", "heldout.png", "revival.png"}
    assert all((figures / n).stat().st_size > 10_000 for n in names)
