"""``platform.prestart_rollout_server``: the vLLM server's process starts (and imports vLLM) while the FSDP worker
starts, and verl's replica takes it over when it launches its server.

verl launches the rollout server once the FSDP worker is up: the trainer's process imports the server's module
(vLLM, ~3 s), then the server's own process imports it again (~10 s on 2 cores) while nothing else runs beside it
(``python -m benchmarks.startup_timeline``). Here, when the trainer is built, a thread of the trainer's process
imports the module through verl's replica lookup and starts the server actor with the options verl's replica will
ask for (its name, which the FSDP worker looks the server up by, runtime environment, node and concurrency),
construction deferred (recipe/platform/prestart.py). verl's replica class is registered again under its rollout
name (verl's extension point ``RolloutReplicaRegistry``) as a subclass whose ``server_class`` hands that actor
over, constructed with verl's arguments, when verl asks for exactly those options; any other request starts a new
actor as verl would, and a request for the same name with other options replaces the prestarted actor (a warning
says which options differed). The same server class, arguments and engine: only when its process starts changes.

Single-node rollouts without prefill/decode disaggregation only (:func:`check`). Cut ``prestart_rollout_server`` in
benchmarks/step_cost.py.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import types

import ray

from recipe.platform.prestart import deferred

logger = logging.getLogger(__name__)

# The prestart of this process, while one is on.
_CURRENT: ServerPrestart | None = None


class ServerPrestart:
    """One prestarted server: the thread that imports verl's replica class and starts the actor, and then the
    replica subclass, the options and the actor it holds."""

    def __init__(self, config, loader):
        self._config, self._loader = config, loader
        self.base: type | None = None
        self.options: dict | None = None
        self.actor = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, name="prestart_rollout_server", daemon=True)

    def _start(self) -> None:
        try:
            self.base = self._loader()
            rollout = self._config.actor_rollout_ref.rollout
            # The replica verl's server manager makes first (LLMServerManager._initialize_llm_servers), for its names.
            replica = self.base(
                replica_rank=0, config=rollout, model_config=None, gpus_per_node=rollout.n_gpus_per_node
            )
            if replica.nnodes != 1:
                raise ValueError(f"a replica of {replica.nnodes} nodes has one server per node")
            self.options = server_options(replica)
            self.actor = deferred(replica.server_class).options(**self.options).remote()
        except BaseException as err:  # noqa: BLE001 - reported when verl asks for the replica class
            self.error = err

    def replica_class(self) -> type:
        """The registry's loader: verl's replica class, whose ``server_class`` takes the prestarted server over."""
        self.thread.join()
        if self.base is None:
            raise RuntimeError(f"platform.prestart_rollout_server: loading the replica class failed: {self.error!r}")
        if self.error is not None:
            logger.warning("platform.prestart_rollout_server: no server prestarted (%r); verl starts it", self.error)
            return self.base
        return prestarted_replica_class(self.base)

    def claim(self, options: dict):
        """The prestarted actor if verl asks for the options it was started with; None otherwise (after replacing it,
        if verl asks for its name with other options)."""
        if self.actor is None or options.get("name") != self.options["name"]:
            return None
        actor, self.actor = self.actor, None
        differ = sorted(
            key for key in set(options) | set(self.options) if not _same(options.get(key), self.options.get(key))
        )
        if not differ:
            return actor
        logger.warning(
            "platform.prestart_rollout_server: verl asked for server %s with other %s; starting it as verl does",
            options["name"],
            differ,
        )
        ray.kill(actor, no_restart=True)
        _wait_for_name_release(options["name"])
        return None


def server_options(replica) -> dict:
    """The options verl's replica creates its server actor with (vLLMReplica.launch_servers, single node)."""
    from verl.plugin.platform import get_platform

    platform = get_platform()
    env_vars = {**{var: "1" for var in platform.ray_noset_envvars()}, **platform.rollout_env_vars()}
    return dict(
        scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=False
        ),
        runtime_env={"env_vars": env_vars},
        name=f"{replica._get_server_name_prefix()}server_{replica.replica_rank}_0{replica.name_suffix}",
        max_concurrency=replica.max_concurrency,
    )


def _same(a, b) -> bool:
    if isinstance(a, ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy):
        return type(a) is type(b) and (a.node_id, a.soft) == (b.node_id, b.soft)
    return a == b


def _wait_for_name_release(name: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name)
        except ValueError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"platform.prestart_rollout_server: the replaced server {name} did not exit in {timeout_s} s")


class PrestartedActorClass:
    """Stands for a replica's ``server_class``: ``options(**o).remote(*a, **k)`` hands over the prestarted server
    (constructed with ``a, k``) when ``o`` are the options it was started with, else starts one as verl does."""

    def __init__(self, actor_class):
        self._actor_class = actor_class

    def options(self, **options):
        return types.SimpleNamespace(remote=functools.partial(self._remote, options))

    def _remote(self, options: dict, *args, **kwargs):
        actor = _CURRENT.claim(options) if _CURRENT is not None else None
        if actor is None:
            return self._actor_class.options(**options).remote(*args, **kwargs)
        # Before verl's next call reaches it (a call to an async actor may start before an earlier one ends).
        ray.get(actor.construct.remote(*args, **kwargs))
        return actor


@functools.cache
def prestarted_replica_class(base: type) -> type:
    """``base`` (verl's replica class) whose server class takes the prestarted server over."""

    def __init__(self, *args, **kwargs):
        base.__init__(self, *args, **kwargs)
        self.server_class = PrestartedActorClass(self.server_class)

    return type(f"Prestarted{base.__name__}", (base,), {"__init__": __init__, "__module__": __name__})


def check(config) -> None:
    """Refuse (ValueError) a rollout whose server cannot be prestarted."""
    from omegaconf import OmegaConf

    from recipe.platform.cpu import platform_flag

    if not platform_flag(config.get("platform"), "prestart_rollout_server"):
        return
    if OmegaConf.select(config, "actor_rollout_ref.rollout.disaggregation.enabled", default=False):
        raise ValueError(
            "platform.prestart_rollout_server=true with actor_rollout_ref.rollout.disaggregation.enabled=true: "
            "prefill/decode servers are not prestarted; set platform.prestart_rollout_server=false."
        )
    if int(OmegaConf.select(config, "trainer.nnodes", default=1)) != 1:
        raise ValueError(
            "platform.prestart_rollout_server=true needs trainer.nnodes=1 (one server on this node); "
            "set platform.prestart_rollout_server=false."
        )


def start(config) -> ServerPrestart:
    """Register the replica override under the rollout's name and start the prestart thread (Ray must be up)."""
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    global _CURRENT
    name = str(config.actor_rollout_ref.rollout.name)
    # verl's loader, not yet called: calling it imports the server's module, which the thread does.
    loader = RolloutReplicaRegistry._registry[name]
    if isinstance(getattr(loader, "__self__", None), ServerPrestart):  # an earlier prestart's, in this process
        loader = loader.__self__._loader
    _CURRENT = ServerPrestart(config, loader)
    RolloutReplicaRegistry.register(name, _CURRENT.replica_class)
    _CURRENT.thread.start()
    return _CURRENT
