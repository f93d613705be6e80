"""Table builder on hand-made results (exact numbers) and on a real tiny evaluation."""

import json

import pytest
import yaml

from erpo.tables.__main__ import main as tables_main
from erpo.tables.build import PUBLISHED, build_table

SAMPLING = {"preset": "erpo_paper", "temperature": 1.0, "top_p": 0.7, "max_tokens": 8192, "k": 4}


def _result(path, run, variant, benchmark, avg, **extra):
    path.mkdir(parents=True, exist_ok=True)
    data = {
        "run_name": run,
        "variant": variant,
        "model": f"/models/{run}",
        "benchmark": benchmark,
        "k": 4,
        "metrics": {"avg@4": avg, "pass@4": min(1.0, avg * 2)},
        "samples": [],
        **extra,
    }
    (path / f"{benchmark}.json").write_text(json.dumps(data))


@pytest.fixture
def results(tmp_path):
    _result(tmp_path / "base", "base", "grpo", "aime24", 0.10)
    _result(tmp_path / "base", "base", "grpo", "math500", 0.50)
    _result(tmp_path / "mine", "mine", "erpo", "aime24", 0.20, sampling=SAMPLING, rollouts=1433600)
    _result(tmp_path / "mine", "mine", "erpo", "math500", 0.60, sampling=SAMPLING, rollouts=1433600)
    (tmp_path / "mine" / "math500.partial.jsonl").write_text("{}\n")  # ignored
    return tmp_path


def test_markdown_rows_averages_and_deltas(results):
    table = build_table([str(results)], ["aime24", "math500"], baseline="base", include_published=False)
    lines = table.splitlines()
    assert lines[0] == "| run | variant | aime24 | math500 | average | rollouts | sampling |"
    assert (
        "| mine | erpo | 20.0 (+10.0) | 60.0 (+10.0) | 40.0 (+10.0) | 1,433,600 | erpo_paper T=1 top_p=0.7 "
        "max=8192 k=4 |"
    ) in lines
    # A result written before sampling was recorded says so instead of passing for any preset.
    assert "| base | grpo | 10.0 | 50.0 | 30.0 | n/a | unrecorded T=None top_p=None max=None k=4 |" in lines
    assert "difference to base" in table


def test_other_metric_and_missing_benchmark(results):
    table = build_table([str(results)], ["aime24", "aime25"], metric="pass@4", include_published=False)
    assert "| mine | erpo | 40.0 | n/a | n/a | 1,433,600 |" in table
    with pytest.raises(KeyError, match="no metric 'pass@99'"):
        build_table([str(results)], metric="pass@99", include_published=False)
    with pytest.raises(KeyError, match="baseline 'nope'"):
        build_table([str(results)], baseline="nope", include_published=False)


def test_published_rows_come_with_their_source(results):
    table = build_table(
        [str(results)], ["aime25", "aime24", "math500", "olympiadbench"], published_models=["Qwen2.5-Math-7B"]
    )
    assert "| PREPO (Qwen2.5-Math-7B), PREPO paper | PREPO | n/a | n/a | n/a | n/a | 39.6 | 540,000 | paper |" in table
    # GRESO's own Table 1 row and the PREPO paper's (empty) GRESO row stay apart
    assert "| GRESO (Qwen2.5-Math-7B), GRESO paper | GRESO |" in table
    assert "| GRESO (Qwen2.5-Math-7B), PREPO paper | GRESO | n/a | n/a | n/a | n/a | n/a | n/a | paper |" in table
    assert "arXiv 2511.00794" in table and "Qwen3-4B" not in table


def test_published_file_has_sources_for_every_paper():
    papers = yaml.safe_load(PUBLISHED.read_text())
    for paper in papers:
        assert paper["arxiv"] and paper["source"] and paper["metric"]
        for row in paper["rows"]:
            assert all(v is None or 0 <= v <= 100 for v in row["values"].values())
    erpo = next(p for p in papers if p["arxiv"] == "2511.04800")
    assert {(r["model"], r["method"]): r["values"]["math500"] for r in erpo["rows"]} == {
        ("Qwen2.5-3B", "DAPO"): 50.4,
        ("Qwen2.5-3B", "RA"): None,
        ("Qwen2.5-3B", "ERPO"): None,
        ("Qwen2.5-7B", "DAPO"): 60.3,
        ("Qwen2.5-7B", "RA"): None,
        ("Qwen2.5-7B", "ERPO"): None,
    }
    greso = next(p for p in papers if p["arxiv"] == "2506.02177")
    for row in greso["rows"]:  # Table 1's average is the mean of its six cells, to its one decimal
        cells = [row["values"][b] for b in greso["benchmarks"]]
        assert abs(sum(cells) / len(cells) - row["values"]["average"]) <= 0.05 + 1e-9, row


def test_paper_tables_print_each_paper_in_its_layout(capsys):
    assert tables_main(["--papers"]) == 0
    out = capsys.readouterr().out
    erpo = out[out.index("(ERPO)") : out.index("(GRESO)")]
    assert "| model | method | aime24 | aime25 | amc23 | math500 | average |" in erpo  # no rollouts column
    assert [line.split(" | ")[1] for line in erpo.splitlines() if line.startswith("| Qwen2.5-3B")] == [
        "DAPO",
        "RA",
        "ERPO",
    ]
    assert "| Qwen2.5-3B | DAPO | n/a | n/a | n/a | 50.4 | n/a |" in erpo
    greso = out[out.index("(GRESO)") :]
    assert (
        "| model | method | math500 | aime24 | amc | gaokao | minerva | olympiadbench | average | rollouts |" in greso
    )
    assert "| Qwen2.5-Math-7B | GRESO | 82.2 | 32.5 | 80.7 | 70.2 | 35.4 | 44.1 | 57.5 | 6,300,000 |" in greso
    assert "| Qwen2.5-Math-7B | Random | n/a | n/a | n/a | n/a | 39.45 | 905,000 |" in out  # as published


def test_latex_output(results, tmp_path):
    out = tmp_path / "t.tex"
    assert tables_main(["--results", str(results), "--format", "latex", "--out", str(out), "--no-published"]) == 0
    tex = out.read_text()
    assert tex.startswith("\\begin{tabular}{llrrrrl}")
    assert "mine & erpo & 20.0 & 60.0 & 40.0 & 1,433,600 & erpo\\_paper" in tex


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert tables_main(["--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: no eval result JSONs")
