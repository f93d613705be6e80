"""Evaluation end to end on a tiny locally built model and a 5-problem slice, with resume."""

import json
from types import SimpleNamespace

import pytest

from erpo.eval.generate import HFGenerator
from erpo.eval.metrics import pass_at_k
from erpo.eval.runner import evaluate, result_name
from erpo.tiny import build_tiny_model


def _cfg(out_dir, **kw):
    base = dict(source="local", local_dir=None, template="qwen_math_cot", limit=5, out_dir=str(out_dir), batch_size=5,
                k=2, max_new_tokens=8, temperature=1.0, top_p=1.0, pass_k=[1, 2], progress=False, run_name=None,
                variant="erpo", seed=0)
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
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 4)


def test_table_from_eval_output(tmp_path):
    from erpo.tables.build import build_table

    model = build_tiny_model(str(tmp_path / "tiny"))
    evaluate(HFGenerator(model, seed=0), model, "aime24", _cfg(tmp_path / "res", limit=3, run_name="tiny-erpo"))
    table = build_table([str(tmp_path / "res")], include_published=False)
    assert "tiny-erpo" in str(table)
