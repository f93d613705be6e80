"""PREPO on verl's V1 sync trainer: a trainer mixin (verl 0.9 has no curriculum-sampler hook).

1. Selection (``_next_train_batch``): draw K x ``candidate_multiplier`` prompts from verl's
   dataloader, score each with the *current* actor (one forward pass over prompt tokens, through
   the actor worker's own ``compute_log_prob``), keep the window of K prompts that the pacing
   function puts at this step's progress, and hand only those to the rollout.
2. Weighting: installs the relative-entropy weighted loss (recipe/prepo/loss.py) on the actor
   workers once they exist; with ``normaliser_scope=batch`` hands it H_bar of the whole batch.
3. Checkpoints hold the scheduler state (``prepo_state.json``: rollouts used, prompts seen).

Everything is off unless ``prepo.enabled`` / ``prepo.weighting.enabled``; then this class only
passes calls through to verl.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf
from verl.utils import tensordict_utils as tu

from erpo.prepo.config import PREPOConfig
from erpo.prepo.metrics import progress_metrics, selection_metrics
from erpo.prepo.pacing import schedule_progress
from erpo.prepo.schedule_state import PREPOScheduleState
from erpo.prepo.window import select_window
from recipe.common.checkpoint_files import announce_restore, load_side_file, save_side_file
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.prepo.perplexity_pass import compute_prompt_perplexities, prompt_token_ids, rows_multiple

logger = logging.getLogger(__name__)

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


class PREPOSchedule:
    """Mixin placed before verl's trainer class; every method calls on with ``super()``."""

    def __init__(self, config: DictConfig):
        self.prepo_config = PREPOConfig.from_dict(OmegaConf.to_container(config.prepo, resolve=True))
        self.prepo_state = PREPOScheduleState()
        # (candidate perplexities, selected positions, window start, progress) since the last flush
        self._prepo_rounds: list[tuple[np.ndarray, np.ndarray, int, float]] = []
        self._prepo_seconds = 0.0
        super().__init__(config)

    # ---- weighting: the actor's loss -------------------------------------------------------
    def on_init_end(self):
        weighting = self.prepo_config.weighting
        if weighting.enabled:
            from verl.utils.config import omega_conf_to_dataclass

            from recipe.prepo.loss import make_prepo_loss_fn

            # The same dataclass the worker builds its own loss from (engine_workers.py).
            actor_cfg = omega_conf_to_dataclass(self.config.actor_rollout_ref.actor)
            self.actor_rollout_wg.set_loss_fn(make_prepo_loss_fn(actor_cfg, weighting))
        super().on_init_end()

    # ---- schedule: which prompts are rolled out ---------------------------------------------
    def _next_train_batch(self, num_prompts: int | None = None):
        if not self.prepo_config.enabled:
            return super()._next_train_batch(num_prompts)
        k = num_prompts or self.config.data.train_batch_size
        candidates = super()._next_train_batch(k * self.prepo_config.candidate_multiplier)
        start = time.perf_counter()
        chat_kwargs = self.config.data.get("apply_chat_template_kwargs") or {}
        if OmegaConf.is_config(chat_kwargs):
            chat_kwargs = OmegaConf.to_container(chat_kwargs, resolve=True)
        prompts = [unwrap_non_tensor(p) for p in candidates["raw_prompt"]]
        token_ids = prompt_token_ids(self.tokenizer, prompts, self.prepo_config.perplexity_on, chat_kwargs)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        rollout = self.config.actor_rollout_ref.rollout
        multiple = rows_multiple(self.actor_rollout_wg.world_size, rollout.get("log_prob_micro_batch_size_per_gpu"),
                                 bool(rollout.get("log_prob_use_dynamic_bsz", False)))
        ppl = compute_prompt_perplexities(self.actor_rollout_wg, token_ids, pad_id, multiple)
        progress = schedule_progress(self.global_steps, self.prepo_config.total_steps or self.total_training_steps)
        selected, start_position = select_window(ppl, k, progress, self.prepo_config.pacing)
        batch = tu.index_select_tensor_dict(candidates, selected.tolist())
        tu.assign_non_tensor_data(batch, "global_steps", self.global_steps)
        keys = [(str(unwrap_non_tensor(s)), int(unwrap_non_tensor(i)))
                for s, i in zip(batch["data_source"], batch["index"], strict=True)]
        self.prepo_state.record_step(len(ppl), keys, int(self.config.actor_rollout_ref.rollout.n))
        counter = getattr(self, "rollout_counter", None)  # recipe/common/rollouts.py, when the trainer has it
        if counter is not None:
            counter.record_scoring(len(ppl))
        self._prepo_rounds.append((ppl, selected, start_position, progress))
        self._prepo_seconds += time.perf_counter() - start
        return batch

    def _compute_old_log_prob(self, batch, metrics):
        metrics.update(self._flush_prepo_metrics())
        return super()._compute_old_log_prob(batch, metrics)

    # ---- weighting scope "batch": H_bar over the step's whole batch -----------------------------
    def _update_actor(self, batch, metrics):
        weighting = self.prepo_config.weighting
        if weighting.enabled and weighting.normaliser_scope == "batch":
            from recipe.prepo.loss import NORMALISER_FIELD

            value = batch_entropy_normaliser(batch)
            batch.extra_info[NORMALISER_FIELD] = value  # reaches the loss as non-tensor batch data
            metrics["prepo/entropy_normaliser_batch"] = value
        return super()._update_actor(batch, metrics)

    def _flush_prepo_metrics(self) -> dict[str, float]:
        """Selection metrics over every selection round of this step (DAPO refills add rounds)."""
        rounds, self._prepo_rounds = self._prepo_rounds, []
        if not rounds:
            return {}
        ppl = np.concatenate([r[0] for r in rounds])
        offsets = np.cumsum([0] + [len(r[0]) for r in rounds[:-1]])
        selected = np.concatenate([r[1] + off for r, off in zip(rounds, offsets, strict=True)])
        metrics = selection_metrics(ppl, selected, rounds[-1][2])
        metrics.update(progress_metrics(self.prepo_state, rounds[-1][3]))
        metrics["prepo/selection_rounds"] = float(len(rounds))
        metrics["prepo/timing_s"] = self._prepo_seconds
        self._prepo_seconds = 0.0
        return metrics

    # ---- checkpoints ----------------------------------------------------------------------
    def _save_checkpoint(self):
        if self.prepo_config.enabled:
            save_side_file(self.config.trainer, self.global_steps, STATE_FILE, self.prepo_state.state_dict())
        super()._save_checkpoint()

    def _load_checkpoint(self):
        super()._load_checkpoint()
        if not self.prepo_config.enabled or self.global_steps == 0:
            return
        path, state = load_side_file(
            self.config.trainer, self.global_steps, STATE_FILE, what="PREPO schedule state",
            fix="Resume from a checkpoint written with prepo.enabled=true, or start a fresh run "
                "(trainer.resume_mode=disable).",
        )
        self.prepo_state.load_state_dict(state)
        announce_restore(logger, f"PREPO schedule restored from {path}: {self.prepo_state.rollouts_used} rollouts "
                         f"used, {self.prepo_state.num_prompts_seen} prompts seen")
