"""GRESO's state and its three calls per training step (made by whoever composes GRESO beside the ERPO
controller: recipe/greso/component.py, erpo/sim/greso.py):

``select`` before rollout (which candidates to roll out, from their streaks in the tracker's
``prompt_history`` view), ``observe`` after scoring (every recorded group's outcome), ``end_step`` once per
training step (adapt the base probabilities toward the target share of zero-variance groups; the step's
metrics). The per-prompt streaks live in the ERPO tracker; this object holds only the two probabilities and
counters.

| metric | meaning | unit |
|---|---|---|
| greso/candidates | candidates ``select`` examined this step (drawn from the data loader) | count |
| greso/kept | candidates ``select`` returned for rollout this step | count |
| greso/skipped | candidates skipped this step (no rollout spent on them) | count |
| greso/skipped_easy, greso/skipped_hard | of those, skipped on an all-correct / all-wrong streak | count |
| greso/zero_variance_share | groups recorded this step that were all correct or all wrong | fraction |
| greso/p_easy, greso/p_hard | base keep probabilities after this step's adaptation (used next step) | probability |
| greso/candidates_total, greso/skipped_total | the same counts since the start (restored on resume) | count |
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from erpo.erpo.tracker import Outcome
from erpo.errors import InputError
from erpo.greso.config import GRESOConfig
from erpo.greso.skip import adapted, keep_probability, skipped
from erpo.inputs import integer_array, integer_scalar

logger = logging.getLogger(__name__)

FORMAT = "erpo.greso"
VERSION = 1
_STEP_COUNTS = ("candidates", "kept", "skipped_easy", "skipped_hard", "groups", "easy_groups", "hard_groups")
_TOTALS = ("candidates_total", "skipped_total")


@dataclass(frozen=True)
class Selection:
    """Positions into the candidate list: ``kept`` (roll these out, at most k, candidate order),
    ``skipped`` (no rollout), ``unused`` (not skipped, but beyond k: return them to the loader or drop)."""

    kept: np.ndarray
    skipped: np.ndarray
    unused: np.ndarray
    keep_probability: np.ndarray
    metrics: dict[str, float]


class GRESOSelector:
    def __init__(self, cfg: GRESOConfig):
        self.cfg = cfg.validate()
        self.p_easy, self.p_hard = cfg.p_easy, cfg.p_hard
        self.counts = dict.fromkeys(_STEP_COUNTS + _TOTALS, 0)

    def rollout_batch(self, train_batch: int) -> int:
        """Prompts to roll out per sampling round for a train batch: ceil(sampling_batch_multiplier * B)."""
        train_batch = integer_scalar(train_batch, "train_batch", 1)
        return math.ceil(self.cfg.sampling_batch_multiplier * train_batch - 1e-9)

    def select(self, streak, kind, k: int, rng: np.random.Generator) -> Selection:
        """Skip decision for each candidate (one uniform draw each, whatever its streak, so a seeded
        ``rng`` gives the same decisions for the same candidates), then the first ``k`` kept."""
        size = np.size(streak)
        streak = integer_array(streak, "streak", size, 0)
        kind = integer_array(kind, "kind", size, min(Outcome), max(Outcome))
        k = integer_scalar(k, "k", 0, fix="k is the number of prompts wanted for rollout.")
        if not isinstance(rng, np.random.Generator):
            raise InputError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
            )
        keep = keep_probability(streak, kind, self.p_easy, self.p_hard, self.cfg.keep_floor)
        skip = skipped(keep, rng.random(size))
        eligible = np.flatnonzero(~skip)
        kept, unused = eligible[:k], eligible[k:]
        easy = int(np.sum(skip & (kind == Outcome.ALL_CORRECT)))
        hard = int(np.sum(skip)) - easy
        for name, value in (
            ("candidates", size),
            ("kept", len(kept)),
            ("skipped_easy", easy),
            ("skipped_hard", hard),
            ("candidates_total", size),
            ("skipped_total", easy + hard),
        ):
            self.counts[name] += value
        metrics = {
            "greso/candidates": float(size),
            "greso/kept": float(len(kept)),
            "greso/skipped": float(easy + hard),
            "greso/skipped_easy": float(easy),
            "greso/skipped_hard": float(hard),
            "greso/p_easy": self.p_easy,
            "greso/p_hard": self.p_hard,
        }
        return Selection(kept, np.flatnonzero(skip), unused, keep, metrics)

    def observe(self, outcome) -> None:
        """Count the recorded groups' outcomes toward this step's zero-variance shares."""
        outcome = integer_array(outcome, "outcome", np.size(outcome), Outcome.ALL_CORRECT, Outcome.MIXED)
        self.counts["groups"] += len(outcome)
        self.counts["easy_groups"] += int(np.sum(outcome == Outcome.ALL_CORRECT))
        self.counts["hard_groups"] += int(np.sum(outcome == Outcome.ALL_WRONG))

    def end_step(self, epoch: int) -> dict[str, float]:
        """Adapt p_easy / p_hard from this step's groups (from epoch ``adapt_from_epoch`` on), return the
        step's metrics and start the next step's counts.

        easy share = all-correct groups / groups recorded this step, compared with
        target / (1 + w); hard share likewise with target * w / (1 + w) (w = hard_target_weight).
        """
        epoch = integer_scalar(epoch, "epoch", 0, fix="epoch is the data loader's epoch, counted from 0.")
        c, cfg = self.counts, self.cfg
        groups = c["groups"]
        easy_share = c["easy_groups"] / groups if groups else 0.0
        hard_share = c["hard_groups"] / groups if groups else 0.0
        if groups and epoch >= cfg.adapt_from_epoch:
            self.p_easy = adapted(self.p_easy, easy_share, cfg.easy_target, cfg.adapt_step, cfg.p_min, cfg.p_max)
            self.p_hard = adapted(self.p_hard, hard_share, cfg.hard_target, cfg.adapt_step, cfg.p_min, cfg.p_max)
        metrics = {
            "greso/candidates": float(c["candidates"]),
            "greso/kept": float(c["kept"]),
            "greso/skipped": float(c["skipped_easy"] + c["skipped_hard"]),
            "greso/skipped_easy": float(c["skipped_easy"]),
            "greso/skipped_hard": float(c["skipped_hard"]),
            "greso/zero_variance_share": easy_share + hard_share,
            "greso/p_easy": self.p_easy,
            "greso/p_hard": self.p_hard,
            "greso/candidates_total": float(c["candidates_total"]),
            "greso/skipped_total": float(c["skipped_total"]),
        }
        self.counts.update(dict.fromkeys(_STEP_COUNTS, 0))
        return metrics

    # ---- persistence (greso_state.json of a checkpoint) -----------------------------------
    def state_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "p_easy": self.p_easy,
            "p_hard": self.p_hard,
            "counts": dict(self.counts),
        }

    def load_state_dict(self, state) -> None:
        """Restore probabilities and counters (checked first; a refused state changes nothing). A
        probability outside this config's [p_min, p_max] is clipped into it, with a warning."""
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("version") != VERSION:
            raise InputError(f"not a GRESO state of format {FORMAT!r} version {VERSION}")
        probabilities = {}
        for name in ("p_easy", "p_hard"):
            value = state.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise InputError(f"GRESO state {name}={value!r} must be a probability in [0, 1]")
            probabilities[name] = min(max(float(value), self.cfg.p_min), self.cfg.p_max)
            if probabilities[name] != value:
                logger.warning(
                    "GRESO state %s=%s is outside greso.p_min/p_max of this config; using %s.",
                    name,
                    value,
                    probabilities[name],
                )
        counts = state.get("counts")
        if not isinstance(counts, dict) or set(counts) != set(_STEP_COUNTS + _TOTALS):
            raise InputError(f"GRESO state counts must hold exactly {sorted(_STEP_COUNTS + _TOTALS)}")
        checked = {name: integer_scalar(value, f"GRESO state counts[{name!r}]") for name, value in counts.items()}
        self.p_easy, self.p_hard = probabilities["p_easy"], probabilities["p_hard"]
        self.counts = checked
