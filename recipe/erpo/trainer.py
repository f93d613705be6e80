"""ERPO on verl's V1 sync trainer: overrides only what ERPO must touch.

1. Before dispatch (``_next_train_batch``): each prompt gets its temperature from the
   tracker, as a per-sample ``temperature`` field the agent loop turns into that request's
   sampling temperature.
2. Log-prob passes (old policy, reference, actor update): verl writes one scalar
   ``temperature`` into the batch metadata, which would overwrite the per-sample field on the
   worker. With ``erpo.logprob_temperature=sampled`` (default, our choice)
   :class:`PerSampleTemperatureInfo` drops that scalar, so the engine divides each sample's
   logits by the temperature it was drawn at; with ``base`` the scalar (the rollout temperature,
   refused unless equal to ``erpo.temperature.base``) replaces every sample's field.
3. After scoring (``_balance_batch``, the first hook that receives the scored batch): every
   finished group updates the tracker, including the groups DAPO's dynamic sampling evicts
   (observed on their way out of the replay buffer).
4. Checkpoints hold the tracker (``erpo_state.json``), written before verl marks the
   checkpoint complete, and restored on resume.
5. RA (``erpo.ra.enabled``): before the advantage, the trainer tells the estimator which groups were
   all correct by ``acc`` (erpo/correctness.py, the tracker's definition); under DAPO, the replay buffer's
   filter keeps all-correct groups (only all-wrong ones are evicted), so RA reaches them (docs/erpo.md).
6. Rollout accounting (recipe/common/rollouts.py): what was generated, and the trained groups that
   carry gradient.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import defaultdict

import numpy as np
import torch
import transfer_queue as tq
from omegaconf import DictConfig, OmegaConf
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from erpo.config import ERPOConfig
from erpo.controller import ERPOController
from erpo.correctness import all_correct_groups, dapo_filter_under_ra, is_correct
from erpo.greso import GRESOConfig
from recipe.common.checkpoint_files import announce_restore, load_side_file, save_side_file
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.common.rollouts import RolloutAccounting
from recipe.erpo import reactivation
from recipe.erpo.agent_loop import TEMPERATURE_FIELD
from recipe.greso.schedule import GRESOSchedule
from recipe.prepo.schedule import PREPOSchedule

logger = logging.getLogger(__name__)

STATE_FILE = "erpo_state.json"
ASSIGNMENTS_FILE = "erpo_assignments.jsonl"
# Fields of a trajectory the tracker needs; verl stores every prompt field with each trajectory.
_OBSERVED_FIELDS = ["uid", "data_source", "index", TEMPERATURE_FIELD, "rm_scores", "extra_fields"]


class PerSampleTemperatureInfo(dict):
    """Batch metadata that refuses verl's scalar ``temperature``.

    The worker merges metadata into the fetched batch, replacing a per-sample field of the
    same name; without the scalar, the per-sample tensor stored with each trajectory is
    what the engine reads.
    """

    def __init__(self, *args, **kwargs):
        # verl already wrote the scalar when it sampled the batch (``_step_once``); copying the
        # dict must drop it too, not only later writes.
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, key, value):
        if key != TEMPERATURE_FIELD:
            super().__setitem__(key, value)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def logprob_metadata(extra_info: dict, logprob_temperature: str) -> dict:
    """Batch metadata for a log-prob pass: ``sampled`` keeps each sample's temperature (drops verl's scalar);
    ``base`` keeps verl's scalar (``rollout.temperature`` = ``erpo.temperature.base``), which the worker's
    merge writes over every sample's field."""
    if logprob_temperature == "sampled":
        return PerSampleTemperatureInfo(extra_info)
    if logprob_temperature == "base":
        return extra_info
    raise ValueError(f"erpo.logprob_temperature={logprob_temperature!r}: choose sampled or base.")


class ERPOTrainer(RolloutAccounting, GRESOSchedule, PREPOSchedule, PPOTrainerSync):
    """verl's sync trainer with the ERPO data-side hooks (and PREPO's or GRESO's, when on).

    Method resolution: ERPO's hooks run first and call into :class:`RolloutAccounting`,
    :class:`GRESOSchedule`, then :class:`PREPOSchedule`, then verl; so GRESO (or PREPO: the two are
    refused together) picks the prompts, ERPO then gives the picked prompts their temperatures, and
    the accounting counts what is dispatched to the rollout (skipped prompts cost nothing). In
    ``_balance_batch`` ERPO records the step's groups first, then GRESO closes the step (``end_step``).
    """

    def __init__(self, config: DictConfig):
        self.erpo_config = ERPOConfig.from_dict(OmegaConf.to_container(config.erpo, resolve=True))
        greso_cfg = GRESOConfig.from_dict(OmegaConf.to_container(config.get("greso") or {}, resolve=True))
        self.erpo = ERPOController(self.erpo_config, greso_cfg)
        self._pending_groups: list[dict] = []
        # Seconds of ERPO data-side work (assign + update + metrics) since the last flush;
        # logged as erpo/timing_s so the overhead benchmark compares it with timing_s/step.
        self._erpo_seconds = 0.0
        ra = self.erpo_config.ra
        reactivation.configure(ra.enabled, ra.form, ra.pseudo_reward, ra.advantage)
        super().__init__(config)

    # ---- 1. temperatures in -------------------------------------------------------------
    def _next_train_batch(self, num_prompts: int | None = None):
        batch = super()._next_train_batch(num_prompts)
        sources = [str(unwrap_non_tensor(s)) for s in batch["data_source"]]
        indices = np.asarray([int(unwrap_non_tensor(i)) for i in batch["index"]], dtype=np.int64)
        start = time.perf_counter()
        temperatures = self.erpo.assign(sources, indices)
        self._erpo_seconds += time.perf_counter() - start
        if self.erpo_config.log_assignments:
            self._log_assignments(sources, indices, temperatures)
        batch[TEMPERATURE_FIELD] = torch.as_tensor(np.asarray(temperatures), dtype=torch.float32)
        return batch

    def _log_assignments(self, sources, indices, temperatures) -> None:
        """One JSON line per step: which prompt was sampled at which temperature.

        The step is the one this batch will be trained as (verl increments after the step).
        """
        folder = self.config.trainer.default_local_dir
        os.makedirs(folder, exist_ok=True)
        record = {
            "step": int(self.global_steps),
            "data_source": list(sources),
            "index": [int(i) for i in indices],
            "temperature": [round(float(t), 6) for t in temperatures],
        }
        with open(os.path.join(folder, ASSIGNMENTS_FILE), "a") as f:
            f.write(json.dumps(record) + "\n")

    # ---- 2. the same temperature in every log-prob pass ---------------------------------
    def _compute_old_log_prob(self, batch, metrics):
        batch.extra_info = logprob_metadata(batch.extra_info, self.erpo_config.logprob_temperature)
        return super()._compute_old_log_prob(batch, metrics)

    def _compute_ref_log_prob(self, batch, metrics):
        batch.extra_info = logprob_metadata(batch.extra_info, self.erpo_config.logprob_temperature)
        return super()._compute_ref_log_prob(batch, metrics)

    def _update_actor(self, batch, metrics):
        batch.extra_info = logprob_metadata(batch.extra_info, self.erpo_config.logprob_temperature)
        return super()._update_actor(batch, metrics)

    # ---- 3. rewards out -----------------------------------------------------------------
    def _balance_batch(self, batch, metrics):
        """Record the step's scored groups, then let verl balance the batch.

        The hook: verl's ``_step_once`` hands the sampled, scored batch and the step's metrics to
        ``_balance_batch`` first (``on_sample_end`` gets neither), before any log-prob pass.
        """
        self._record_step_groups(batch, metrics)
        return super()._balance_batch(batch, metrics)

    def _record_step_groups(self, batch, metrics) -> None:
        """Tracker update from the step's groups and the DAPO-evicted ones queued since the last step."""
        self._observe(batch.keys, batch.tags, batch.partition_id, trained=True)
        metrics.update(self._flush_observations())

    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        if self.erpo_config.ra.enabled and getattr(buffer, "filter_groups_metric", None) is not None:
            self._keep_all_correct_groups(buffer)
        poll_interval = (self.config.get("replay_buffer") or {}).get("poll_interval_s")
        if poll_interval is not None:
            # verl polls for finished rollouts every 2 s; on CPU a step's rollout takes ~0.1 s.
            buffer.poll_interval = float(poll_interval)
        clear_groups = buffer._clear_groups

        def observe_then_clear(partition_id: str, uids: set[str]) -> None:
            # DAPO-filtered and surplus groups were rolled out too: they are visits.
            if partition_id == "train" and uids:
                keys = [k for k in buffer.partitions[partition_id] if k.split("_")[0] in uids]
                self._observe(keys, None, partition_id)
            clear_groups(partition_id, uids)

        buffer._clear_groups = observe_then_clear
        return buffer

    def _keep_all_correct_groups(self, buffer) -> None:
        """Under RA, DAPO's filter evicts only all-wrong groups: all-correct ones carry RA's advantage.

        verl's filter (``_dapo_filtered_keys``) returns the zero-variance groups and caches each one's shared
        metric value (``acc``: the filter metric is refused otherwise); the wrapper keeps those below
        erpo.correct_threshold. The extension point is verl's own method, so refill and metrics follow it.
        """
        from collections import Counter

        filtered_keys = buffer._dapo_filtered_keys
        threshold = self.erpo_config.correct_threshold

        def all_wrong_only(partition_id: str):
            uids, _counts = filtered_keys(partition_id)
            cache = buffer._dapo_classification_cache[partition_id]
            evict = dapo_filter_under_ra({uid: cache[uid] for uid in uids}, threshold)
            return evict, Counter(cache[uid] for uid in evict)

        buffer._dapo_filtered_keys = all_wrong_only

    def _observe(self, keys, tags, partition_id: str, trained: bool = False) -> None:
        """Queue one record per finished group (non-padding trajectories only); ``trained``: the step's batch."""
        if tags is not None:
            keys = [k for k, tag in zip(keys, tags, strict=True) if not tag.get("is_padding", False)]
        if not keys:
            return
        data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=_OBSERVED_FIELDS)
        threshold = self.erpo_config.correct_threshold
        groups: dict[str, dict] = defaultdict(lambda: {"scores": [], "correct": [], "trained": trained})
        for uid, source, index, temp, scores, extra in zip(
            data["uid"], data["data_source"], data["index"], data[TEMPERATURE_FIELD],
            data["rm_scores"], data["extra_fields"], strict=True,
        ):
            score = float(scores.sum().item())
            reward_info = (unwrap_non_tensor(extra) or {}).get("reward_extra_info", {}) or {}
            group = groups[str(unwrap_non_tensor(uid))]
            group.update(source=str(unwrap_non_tensor(source)), index=int(unwrap_non_tensor(index)),
                         temperature=float(temp))
            group["scores"].append(score)
            group["correct"].append(is_correct(reward_info, threshold))
        self._pending_groups.extend(groups.values())

    def _flush_observations(self) -> dict[str, float]:
        groups, self._pending_groups = self._pending_groups, []
        if not groups:
            return {}
        trained = [g for g in groups if g["trained"]]
        ra = self.erpo_config.ra.enabled
        self.rollout_counter.record_trained(
            [len(g["scores"]) for g in trained],
            [max(g["scores"]) > min(g["scores"]) or (ra and all(g["correct"])) for g in trained],
        )
        start = time.perf_counter()
        metrics = self.erpo.update(
            step=int(self.global_steps),
            sources=[g["source"] for g in groups],
            indices=np.asarray([g["index"] for g in groups], dtype=np.int64),
            n=np.asarray([len(g["scores"]) for g in groups], dtype=np.int64),
            n_correct=np.asarray([sum(g["correct"]) for g in groups], dtype=np.int64),
            mean_reward=np.asarray([float(np.mean(g["scores"])) for g in groups], dtype=np.float64),
            temperature_used=np.asarray([g["temperature"] for g in groups], dtype=np.float64),
        )
        metrics["erpo/timing_s"] = self._erpo_seconds + time.perf_counter() - start
        self._erpo_seconds = 0.0
        return metrics

    # ---- 5. RA: all-correct groups by acc --------------------------------------------------
    def _compute_advantage(self, batch, metrics):
        if not self.erpo_config.ra.enabled:
            return super()._compute_advantage(batch, metrics)
        keys = [k for k, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding", False)]
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=["uid", "extra_fields"])
        threshold = self.erpo_config.correct_threshold
        uids = [str(unwrap_non_tensor(u)) for u in data["uid"]]
        corrects = [is_correct((unwrap_non_tensor(e) or {}).get("reward_extra_info", {}) or {}, threshold)
                    for e in data["extra_fields"]]
        groups = all_correct_groups(uids, corrects)
        metrics["erpo/ra_groups"] = float(len(groups))
        reactivation.set_all_correct_groups(groups)
        try:
            batch = super()._compute_advantage(batch, metrics)
        finally:
            reactivation.set_all_correct_groups(None)
        ra_mean = reactivation.last_ra_advantage_mean()
        if ra_mean is not None:
            metrics["erpo/ra_advantage_mean"] = ra_mean
        return batch

    # ---- 4. checkpoints -----------------------------------------------------------------
    def _save_checkpoint(self):
        save_side_file(self.config.trainer, self.global_steps, STATE_FILE, self.erpo.state_dict())
        super()._save_checkpoint()

    def _load_checkpoint(self):
        super()._load_checkpoint()
        if self.global_steps == 0:
            return
        path, state = load_erpo_state(self.config.trainer, self.global_steps, self.erpo_config.allow_fresh_tracker)
        if state is not None:
            self.erpo.load_state_dict(state)
            announce_restore(logger, f"ERPO tracker restored from {os.path.dirname(path)}: {len(self.erpo.tracker)} "
                             f"prompts, state sha256 {state_digest(self.erpo.state_dict())}")
            if self.erpo.greso is not None:
                greso = self.erpo.greso
                announce_restore(logger, f"GRESO state restored: p_easy={greso.p_easy}, p_hard={greso.p_hard}, "
                                 f"candidates_total={greso.counts['candidates_total']}, "
                                 f"skipped_total={greso.counts['skipped_total']}")


def state_digest(state: dict) -> str:
    """Order-independent digest of a controller state (resume tests compare it)."""
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def load_erpo_state(trainer_cfg, global_steps: int, allow_fresh: bool) -> tuple[str, dict | None]:
    """(path, state) of the tracker file in the checkpoint verl resumed from; missing or corrupt is an
    error unless ``erpo.allow_fresh_tracker=true`` (then logged, state None)."""
    return load_side_file(
        trainer_cfg, global_steps, STATE_FILE, what="ERPO tracker state",
        fix="Resume from a checkpoint written by the ERPO recipe, or set erpo.allow_fresh_tracker=true to "
            "continue with an empty tracker.",
        allow_fresh=allow_fresh, fresh_flag="erpo.allow_fresh_tracker",
    )
