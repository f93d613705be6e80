"""ERPO as a data-side component on verl's V1 sync trainer (the pure core: erpo/erpo/controller.py).

1. ``choose``: each prompt of the batch chosen before it gets its temperature from the tracker, as a
   per-sample ``temperature`` field the agent loop turns into that request's sampling temperature
   (one line per batch in ``erpo_assignments.jsonl`` when ``erpo.log_assignments``).
2. Log-prob passes (old policy, reference, actor update): verl writes one scalar ``temperature`` into the
   batch metadata, which would overwrite the per-sample field on the worker. With
   ``erpo.logprob_temperature=sampled`` (default, our choice) :class:`PerSampleTemperatureInfo` drops that
   scalar, so the engine divides each sample's logits by the temperature it was drawn at; with ``base`` the
   scalar (the rollout temperature, refused unless equal to ``erpo.temperature.base``) replaces every
   sample's field.
3. ``observe``: every finished group of the step updates the tracker, DAPO-evicted groups included;
   ``end_step`` returns the ``erpo/`` metrics. The tracker is published as ``prompt_history``.
4. Checkpoints hold the tracker (``erpo_state.json``; its ``greso`` entry stays None, GRESO has its own file).
5. RA (``erpo.ra.enabled``): before the advantage the estimator learns which groups were all correct by
   ``acc`` (erpo/erpo/correctness.py, the tracker's definition); under DAPO the replay buffer's filter keeps
   all-correct groups (only all-wrong ones are evicted), so RA reaches them (docs/erpo.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter

import numpy as np
import torch
from omegaconf import OmegaConf

from erpo.components import OUTCOME_RULE, PROMPT_HISTORY, MethodSpec, register
from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from erpo.erpo.correctness import all_correct_groups, dapo_filter_under_ra, is_correct
from recipe.common.components import VerlComponent
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.erpo import reactivation
from recipe.erpo.agent_loop import TEMPERATURE_FIELD

STATE_FILE = "erpo_state.json"
ASSIGNMENTS_FILE = "erpo_assignments.jsonl"


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


def state_digest(state: dict) -> str:
    """Order-independent digest of a controller state (resume tests compare it)."""
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def keep_all_correct_groups(buffer, threshold: float) -> None:
    """Under RA, DAPO's filter evicts only all-wrong groups: all-correct ones carry RA's advantage.

    verl's filter (``_dapo_filtered_keys``) returns the zero-variance groups and caches each one's shared
    metric value (``acc``: the filter metric is refused otherwise); the wrapper keeps those below
    erpo.correct_threshold. The extension point is verl's own method, so refill and metrics follow it.
    """
    filtered_keys = buffer._dapo_filtered_keys

    def all_wrong_only(partition_id: str):
        uids, _counts = filtered_keys(partition_id)
        cache = buffer._dapo_classification_cache[partition_id]
        evict = dapo_filter_under_ra({uid: cache[uid] for uid in uids}, threshold)
        return evict, Counter(cache[uid] for uid in evict)

    buffer._dapo_filtered_keys = all_wrong_only


class ERPOComponent(VerlComponent):
    name = "erpo"
    state_file = STATE_FILE
    restore_label = "ERPO tracker"
    missing_state_fix = (
        "Resume from a checkpoint written by the ERPO recipe, or set erpo.allow_fresh_tracker=true "
        "to continue with an empty tracker."
    )

    def __init__(self, cfg: ERPOConfig, assignments_dir: str | None = None):
        self.cfg = cfg
        self.controller = ERPOController(cfg)
        self.assignments_dir = assignments_dir if cfg.log_assignments else None
        self.fresh_flag = ("erpo.allow_fresh_tracker", cfg.allow_fresh_tracker)
        # Seconds of ERPO data-side work (assign + update + metrics) since the last end_step; logged as
        # erpo/timing_s so the overhead benchmark compares it with timing_s/step.
        self._seconds = 0.0
        self._metrics: dict[str, float] = {}
        reactivation.configure(cfg.ra.enabled, cfg.ra.form, cfg.ra.pseudo_reward, cfg.ra.advantage)

    @classmethod
    def from_config(cls, config) -> ERPOComponent:
        cfg = ERPOConfig.from_dict(OmegaConf.to_container(config.erpo, resolve=True))
        return cls(cfg, str(config.trainer.default_local_dir))

    def publishes(self) -> dict:
        return {PROMPT_HISTORY: self.controller.history()}

    # ---- temperatures in --------------------------------------------------------------
    def choose(self, draw, wanted, ctx):
        batch = draw(wanted)
        sources = [str(unwrap_non_tensor(s)) for s in batch["data_source"]]
        indices = np.asarray([int(unwrap_non_tensor(i)) for i in batch["index"]], dtype=np.int64)
        start = time.perf_counter()
        temperatures = self.controller.assign(sources, indices)
        self._seconds += time.perf_counter() - start
        if self.assignments_dir is not None:
            self._log_assignments(ctx.step, sources, indices, temperatures)
        batch[TEMPERATURE_FIELD] = torch.as_tensor(np.asarray(temperatures), dtype=torch.float32)
        return batch

    def _log_assignments(self, step: int, sources, indices, temperatures) -> None:
        """One JSON line per batch: which prompt was sampled at which temperature (``step``: the step this
        batch trains as; verl increments after the step)."""
        os.makedirs(self.assignments_dir, exist_ok=True)
        record = {
            "step": int(step),
            "data_source": list(sources),
            "index": [int(i) for i in indices],
            "temperature": [round(float(t), 6) for t in temperatures],
        }
        with open(os.path.join(self.assignments_dir, ASSIGNMENTS_FILE), "a") as f:
            f.write(json.dumps(record) + "\n")

    # ---- the same temperature in every log-prob pass ----------------------------------
    def logprob_metadata(self, extra_info):
        return logprob_metadata(extra_info, self.cfg.logprob_temperature)

    # ---- rewards out ------------------------------------------------------------------
    def observe(self, groups, ctx) -> None:
        if not groups:
            return
        start = time.perf_counter()
        mean_reward = np.asarray([float(np.mean(g.scores)) for g in groups], dtype=np.float64)
        rule = ctx.shared.get(OUTCOME_RULE)
        self._metrics = self.controller.update(
            step=ctx.step,
            sources=[g.source for g in groups],
            indices=np.asarray([g.index for g in groups], dtype=np.int64),
            n=np.asarray([len(g.scores) for g in groups], dtype=np.int64),
            n_correct=np.asarray([sum(g.correct) for g in groups], dtype=np.int64),
            mean_reward=mean_reward,
            temperature_used=np.asarray([g.temperature for g in groups], dtype=np.float64),
            outcome=None if rule is None else rule(mean_reward),
        )
        self._seconds += time.perf_counter() - start

    def end_step(self, ctx) -> dict[str, float]:
        if not self._metrics:
            return {}
        metrics, self._metrics = self._metrics, {}
        metrics["erpo/timing_s"] = self._seconds
        self._seconds = 0.0
        return metrics

    # ---- RA ---------------------------------------------------------------------------
    def wrap_replay_buffer(self, buffer) -> None:
        if self.cfg.ra.enabled and getattr(buffer, "filter_groups_metric", None) is not None:
            keep_all_correct_groups(buffer, self.cfg.correct_threshold)

    @contextlib.contextmanager
    def advantage_scope(self, batch, metrics):
        """RA: tell the estimator which groups were all correct by acc while verl computes the advantage."""
        if not self.cfg.ra.enabled:
            yield
            return
        import transfer_queue as tq

        keys = [k for k, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding", False)]
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=["uid", "extra_fields"])
        uids = [str(unwrap_non_tensor(u)) for u in data["uid"]]
        corrects = [
            is_correct((unwrap_non_tensor(e) or {}).get("reward_extra_info", {}) or {}, self.cfg.correct_threshold)
            for e in data["extra_fields"]
        ]
        groups = all_correct_groups(uids, corrects)
        metrics["erpo/ra_groups"] = float(len(groups))
        reactivation.set_all_correct_groups(groups)
        try:
            yield
        finally:
            reactivation.set_all_correct_groups(None)
        ra_mean = reactivation.last_ra_advantage_mean()
        if ra_mean is not None:
            metrics["erpo/ra_advantage_mean"] = ra_mean

    # ---- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict:
        return self.controller.state_dict()

    def load_state_dict(self, state: dict) -> str:
        self.controller.load_state_dict(state)
        return f"{len(self.controller.tracker)} prompts, state sha256 {state_digest(self.state_dict())}"


# The tracker always runs (GRESO's streaks come from it); erpo.enabled=false keeps every temperature at base.
SPEC = register(
    MethodSpec(name="erpo", section="erpo", enabled=lambda section: True, build=ERPOComponent.from_config, order=100)
)
