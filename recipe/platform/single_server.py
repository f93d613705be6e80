"""An LLM-server client that asks verl's load balancer once when there is only one rollout server.

verl's ``LLMServerClient.generate`` makes two Ray calls to the global load-balancer actor around every request:
``acquire_server`` (awaited) before it and ``release_server`` after it. With several vLLM replicas that routing is
the point (least in-flight requests, sticky sessions). With one replica, as on the CPU platform (one logical GPU,
tensor parallel 1), the balancer's answer is always the same server, and the two calls are pure per-rollout
overhead in the agent-loop worker, which is what a CPU step's generation time is made of (BENCHMARKS.md, "Step
cost on CPU"). This client takes the server pool from the trainer (or asks the balancer for it once); if it holds
exactly one server, every request goes straight to that server. The requests,
their sampling parameters and the engine are the same, so nothing generated or trained changes. With more than
one server it is verl's client.

Selected by ``platform.llm_client_class`` (recipe/conf/platform/cpu.yaml) through verl's extension point
``LLMServerManager.get_client(client_cls=...)`` (recipe/erpo/trainer.py); cut ``single_server_direct`` in
benchmarks/step_cost.py. A server pool that changes during a run (verl's elastic add/remove) is not supported
by the cache; the sync trainer this recipe runs never changes it.
"""

from __future__ import annotations

import asyncio
import logging

from verl.workers.rollout.llm_server import LLMServerClient

from recipe.common.dotted import subclass_at

logger = logging.getLogger(__name__)


class SingleServerClient(LLMServerClient):
    """verl's client, routing straight to the one server when the balancer holds exactly one."""

    def __init__(self, *args, servers: dict[str, object] | None = None, **kwargs):
        """``servers``: the server pool (address -> handle) as the trainer's server manager holds it, the pool verl
        builds its balancer from. Given, the client never waits on the balancer when the pool is one server (the
        balancer actor starts beside the first rollouts, importing vLLM: ~3 s of start-up on 2 cores); None: the
        client asks the balancer for the pool on the first request."""
        super().__init__(*args, **kwargs)
        # (server_id, handle) once the pool is known to hold that one server; None: ask the balancer.
        self._only_server: tuple[str, object] | None = None
        self._pool_checked = servers is not None
        if servers is not None and len(servers) == 1:
            self._only_server = next(iter(servers.items()))

    def _first_lookup_lock(self) -> asyncio.Lock:
        # Made in the worker's event loop on first use: the client is built in the trainer and pickled to the
        # agent-loop workers.
        return self.__dict__.setdefault("_lookup_lock", asyncio.Lock())

    async def _acquire_server(self, request_id: str, **extra):
        if self._only_server is not None:
            return self._only_server
        async with self._first_lookup_lock():
            if not self._pool_checked:
                servers = await self._load_balancer.get_all_servers.remote()
                if len(servers) == 1:
                    server_id, handle = await super()._acquire_server(request_id, **extra)
                    super()._release_server(server_id, request_id=request_id)
                    self._only_server = (server_id, handle)
                logger.info(
                    "rollout server pool of %d: %s",
                    len(servers),
                    "requests go straight to it" if self._only_server else "verl's load balancing",
                )
                self._pool_checked = True
        if self._only_server is not None:
            return self._only_server
        return await super()._acquire_server(request_id, **extra)

    def _release_server(self, server_id: str, request_id: str | None = None) -> None:
        if self._only_server is None:
            super()._release_server(server_id, request_id=request_id)


def llm_client_class(name: str) -> type:
    """``platform.llm_client_class``: a dotted path to a subclass of verl's LLMServerClient."""
    return subclass_at(
        "platform.llm_client_class",
        name,
        LLMServerClient,
        "use one (recipe.platform.single_server.SingleServerClient) or null for verl's.",
    )
