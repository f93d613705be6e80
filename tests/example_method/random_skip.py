"""Random skip: a baseline that drops each candidate prompt before rollout with probability p.

    keep candidate i  <=>  u_i >= p,   u_i ~ Uniform[0, 1) from default_rng([seed, step, draw])

seeded by (run seed, global step, draw number within the step), so a resumed run draws as an uninterrupted
one would, with no generator state in the checkpoint. Each request for ``wanted`` prompts (None: the train
batch) is filled with kept candidates, drawn in whole data-loader chunks; kept candidates beyond the request
wait for the next one. Our choice, a control for skip rules such as GRESO's: the same kind of skip with no
information about the prompt.

Config (section ``random_skip``): ``enabled`` (bool), ``p`` (float in [0, 1)): a bad value raises ConfigError
naming ``random_skip.p``. State file ``random_skip_state.json`` (format ``random_skip``, version 1).

| metric | meaning | unit |
|---|---|---|
| random_skip/skipped | candidates dropped this step | count |
| random_skip/skipped_total | candidates dropped since the start (restored on resume) | count |
"""

from __future__ import annotations

import math

import numpy as np
from omegaconf import OmegaConf

from erpo.components import MethodSpec, register
from erpo.errors import ConfigError, InputError
from recipe.common.components import VerlComponent, take_rows

FORMAT, VERSION = "random_skip", 1


def parse_config(section) -> tuple[bool, float]:
    """(enabled, p) of the ``random_skip`` section; refuses unknown keys and p outside [0, 1)."""
    values = dict(section or {})
    unknown = sorted(set(values) - {"enabled", "p"})
    if unknown:
        raise ConfigError(f"random_skip.{unknown[0]} is not a field of random_skip (fields: enabled, p).")
    p = values.get("p", 0.0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ConfigError(f"random_skip.p={p!r} must be a probability in [0, 1) (1 would skip every prompt).")
    return bool(values.get("enabled", False)), float(p)


def kept_positions(size: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Positions of the candidates kept: one uniform draw each, kept when u >= p."""
    return np.flatnonzero(rng.random(size) >= p)


class RandomSkip(VerlComponent):
    name = "random_skip"
    state_file = "random_skip_state.json"
    restore_label = "Random skip state"

    def __init__(self, p: float, train_batch_size: int, chunk: int):
        self.p, self.train_batch_size, self.chunk = p, train_batch_size, chunk
        self.carry: list = []
        self.skipped, self.skipped_total = 0, 0
        self._draw_step, self._draws = -1, 0

    @classmethod
    def from_config(cls, config) -> RandomSkip:
        _, p = parse_config(OmegaConf.to_container(config.random_skip, resolve=True))
        train_batch = int(config.data.train_batch_size)
        return cls(p, train_batch, int(config.data.get("gen_batch_size", None) or train_batch))

    def choose(self, draw, wanted, ctx):
        from verl.utils import tensordict_utils as tu

        wanted = wanted if wanted is not None else self.train_batch_size
        parts, have = [], 0
        while have < wanted:
            candidates = self.carry.pop(0) if self.carry else self._drawn(draw, wanted - have, ctx)
            if candidates is None:  # every candidate of that draw was skipped
                continue
            take = min(len(candidates), wanted - have)
            if take < len(candidates):
                self.carry.insert(0, take_rows(candidates, np.arange(take, len(candidates))))
            if take:
                parts.append(take_rows(candidates, np.arange(take)))
                have += take
        batch = parts[0] if len(parts) == 1 else tu.concat_tensordict(parts)
        tu.assign_non_tensor_data(batch, "global_steps", ctx.step)
        return batch

    def _drawn(self, draw, need: int, ctx):
        """Whole loader chunks covering ``need``, with this draw's skipped candidates removed (None: all were)."""
        candidates = draw(math.ceil(need / self.chunk) * self.chunk)
        if self._draw_step != ctx.step:
            self._draw_step, self._draws = ctx.step, 0
        self._draws += 1
        kept = kept_positions(len(candidates), self.p, np.random.default_rng([ctx.seed, ctx.step, self._draws]))
        self.skipped += len(candidates) - len(kept)
        self.skipped_total += len(candidates) - len(kept)
        return take_rows(candidates, kept) if len(kept) else None

    def end_step(self, ctx) -> dict[str, float]:
        metrics = {"random_skip/skipped": float(self.skipped), "random_skip/skipped_total": float(self.skipped_total)}
        self.skipped = 0
        return metrics

    def state_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "skipped_total": self.skipped_total}

    def load_state_dict(self, state: dict) -> str:
        if not isinstance(state, dict):
            raise InputError(f"not a random-skip state (a dict of format {FORMAT!r}): {state!r}")
        total = state.get("skipped_total")
        if state.get("format") != FORMAT or state.get("version") != VERSION or not isinstance(total, int) or total < 0:
            raise InputError(f"not a random-skip state of format {FORMAT!r} version {VERSION}: {state!r}")
        self.skipped_total = total
        return f"skipped_total={total}"


def _refuse(config) -> None:
    """Refusals run for every registered method, on or off: a config without the section has nothing to check."""
    section = config.get("random_skip")
    if section is not None:
        parse_config(OmegaConf.to_container(section, resolve=True) if OmegaConf.is_config(section) else dict(section))


SPEC = register(
    MethodSpec(
        name="random_skip",
        section="random_skip",
        enabled=lambda section: bool(section.get("enabled")),
        build=RandomSkip.from_config,
        order=50,
        refuse=_refuse,
    )
)
