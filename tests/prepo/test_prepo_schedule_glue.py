"""The trainer-side PREPO glue: prompt perplexities through verl's log-prob layout, progress, config checks.

The engine forward pass is stood in for by a real tiny Qwen2 (HF) that returns log-probs in the
engine's layout (nested over whole sequences, entry t = log p(x_{t+1} | x_<=t)); the perplexities
must equal ones computed directly from the model's logits. The real engine path runs in the
slow PREPO smoke test (tests/test_e2e_cpu.py).
"""

import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from erpo.prepo.pacing import schedule_progress
from erpo.tiny import build_tiny_model
from recipe.prepo.perplexity_pass import (
    compute_prompt_perplexities,
    prompt_logprob_batch,
    prompt_token_ids,
    rows_multiple,
)


class TinyModelWorkerGroup:
    """Stand-in for verl's actor worker group: ``compute_log_prob`` over no-padding input."""

    def __init__(self, model, world_size=1):
        self.model, self.world_size, self.calls = model, world_size, []

    def compute_log_prob(self, data):
        assert data["temperature"] == 1.0 and data["calculate_entropy"] is False
        self.calls.append(len(data))
        assert len(data) % self.world_size == 0, "rows must split evenly across data-parallel ranks"
        out = []
        for seq in data["input_ids"].unbind():
            with torch.no_grad():
                logp = torch.log_softmax(self.model(seq[None]).logits[0].float(), -1)
            nxt = logp[:-1].gather(-1, seq[1:, None])[:, 0]
            out.append(torch.cat([nxt, torch.zeros(1)]))  # the last entry predicts past the end
        from tensordict import TensorDict

        return TensorDict({"log_probs": torch.nested.as_nested_tensor(out, layout=torch.jagged)}, batch_size=[len(out)])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = build_tiny_model(str(tmp_path_factory.mktemp("tiny")))
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def _direct_ppl(model, ids):
    seq = torch.tensor(ids)
    with torch.no_grad():
        logp = torch.log_softmax(model(seq[None]).logits[0].float(), -1)
    return float(torch.exp(-logp[:-1].gather(-1, seq[1:, None]).mean()))


@pytest.mark.parametrize(("world_size", "micro_batch"), [(1, None), (4, None), (2, 3)])
def test_prompt_perplexities_match_the_model(tiny, world_size, micro_batch):
    model, tok = tiny
    prompts = [[{"role": "user", "content": q}] for q in ("What is 2 + 3?", "What is 17 + 25? Be careful.", "Hi")]
    ids = prompt_token_ids(tok, prompts, "templated")
    assert ids[0] == list(tok.apply_chat_template(prompts[0], add_generation_prompt=True, tokenize=True)["input_ids"])
    wg = TinyModelWorkerGroup(model, world_size)
    ppl = compute_prompt_perplexities(wg, ids, tok.pad_token_id or 0, rows_multiple(world_size, micro_batch, False))
    assert ppl.shape == (3,)
    np.testing.assert_allclose(ppl, [_direct_ppl(model, i) for i in ids], rtol=1e-4)
    # padded to DP size x micro-batch (verl asserts divisibility), padding dropped
    assert wg.calls == [{(1, None): 3, (4, None): 4, (2, 3): 6}[(world_size, micro_batch)]]
    assert rows_multiple(2, 3, use_dynamic_bsz=True) == 2


def test_raw_question_scores_only_the_question_text(tiny):
    _, tok = tiny
    prompts = [[{"role": "system", "content": "sys"}, {"role": "user", "content": "What is 2 + 3?"}]]
    expected = [tok("What is 2 + 3?", add_special_tokens=False)["input_ids"]]
    assert prompt_token_ids(tok, prompts, "raw_question") == expected
    with pytest.raises(ValueError, match="no user message"):
        prompt_token_ids(tok, [[{"role": "system", "content": "x"}]], "raw_question")


def test_layout_masks_each_prompt_after_its_first_token():
    batch = prompt_logprob_batch([[1, 2, 3, 4], [5, 6]], pad_token_id=0)
    assert batch["response_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["prompts"].tolist() == [[1], [5]]


def test_progress_runs_from_first_to_last_step():
    assert [schedule_progress(s, 5) for s in range(1, 6)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert schedule_progress(9, 5) == 1.0 and schedule_progress(1, 1) == 0.0


class _FakeVerlTrainer:
    """The slice of verl's PPOTrainer the component calls into: a cycling dataloader and no-op hooks."""

    def __init__(self, config):
        self.config, self.global_steps, self._cursor = config, 0, 0

    def _next_train_batch(self, num_prompts=None):
        from verl.utils import tensordict_utils as tu

        rows = [(self._cursor + i) % 10 for i in range(num_prompts)]
        self._cursor += num_prompts
        questions = [f"What is {r} + {r * 7 % 10}? " + "Think. " * r for r in rows]
        return tu.get_tensordict(
            {
                "raw_prompt": np.array([[{"role": "user", "content": q}] for q in questions] + [None], dtype=object)[
                    :-1
                ],
                "data_source": np.array(["toy"] * len(rows), dtype=object),
                "index": np.array(rows),
                "uid": np.array([str(i) for i in range(len(rows))], dtype=object),
            }
        )

    def _compute_old_log_prob(self, batch, metrics):
        return batch

    def _save_checkpoint(self):
        pass

    def _load_checkpoint(self):
        self.global_steps = self.resume_step


class _Trainer(_FakeVerlTrainer):
    """The trainer's component calls (recipe/erpo/trainer.py) over PREPO and the rollout accounting."""

    def __init__(self, config):
        from erpo.components import StepContext
        from recipe.prepo.component import PREPOComponent
        from recipe.rollouts.component import RolloutAccounting

        super().__init__(config)
        self.prepo = PREPOComponent.from_config(config)
        self.rollouts = RolloutAccounting(0, int(config.data.train_batch_size), False)
        self.components = [self.rollouts, self.prepo]
        for component in self.components:
            component.bind(self)
        self.ctx = StepContext(step=0)

    def next_batch(self, num_prompts=None):
        from erpo.components import choose_batch

        self.ctx.step = self.global_steps
        return choose_batch(self.components, self._next_train_batch, num_prompts, self.ctx)

    def end_step(self) -> dict:
        from erpo.components import close_step

        return close_step(self.components, [], self.ctx)

    def save(self):
        from recipe.common.components import save_component_states

        save_component_states(self.components, self.config.trainer, self.global_steps)

    def load(self):
        from recipe.common.components import load_component_states

        self._load_checkpoint()
        load_component_states(self.components, self.config.trainer, self.global_steps)


def _trainer(tiny, tmp_path, **prepo):
    from omegaconf import OmegaConf

    config = OmegaConf.create(
        {
            "prepo": {"enabled": True, "candidate_multiplier": 5, **prepo},
            "data": {"train_batch_size": 2},
            "actor_rollout_ref": {"rollout": {"n": 4, "log_prob_micro_batch_size_per_gpu": 4}},
            "trainer": {"default_local_dir": str(tmp_path), "resume_mode": "auto"},
        }
    )
    trainer = _Trainer(config)
    trainer.actor_rollout_wg, trainer.tokenizer, trainer.total_training_steps = (
        TinyModelWorkerGroup(tiny[0]),
        tiny[1],
        3,
    )
    return trainer


def test_component_rolls_out_the_pacing_window_of_the_candidates(tiny, tmp_path):
    from erpo.prepo.window import select_window

    trainer = _trainer(tiny, tmp_path)
    for step in (1, 2, 3):
        trainer.global_steps = step
        expected_pool = [(trainer._cursor + i) % 10 for i in range(10)]
        batch = trainer.next_batch()
        ids = prompt_token_ids(
            tiny[1],
            [[{"role": "user", "content": f"What is {r} + {r * 7 % 10}? " + "Think. " * r}] for r in expected_pool],
            "templated",
        )
        ppl = np.array([_direct_ppl(tiny[0], i) for i in ids])
        chosen, _ = select_window(ppl, 2, (step - 1) / 2, "linear")
        assert [int(i) for i in batch["index"]] == [expected_pool[c] for c in chosen]
        metrics = trainer.end_step()
        assert metrics["rollouts/scoring_forward_passes"] == 10 * step  # PREPO's cost, counted by the accounting
        assert metrics["prepo/rollouts_used"] == 2 * 4 * step and metrics["prepo/progress"] == (step - 1) / 2
        assert metrics["prepo/selected_ppl_min"] == pytest.approx(ppl[chosen].min(), rel=1e-4)
    # low-perplexity prompts first, high-perplexity last
    assert metrics["prepo/window_start"] == 8


def test_component_state_round_trips_through_a_checkpoint_and_refuses_a_missing_file(tiny, tmp_path):
    from recipe.prepo.component import STATE_FILE

    trainer = _trainer(tiny, tmp_path)
    for step in (1, 2):
        trainer.global_steps = step
        trainer.next_batch()
    trainer.save()
    saved = json.loads((tmp_path / "global_step_2" / STATE_FILE).read_text())
    resumed = _trainer(tiny, tmp_path)
    resumed.resume_step = 2
    resumed.load()
    assert resumed.prepo.state.state_dict() == saved and saved["rollouts_used"] == 16
    (tmp_path / "global_step_2" / STATE_FILE).unlink()
    with pytest.raises(RuntimeError, match="prepo_state.json"):
        resumed.load()


def test_weighting_without_the_schedule_passes_the_batch_through_and_saves_nothing(tiny, tmp_path):
    trainer = _trainer(tiny, tmp_path, enabled=False)
    trainer.global_steps = 1
    assert not trainer.prepo.saves_state
    assert len(trainer.next_batch(2)) == 2 and trainer.actor_rollout_wg.calls == []


def test_batch_normaliser_is_the_token_weighted_mean_entropy_without_padding(monkeypatch):
    import sys
    import types

    from tensordict import TensorDict

    from recipe.prepo.component import batch_entropy_normaliser

    entropy = torch.nested.as_nested_tensor([torch.tensor([1.0, 1.0, 1.0]), torch.tensor([4.0])], layout=torch.jagged)
    mask = torch.nested.as_nested_tensor([torch.ones(3), torch.ones(1)], layout=torch.jagged)
    asked = {}

    def kv_batch_get(keys, partition_id, select_fields):
        asked.update(keys=keys, partition_id=partition_id, fields=select_fields)
        return TensorDict({"entropy": entropy, "response_mask": mask}, batch_size=[2])

    monkeypatch.setitem(sys.modules, "transfer_queue", types.SimpleNamespace(kv_batch_get=kv_batch_get))
    batch = types.SimpleNamespace(keys=["a", "b", "pad"], tags=[{}, {}, {"is_padding": True}], partition_id="train")
    assert batch_entropy_normaliser(batch) == pytest.approx((3 * 1.0 + 4.0) / 4)
    assert asked["keys"] == ["a", "b"] and asked["fields"] == ["entropy", "response_mask"]
