"""Data-side components: the one interface through which a trainer runs ERPO, PREPO, GRESO, the rollout
accounting, and any method added later; and the registry that builds them from the config.

A data-side method decides which prompts are rolled out and how they are sampled, and learns from the
scored groups. A trainer holds an ordered list of components and, each training step, calls:

1. ``choose(draw, wanted, ctx)`` before dispatch, in list order from the data loader outward: the first
   component's ``draw`` is the loader, each later component's ``draw`` is the ``choose`` of the one before.
   ``wanted`` is the number of prompts asked for (None: the step's first round, the component decides).
   A component may drop prompts (GRESO, a skip baseline), draw more and keep some (PREPO), or set
   per-sample sampling fields (ERPO's temperature). The default passes ``draw(wanted)`` through.
2. ``dispatched(ctx, prompts, n)`` for each batch handed to the rollout (``n`` responses per prompt).
3. ``observe(groups, ctx)`` once per step with every scored group of the step (trained ones, and groups
   DAPO's dynamic sampling evicted, ``trained=False``), in list order.
4. ``end_step(ctx)`` after every component observed: the step's metrics, each key under the component's
   own namespace (``<name>/...``, documented in docs/metrics.md).
5. ``state_dict()`` / ``load_state_dict(state)`` through the checkpoint side file ``state_file`` of its own
   (None: nothing to save).

No component reads another's attributes. What two components share is published by name
(:meth:`DataComponent.publishes`; e.g. ``prompt_history``, the ERPO tracker's read-only per-prompt view
that GRESO's skip reads) and reaches every component through ``ctx.shared``; a component names what it
needs in ``needs``, and :func:`build_components` refuses a list in which nobody publishes it. Costs that
are not rollouts (PREPO's perplexity forward passes) are added to ``ctx.costs`` and read by whoever counts
them (the rollout accounting).

Registry: a method registers a :class:`MethodSpec` (its config section, whether that section turns it on,
its builder and its refusals) with :func:`register`; :func:`build_components` builds, in ``order``, every
registered method the config turns on, parsing and validating each section once, in its builder. A module
named in the config list ``method_modules`` is imported first, so a method in its own folder registers
itself without any edit of the trainer or the refusals (docs/adding-a-method.md). Framework-free.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from erpo.errors import ConfigError

# Shared piece the ERPO tracker publishes: per-prompt history, read-only.
PROMPT_HISTORY = "prompt_history"
# Cost in StepContext.costs: forward passes spent scoring prompts before dispatch (PREPO's perplexities).
SCORING_FORWARD_PASSES = "scoring_forward_passes"
# Shared piece GRESO publishes when its group rule is not the tracker's own (outcomes from mean scores).
OUTCOME_RULE = "outcome_rule"


class PromptHistory(Protocol):
    """Read-only per-prompt view of the ERPO tracker (erpo/erpo/tracker.py)."""

    def zero_variance_streaks(self, sources: Sequence[str], indices) -> tuple[np.ndarray, np.ndarray]: ...

    def temperatures(self, sources: Sequence[str], indices) -> np.ndarray: ...


@dataclass(frozen=True)
class ScoredGroup:
    """One finished group of ``len(scores)`` responses to prompt (source, index), sampled at ``temperature``.
    ``correct``: each response's acc (erpo/erpo/correctness.py); ``trained``: in the step's training batch."""

    source: str
    index: int
    temperature: float
    scores: tuple[float, ...]
    correct: tuple[bool, ...]
    trained: bool


@dataclass
class StepContext:
    """What a trainer tells every component about the current step (``step``: verl's global step, the step
    the chosen batch trains as; ``seed``: the run's seed). ``shared``: published pieces by name;
    ``costs``: non-rollout costs of this step by name (reset when the step ends)."""

    step: int
    seed: int = 0
    shared: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, int] = field(default_factory=dict)


class DataComponent:
    """Base of every data-side component: every hook is optional and defaults to doing nothing."""

    # Metric namespace (metrics are "<name>/...") and the registry key.
    name: str = ""
    # Checkpoint side file of this component's state (None: stateless).
    state_file: str | None = None
    # Shared pieces this component reads from ctx.shared (a publisher must be in the list).
    needs: tuple[str, ...] = ()

    def publishes(self) -> dict[str, Any]:
        """Shared pieces, by name, other components may read (read-only views)."""
        return {}

    def choose(self, draw: Callable[[int | None], Any], wanted: int | None, ctx: StepContext):
        return draw(wanted)

    def dispatched(self, ctx: StepContext, prompts: int, n: int) -> None:
        return None

    def observe(self, groups: Sequence[ScoredGroup], ctx: StepContext) -> None:
        return None

    def end_step(self, ctx: StepContext) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> str:
        """Restore from ``state_dict()`` (check first, change nothing on refusal); returns a one-line summary
        of what was restored (for the log)."""
        return "restored"


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: ``section`` of the config it reads; ``enabled(section)`` whether that section turns
    it on; ``build(config)`` the component (parses and validates the section once); ``refuse(config)`` (optional,
    run for every registered method, on or off) raises ConfigError naming the field before anything starts;
    ``order`` its place in the list (the
    rollout accounting 0, prompt selectors 50, ERPO's temperatures 100)."""

    name: str
    section: str
    enabled: Callable[[Mapping], bool]
    build: Callable[[Any], DataComponent]
    order: int = 50
    refuse: Callable[[Any], None] | None = None


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method; registering one name twice with another spec is an error (two folders claim it)."""
    known = _REGISTRY.get(spec.name)
    if known is not None and known != spec:
        raise ConfigError(f"data-side method {spec.name!r} is registered twice; rename one of them.")
    _REGISTRY[spec.name] = spec
    return spec


def registered() -> dict[str, MethodSpec]:
    return dict(_REGISTRY)


def import_method_modules(config: Mapping) -> None:
    """Import each module in ``config["method_modules"]`` (a list of dotted names) so that it registers."""
    modules = config.get("method_modules") or []
    if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"method_modules={modules!r} must be a list of module names (e.g. [my_method.register]).")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(
                f"method_modules: cannot import {module!r} ({err}); put its folder on PYTHONPATH."
            ) from err


def enabled_specs(config: Mapping) -> list[MethodSpec]:
    """The registered methods the config turns on, in ``order`` (then name)."""
    import_method_modules(config)
    specs = [s for s in _REGISTRY.values() if s.enabled(config.get(s.section) or {})]
    return sorted(specs, key=lambda s: (s.order, s.name))


def refuse_methods(config) -> None:
    """Every registered method's own refusals (ConfigError naming the field), on or off: a method's refusal
    also catches fields that need it on (e.g. PREPO's loss mode without PREPO's weighting)."""
    import_method_modules(config)
    for spec in sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name)):
        if spec.refuse is not None:
            spec.refuse(config)


def build_components(config) -> list[DataComponent]:
    """The ordered component list of a run; refuses a list whose ``needs`` nobody publishes."""
    components = [spec.build(config) for spec in enabled_specs(config)]
    published = shared_pieces(components)
    for c in components:
        missing = [n for n in c.needs if n not in published]
        if missing:
            raise ConfigError(
                f"{c.name} needs {missing} and no enabled component publishes it; "
                f"enable the method that does (the ERPO tracker publishes {PROMPT_HISTORY!r})."
            )
    return components


def shared_pieces(components: Sequence[DataComponent]) -> dict[str, Any]:
    """Every published piece by name (a name published twice is an error: whose would it be?)."""
    pieces: dict[str, Any] = {}
    for c in components:
        for name, piece in c.publishes().items():
            if name in pieces:
                raise ConfigError(f"two enabled methods publish {name!r}; turn one of them off.")
            pieces[name] = piece
    return pieces


def choose_batch(
    components: Sequence[DataComponent], draw: Callable[[int | None], Any], wanted: int | None, ctx: StepContext
):
    """The batch the components choose: each ``choose`` draws from the one before, the first from ``draw``."""
    for component in components:
        draw = _chained(component, draw, ctx)
    return draw(wanted)


def _chained(component: DataComponent, draw, ctx: StepContext):
    return lambda wanted: component.choose(draw, wanted, ctx)


def close_step(components: Sequence[DataComponent], groups: Sequence[ScoredGroup], ctx: StepContext) -> dict:
    """Every component observes the step's groups, then every component ends the step; their metrics merged.
    The step's costs are cleared afterwards."""
    for component in components:
        component.observe(groups, ctx)
    metrics: dict[str, float] = {}
    for component in components:
        metrics.update(component.end_step(ctx))
    ctx.costs.clear()
    return metrics
