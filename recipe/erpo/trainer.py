"""The data-side trainer on verl's V1 sync trainer: an ordered list of components (erpo/components.py), built
once from the config, called through the protocol at verl's hooks.

1. Before dispatch (``_next_train_batch``): the components' ``choose`` calls, chained from verl's data loader
   (rollout accounting, then a prompt selector such as GRESO or PREPO, then ERPO's per-sample temperatures).
2. Dispatch (``_submit_batch_to_rollout``): every component hears of each batch sent to the rollout, the
   step's first batch and every DAPO refill alike.
3. Log-prob passes (old policy, reference, actor update): each component may rewrite the batch metadata
   (ERPO keeps each sample's temperature: ``PerSampleTemperatureInfo``, recipe/erpo/component.py); before
   the actor update each may add to the batch (PREPO's entropy normaliser).
4. After scoring (``_balance_batch``, the first hook that receives the scored batch): every finished group,
   including the groups DAPO's dynamic sampling evicts (observed on their way out of the replay buffer), goes
   to every component's ``observe``; then each ``end_step`` adds its metrics.
5. Advantage: each component may wrap verl's advantage in a context (ERPO's RA).
6. Checkpoints: each component's side file, written before verl marks the checkpoint complete, and restored
   on resume (recipe/common/components.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict

import transfer_queue as tq
from omegaconf import DictConfig, OmegaConf
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from erpo.components import ScoredGroup, StepContext, build_components, choose_batch, close_step, shared_pieces
from erpo.erpo.correctness import is_correct
from recipe.common import methods  # noqa: F401  (registers the built-in methods)
from recipe.common.components import load_component_states, save_component_states
from recipe.common.non_tensor import unwrap_non_tensor
from recipe.erpo.agent_loop import TEMPERATURE_FIELD
from recipe.platform import prestart_server
from recipe.platform.cpu import platform_flag
from recipe.platform.pass_fields import check_non_tensor_fields, narrowed, transfer_queue_schema
from recipe.platform.single_server import SingleServerClient, llm_client_class

logger = logging.getLogger(__name__)


# Fields of a trajectory a scored group needs; verl stores every prompt field with each trajectory.
_OBSERVED_FIELDS = ["uid", "data_source", "index", TEMPERATURE_FIELD, "rm_scores", "extra_fields"]


class ERPOTrainer(PPOTrainerSync):
    """verl's sync trainer with the data-side components of the config (always the rollout accounting and the
    ERPO tracker; PREPO, GRESO or a registered method when their section turns them on)."""

    def __init__(self, config: DictConfig):
        if platform_flag(config.get("platform"), "prestart_rollout_server"):
            # The trainer's process now only waits for its workers (recipe/platform/prestart_server.py).
            prestart_server.start(config)
        self.components = build_components(config)
        for component in self.components:
            component.bind(self)
        self._shared = shared_pieces(self.components)
        self._costs: dict[str, int] = {}
        self._pending_groups: list[ScoredGroup] = []
        # acc above this counts as correct (erpo.correct_threshold, checked by ERPOConfig).
        self._correct_threshold = float(config.erpo.correct_threshold)
        # Non-tensor fields the model passes receive (recipe/platform/pass_fields.py); None: all, as verl.
        self._pass_non_tensor_fields = check_non_tensor_fields(
            OmegaConf.select(config, "platform.pass_non_tensor_fields", default=None)
        )
        super().__init__(config)

    def _context(self) -> StepContext:
        return StepContext(
            step=int(self.global_steps),
            seed=int(self.config.get("seed", 0) or 0),
            shared=self._shared,
            costs=self._costs,
        )

    def on_init_end(self):
        for component in self.components:
            component.on_workers_ready()
        super().on_init_end()

    def get_llm_client(self):
        """The rollout's LLM-server client: ``platform.llm_client_class`` when set (the CPU platform's
        recipe/platform/single_server.py), through verl's own ``get_client(client_cls=...)``; else verl's."""
        name = OmegaConf.select(self.config, "platform.llm_client_class")
        if not name:
            return super().get_llm_client()
        cls = llm_client_class(name)
        if not issubclass(cls, SingleServerClient):
            return self.llm_server_manager.get_client(client_cls=cls)
        manager = self.llm_server_manager  # the pool verl builds its balancer from
        servers = dict(zip(manager.server_addresses, manager.server_handles, strict=True))
        return manager.get_client(client_cls=cls, servers=servers)

    # ---- 1. choose the prompts ----------------------------------------------------------
    def _next_train_batch(self, num_prompts: int | None = None):
        return choose_batch(self.components, super()._next_train_batch, num_prompts, self._context())

    # ---- 2. dispatch --------------------------------------------------------------------
    def _submit_batch_to_rollout(self, batch) -> int:
        ctx, n = self._context(), int(self.config.actor_rollout_ref.rollout.n)
        for component in self.components:
            component.dispatched(ctx, len(batch), n)
        return super()._submit_batch_to_rollout(batch)

    # ---- 3. log-prob passes -------------------------------------------------------------
    def _logprob_metadata(self, batch) -> None:
        for component in self.components:
            batch.extra_info = component.logprob_metadata(batch.extra_info)

    def _pass_fields(self, batch):
        return narrowed(batch, self._pass_non_tensor_fields, transfer_queue_schema)

    def _compute_old_log_prob(self, batch, metrics):
        self._logprob_metadata(batch)
        with self._pass_fields(batch):
            return super()._compute_old_log_prob(batch, metrics)

    def _compute_ref_log_prob(self, batch, metrics):
        self._logprob_metadata(batch)
        with self._pass_fields(batch):
            return super()._compute_ref_log_prob(batch, metrics)

    def _update_actor(self, batch, metrics):
        self._logprob_metadata(batch)
        for component in self.components:
            component.before_actor_update(batch, metrics)
        with self._pass_fields(batch):
            return super()._update_actor(batch, metrics)

    # ---- 4. scored groups ---------------------------------------------------------------
    def _balance_batch(self, batch, metrics):
        """Every component observes the step's scored groups and closes the step, then verl balances.

        The hook: verl's ``_step_once`` hands the sampled, scored batch and the step's metrics to
        ``_balance_batch`` first (``on_sample_end`` gets neither), before any log-prob pass.
        """
        self._observe(batch.keys, batch.tags, batch.partition_id, trained=True)
        groups, self._pending_groups = self._pending_groups, []
        metrics.update(close_step(self.components, groups, self._context()))
        return super()._balance_batch(batch, metrics)

    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        for component in self.components:
            component.wrap_replay_buffer(buffer)
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

    def _observe(self, keys, tags, partition_id: str, trained: bool = False) -> None:
        """Queue one ScoredGroup per finished group (non-padding trajectories only); ``trained``: the step's
        batch."""
        if tags is not None:
            keys = [k for k, tag in zip(keys, tags, strict=True) if not tag.get("is_padding", False)]
        if not keys:
            return
        data = tq.kv_batch_get(keys=keys, partition_id=partition_id, select_fields=_OBSERVED_FIELDS)
        groups: dict[str, dict] = defaultdict(lambda: {"scores": [], "correct": []})
        for uid, source, index, temp, scores, extra in zip(
            data["uid"],
            data["data_source"],
            data["index"],
            data[TEMPERATURE_FIELD],
            data["rm_scores"],
            data["extra_fields"],
            strict=True,
        ):
            reward_info = (unwrap_non_tensor(extra) or {}).get("reward_extra_info", {}) or {}
            group = groups[str(unwrap_non_tensor(uid))]
            group.update(
                source=str(unwrap_non_tensor(source)), index=int(unwrap_non_tensor(index)), temperature=float(temp)
            )
            group["scores"].append(float(scores.sum().item()))
            group["correct"].append(is_correct(reward_info, self._correct_threshold))
        self._pending_groups.extend(
            ScoredGroup(g["source"], g["index"], g["temperature"], tuple(g["scores"]), tuple(g["correct"]), trained)
            for g in groups.values()
        )

    # ---- 5. advantage -------------------------------------------------------------------
    def _compute_advantage(self, batch, metrics):
        with contextlib.ExitStack() as scopes:
            for component in self.components:
                scopes.enter_context(component.advantage_scope(batch, metrics))
            return super()._compute_advantage(batch, metrics)

    # ---- 6. checkpoints -----------------------------------------------------------------
    def _save_checkpoint(self):
        save_component_states(self.components, self.config.trainer, self.global_steps)
        super()._save_checkpoint()

    def _load_checkpoint(self):
        super()._load_checkpoint()
        if self.global_steps != 0:
            load_component_states(self.components, self.config.trainer, self.global_steps)
