"""PREPO as a data-side component on verl's V1 sync trainer (the pure core: erpo/prepo/).

1. Selection (``choose``): draw K x ``candidate_multiplier`` prompts from the draw before it (verl's data
   loader), score each with the *current* actor (one forward pass over prompt tokens, through the actor
   worker's own ``compute_log_prob``; counted in ``ctx.costs["scoring_forward_passes"]``), keep the window
   of K prompts that the pacing function puts at this step's progress, and hand only those on.
2. Weighting: installs the relative-entropy weighted loss (recipe/prepo/loss.py) on the actor workers once
   they exist; with ``normaliser_scope=batch`` hands it H_bar of the whole batch before the actor update.
3. ``end_step``: the ``prepo/`` selection metrics over every selection round of the step.
4. Checkpoints hold the scheduler state (``prepo_state.json``: rollouts used, prompts seen).

Built when ``prepo.enabled`` or ``prepo.weighting.enabled``; each part runs only when its flag is on.
"""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.components import SCORING_FORWARD_PASSES, MethodSpec, register
from erpo.prepo.config import PREPOConfig
from erpo.prepo.metrics import progress_metrics, selection_metrics
from erpo.prepo.pacing import schedule_progress
from erpo.prepo.schedule_state import PREPOScheduleState
from erpo.prepo.window import select_window
from recipe.common.components import VerlComponent
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.prepo.perplexity_pass import compute_prompt_perplexities, prompt_token_ids, rows_multiple
from recipe.prepo.refusals import check_prepo_fields

STATE_FILE = "prepo_state.json"


def batch_entropy_normaliser(batch) -> float:
    """Token-weighted mean old-policy entropy over the step's batch (padding samples excluded).

    verl's old log-prob pass stores per-token entropies as field ``entropy`` in TransferQueue.
    """
    import transfer_queue as tq

    keys = [k for k, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding", False)]
    data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=["entropy", "response_mask"])
    if "entropy" not in data.keys():
        raise RuntimeError(
            "prepo.weighting.normaliser_scope=batch needs the old-policy entropies verl stores in its old log-prob "
            "pass, and this run has none (rollout_correction bypass mode?); use normaliser_scope=micro_batch"
        )
    data = data.to_padded_tensor()
    entropy, mask = data["entropy"].float(), data["response_mask"].float()
    width = min(entropy.shape[1], mask.shape[1])  # padded widths may differ; no response token lies beyond either
    entropy, mask = entropy[:, :width], mask[:, :width]
    return float((entropy * mask).sum() / mask.sum().clamp(min=1.0))


class PREPOComponent(VerlComponent):
    name = "prepo"
    state_file = STATE_FILE
    restore_label = "PREPO schedule"
    missing_state_fix = (
        "Resume from a checkpoint written with prepo.enabled=true, or start a fresh run (trainer.resume_mode=disable)."
    )

    def __init__(self, cfg: PREPOConfig):
        self.cfg = cfg
        self.state = PREPOScheduleState()
        # Only the schedule has state; the weighting alone saves nothing.
        self.saves_state = cfg.enabled
        # (candidate perplexities, selected positions, window start, progress) since the last end_step
        self._rounds: list[tuple[np.ndarray, np.ndarray, int, float]] = []
        self._seconds = 0.0

    @classmethod
    def from_config(cls, config) -> PREPOComponent:
        return cls(PREPOConfig.from_dict(OmegaConf.to_container(config.prepo, resolve=True)))

    # ---- weighting: the actor's loss -------------------------------------------------------
    def on_workers_ready(self) -> None:
        if self.cfg.weighting.enabled:
            from verl.utils.config import omega_conf_to_dataclass

            from recipe.prepo.loss import make_prepo_loss_fn

            # The same dataclass the worker builds its own loss from (engine_workers.py).
            actor_cfg = omega_conf_to_dataclass(self.trainer.config.actor_rollout_ref.actor)
            self.trainer.actor_rollout_wg.set_loss_fn(make_prepo_loss_fn(actor_cfg, self.cfg.weighting))

    def before_actor_update(self, batch, metrics) -> None:
        """Weighting scope ``batch``: H_bar over the step's whole batch."""
        weighting = self.cfg.weighting
        if weighting.enabled and weighting.normaliser_scope == "batch":
            from recipe.prepo.loss import NORMALISER_FIELD

            value = batch_entropy_normaliser(batch)
            batch.extra_info[NORMALISER_FIELD] = value  # reaches the loss as non-tensor batch data
            metrics["prepo/entropy_normaliser_batch"] = value

    # ---- schedule: which prompts are rolled out ---------------------------------------------
    def choose(self, draw, wanted, ctx):
        if not self.cfg.enabled:
            return draw(wanted)
        trainer, config = self.trainer, self.trainer.config
        k = wanted or config.data.train_batch_size
        candidates = draw(k * self.cfg.candidate_multiplier)
        start = time.perf_counter()
        chat_kwargs = config.data.get("apply_chat_template_kwargs") or {}
        if OmegaConf.is_config(chat_kwargs):
            chat_kwargs = OmegaConf.to_container(chat_kwargs, resolve=True)
        prompts = [unwrap_non_tensor(p) for p in candidates["raw_prompt"]]
        tokenizer = trainer.tokenizer
        token_ids = prompt_token_ids(tokenizer, prompts, self.cfg.perplexity_on, chat_kwargs)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        rollout = config.actor_rollout_ref.rollout
        multiple = rows_multiple(
            trainer.actor_rollout_wg.world_size,
            rollout.get("log_prob_micro_batch_size_per_gpu"),
            bool(rollout.get("log_prob_use_dynamic_bsz", False)),
        )
        ppl = compute_prompt_perplexities(trainer.actor_rollout_wg, token_ids, pad_id, multiple)
        progress = schedule_progress(ctx.step, self.cfg.total_steps or trainer.total_training_steps)
        selected, start_position = select_window(ppl, k, progress, self.cfg.pacing)
        batch = tu.index_select_tensor_dict(candidates, selected.tolist())
        tu.assign_non_tensor_data(batch, "global_steps", ctx.step)
        keys = [
            (str(unwrap_non_tensor(s)), int(unwrap_non_tensor(i)))
            for s, i in zip(batch["data_source"], batch["index"], strict=True)
        ]
        self.state.record_step(len(ppl), keys, int(rollout.n))
        ctx.costs[SCORING_FORWARD_PASSES] = ctx.costs.get(SCORING_FORWARD_PASSES, 0) + len(ppl)
        self._rounds.append((ppl, selected, start_position, progress))
        self._seconds += time.perf_counter() - start
        return batch

    def end_step(self, ctx) -> dict[str, float]:
        """Selection metrics over every selection round of this step (DAPO refills add rounds)."""
        rounds, self._rounds = self._rounds, []
        if not rounds:
            return {}
        ppl = np.concatenate([r[0] for r in rounds])
        offsets = np.cumsum([0] + [len(r[0]) for r in rounds[:-1]])
        selected = np.concatenate([r[1] + off for r, off in zip(rounds, offsets, strict=True)])
        metrics = selection_metrics(ppl, selected, rounds[-1][2])
        metrics.update(progress_metrics(self.state, rounds[-1][3]))
        metrics["prepo/selection_rounds"] = float(len(rounds))
        metrics["prepo/timing_s"] = self._seconds
        self._seconds = 0.0
        return metrics

    # ---- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return self.state.state_dict()

    def load_state_dict(self, state: dict) -> str:
        self.state.load_state_dict(state)
        return f"{self.state.rollouts_used} rollouts used, {self.state.num_prompts_seen} prompts seen"


def _prepo_on(section) -> bool:
    return bool(section.get("enabled")) or bool((section.get("weighting") or {}).get("enabled"))


SPEC = register(
    MethodSpec(
        name="prepo",
        section="prepo",
        enabled=_prepo_on,
        build=PREPOComponent.from_config,
        order=50,
        refuse=check_prepo_fields,
    )
)
