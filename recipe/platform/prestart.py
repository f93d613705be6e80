"""``platform.prestart_rollout_workers``: start the agent-loop workers' processes as soon as Ray is up, and construct
them when verl's trainer asks for them.

verl creates its agent-loop workers last, once the TransferQueue actors, the FSDP worker (imports, model), the reward
worker and the vLLM server have started one after another. Each agent-loop worker's process then imports torch,
transformers, verl and TransferQueue (~7 s on 2 cores) while the first step waits on it; earlier in that chain one of
the two cores idled for most of ~30 s (``python -m benchmarks.startup_timeline``). The worker's constructor needs
the LLM client, which exists only once the server is up; its process does not. So the process starts (an actor
whose ``__init__`` takes nothing, :class:`DeferredConstruction`) when the run starts and imports while the chain
runs; the manager then calls ``construct`` with the arguments verl's manager passes to ``__init__``. The same class,
the same arguments, the same worker: only the moment its process starts changes.

Supported for this recipe's managers (:class:`recipe.platform.agent_loop_reuse.ReusedLoopManagerTQ` and its
subclass ``GroupRolloutManagerTQ``), which take the started workers; verl's own manager would start its own beside
them, so that pairing is refused (:func:`check`, before Ray starts, and
:func:`manager_class` when the workers start). Cut ``prestart_rollout_workers`` in benchmarks/step_cost.py.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from uuid import uuid4

import ray

MANAGER_FIELD = "actor_rollout_ref.rollout.agent.agent_loop_manager_class"

# Workers this process started, by the manager class that will construct them.
_STARTED: dict[type, list] = {}


class DeferredConstruction:
    """Mixin for an actor class: ``__init__`` takes no constructor arguments (the process starts and imports the
    class's modules), only warm-ups to call; ``construct`` runs the class's own ``__init__`` with the arguments it
    would have been created with."""

    def __init__(self, *warm_ups: Callable[[], object]):
        # What construction and the first requests will import (the rollout server's module, whose handles arrive
        # with the LLM client: vLLM's ~780 modules), imported here, before they are waited on.
        for warm_up in warm_ups:
            warm_up()

    def construct(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)


@functools.cache
def deferred(actor_class):
    """The ``@ray.remote`` class ``actor_class`` with its construction deferred (:class:`DeferredConstruction`)."""
    base = actor_class.__ray_actor_class__
    return ray.remote(type(f"Prestarted{base.__name__}", (DeferredConstruction, base), {"__module__": __name__}))


def check_manager_field(name) -> None:
    """The refusal before Ray starts: a manager is named (verl's own, null, starts its own workers). Whether the
    named class takes prestarted workers is checked when they start (:func:`manager_class`): importing it here
    would put verl's trainer modules (~2 s) before Ray's start."""
    if not name:
        raise ValueError(
            f"platform.prestart_rollout_workers=true needs {MANAGER_FIELD} set to a manager that takes prestarted "
            "workers (recipe.platform.group_rollout.GroupRolloutManagerTQ); verl's own manager (null) starts its "
            "own. Set platform.prestart_rollout_workers=false to keep verl's."
        )


def manager_class(name) -> type:
    """The agent-loop manager ``name`` names, if it can take prestarted workers; a ValueError naming the fields
    otherwise."""
    from recipe.common.dotted import subclass_at
    from recipe.platform.agent_loop_reuse import ReusedLoopManagerTQ

    check_manager_field(name)
    return subclass_at(
        MANAGER_FIELD,
        name,
        ReusedLoopManagerTQ,
        "only this recipe's managers take prestarted workers. Set platform.prestart_rollout_workers=false, or use "
        "recipe.platform.group_rollout.GroupRolloutManagerTQ.",
    )


def check(config) -> None:
    """Refuse (ValueError) a config whose prestarted workers no manager would take."""
    from omegaconf import OmegaConf

    from recipe.platform.cpu import platform_flag

    if platform_flag(config.get("platform"), "prestart_rollout_workers"):
        check_manager_field(OmegaConf.select(config, MANAGER_FIELD, default=None))


def start_rollout_workers(config) -> list:
    """Start ``rollout.agent.num_workers`` deferred workers of the configured manager's worker class, named and
    placed as verl's manager places its own (round robin over the nodes with CPUs); Ray must be up."""
    from omegaconf import OmegaConf

    manager = manager_class(OmegaConf.select(config, MANAGER_FIELD, default=None))
    actor_class = deferred(manager.workers_class)
    warm_ups = [rollout_server_import(config), functools.partial(importlib.import_module, llm_client_module(config))]
    node_ids = [node["NodeID"] for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU", 0) > 0]
    workers = [
        actor_class.options(
            name=f"agent_loop_worker_{i}_{uuid4().hex[:8]}",
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node_id=node_ids[i % len(node_ids)], soft=True
            ),
        ).remote(*warm_ups)
        for i in range(int(config.actor_rollout_ref.rollout.agent.num_workers))
    ]
    _STARTED[manager] = workers
    return workers


def rollout_server_import(config) -> Callable[[], type]:
    """verl's lookup of the rollout replica class (its module holds the server class: vLLM's ~780 modules), as the
    trainer's server manager does it."""
    from omegaconf import OmegaConf
    from verl.workers.rollout.replica import get_rollout_replica_class

    rollout = config.actor_rollout_ref.rollout
    return functools.partial(
        get_rollout_replica_class, rollout.name, bool(OmegaConf.select(rollout, "disaggregation.enabled"))
    )


def llm_client_module(config) -> str:
    """The module of the rollout's LLM-server client class (``platform.llm_client_class``, or verl's)."""
    from omegaconf import OmegaConf

    name = OmegaConf.select(config, "platform.llm_client_class", default=None)
    return str(name).rsplit(".", 1)[0] if name else "verl.workers.rollout.llm_server"


def take(manager: type) -> list | None:
    """The workers started for ``manager``'s class in this process (each once), or None."""
    return _STARTED.pop(manager, None)
