"""Evaluation end to end on a tiny locally built model and a 5-problem slice, with resume."""

import json
from types import SimpleNamespace

import pytest

from erpo.errors import InputError
from erpo.eval.generate import HFGenerator
from erpo.eval.metrics import benchmark_metrics, pass_at_k
from erpo.eval.runner import evaluate, result_name
from erpo.tiny import build_tiny_model


def _cfg(out_dir, **kw):
    base = dict(
        source="local",
        local_dir=None,
        template="qwen_math_cot",
        limit=5,
        out_dir=str(out_dir),
        batch_size=5,
        k=2,
        max_new_tokens=8,
        temperature=1.0,
        top_p=1.0,
        pass_k=[1, 2],
        progress=False,
        run_name=None,
        variant="erpo",
        seed=0,
        sampling={"name": "cpu", "temperature": 1.0, "top_p": 1.0, "max_tokens": 16, "k": 2},
        train_log=None,
    )
    return SimpleNamespace(**{**base, **kw})


def test_eval_tiny_model_and_resume(tmp_path):
    model = build_tiny_model(str(tmp_path / "tiny"))
    gen = HFGenerator(model, seed=0)
    cfg = _cfg(tmp_path / "res")
    result = evaluate(gen, model, "math500", cfg)
    assert result["metrics"]["num_problems"] == 5 and len(result["problems"][0]["samples"]) == 2
    assert 0 <= result["metrics"]["avg@k"] <= result["metrics"]["pass@2"] <= 1
    saved = json.loads((tmp_path / "res" / f"{result_name(model, 'math500')}.json").read_text())
    assert saved["metrics"] == result["metrics"]
    # The sampling it used is recorded; a value changed from the preset is marked.
    assert (
        saved["sampling"] == {"preset": "cpu (overridden)", "temperature": 1.0, "top_p": 1.0, "max_tokens": 8, "k": 2}
        and saved["rollouts"] is None
    )

    # A partial file from an interrupted run: finished problems are not generated again.
    partial = tmp_path / "res2" / f"{result_name(model, 'math500')}.partial.jsonl"
    partial.parent.mkdir()
    partial.write_text("".join(json.dumps(p) + "\n" for p in result["problems"][:3]))
    calls = []
    original = gen.generate
    gen.generate = lambda prompts, *a: calls.append(len(prompts)) or original(prompts, *a)
    resumed = evaluate(gen, model, "math500", _cfg(tmp_path / "res2"))
    assert calls == [2] and resumed["problems"][:3] == result["problems"][:3]
    assert not partial.exists()


def test_pass_at_k_bounds():
    assert pass_at_k(16, 4, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 1, 4) == 1.0 and pass_at_k(1, 1, 1) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 4)


@pytest.mark.parametrize(
    "n, c, k, named",
    [
        (4, 5, 1, "c=5"),  # more correct than samples
        (4, -1, 1, "negative"),
        (-4, 0, 1, "negative"),
        (4, 1, -2, "negative"),
        (4, 1, 0, "k=0"),
        (4, 1, 5, "k=5 exceeds"),
        (0, 0, 1, "k=1 exceeds"),
        (4.0, 1, 1, "integer"),
        (4, True, 1, "integer"),
        (4, 1, 1.5, "integer"),
    ],
)
def test_pass_at_k_refuses_impossible_inputs(n, c, k, named):
    with pytest.raises(InputError, match=named):
        pass_at_k(n, c, k)


def test_benchmark_metrics_never_drops_a_requested_k():
    correct, lengths = [[True, False, False, True], [False] * 4], [[5] * 4, [6] * 4]
    metrics = benchmark_metrics(correct, lengths, [1, 2, 4])
    assert {"pass@1", "pass@2", "pass@4"} <= set(metrics)
    assert metrics["pass@1"] == pytest.approx(0.25) and metrics["pass@4"] == pytest.approx(0.5)
    for ks in ([8], [1, 5], [0], [-1]):
        with pytest.raises(InputError, match="pass_k"):
            benchmark_metrics(correct, lengths, ks)
    with pytest.raises(InputError, match="2"):  # a problem with fewer samples bounds k
        benchmark_metrics([[True, True, True, True], [True, False]], [[1] * 4, [1] * 2], [4])
    for bad in ([[True, 2]], [[True, -1]], [[]], [], [["yes"]]):
        with pytest.raises(InputError):
            benchmark_metrics(bad, [[1] * len(p) for p in bad], [1])
    with pytest.raises(InputError, match="lengths"):
        benchmark_metrics(correct, lengths[:1], [1])


def test_table_from_eval_output(tmp_path):
    from erpo.tables.build import build_table

    model = build_tiny_model(str(tmp_path / "tiny"))
    evaluate(HFGenerator(model, seed=0), model, "aime24", _cfg(tmp_path / "res", limit=3, run_name="tiny-erpo"))
    table = build_table([str(tmp_path / "res")], include_published=False)
    assert "tiny-erpo" in str(table)


def test_eval_records_the_training_runs_rollouts(tmp_path):
    from erpo.eval.runner import train_log_rollouts

    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps({"step": i, "data": {"rollouts/total": 32 * i}}) + "\n" for i in (1, 2, 3)))
    assert train_log_rollouts(str(log)) == 96 and train_log_rollouts(None) is None
    log.write_text(json.dumps({"step": 1, "data": {"x": 1}}) + "\n")
    with pytest.raises(ValueError, match="rollouts/total"):
        train_log_rollouts(str(log))
