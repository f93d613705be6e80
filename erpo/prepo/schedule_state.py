"""Resumable state of PREPO's perplexity schedule (``PREPOScheduleState``, saved as prepo_state.json).

Prompts are keyed by (data_source, dataset index), like the rest of the project. "Seen" prompts
are the ones selected for rollout (scored-but-dropped candidates only count in
``candidates_drawn``); they are stored per data source as sorted unique int64 arrays, which stay
compact for datasets of ~1e5 prompts and make ``state_dict`` a plain JSON object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

STATE_VERSION = 1
PromptKey = tuple[str, int]


@dataclass
class PREPOScheduleState:
    steps_taken: int = 0
    candidates_drawn: int = 0
    # Rollouts generated so far (selected prompts x responses per prompt): the paper's efficiency axis.
    rollouts_used: int = 0
    seen: dict[str, np.ndarray] = field(default_factory=dict)

    def record_step(self, num_candidates: int, selected: Iterable[PromptKey], rollouts_per_prompt: int) -> None:
        """Account for one training step: candidates scored, prompts selected and rolled out."""
        selected = list(selected)
        if rollouts_per_prompt < 1:
            raise ValueError(
                f"rollouts_per_prompt must be >= 1 (actor_rollout_ref.rollout.n), got {rollouts_per_prompt}"
            )
        if len(selected) > num_candidates:
            raise ValueError(f"selected {len(selected)} prompts out of only {num_candidates} candidates")
        by_source: dict[str, list[int]] = {}
        for source, index in selected:
            by_source.setdefault(str(source), []).append(int(index))
        for source, indices in by_source.items():
            old = self.seen.get(source, np.empty(0, dtype=np.int64))
            self.seen[source] = np.union1d(old, np.asarray(indices, dtype=np.int64))
        self.steps_taken += 1
        self.candidates_drawn += int(num_candidates)
        self.rollouts_used += len(selected) * int(rollouts_per_prompt)

    def has_seen(self, key: PromptKey) -> bool:
        arr = self.seen.get(str(key[0]))
        if arr is None:
            return False
        pos = np.searchsorted(arr, int(key[1]))
        return bool(pos < len(arr) and arr[pos] == int(key[1]))

    @property
    def num_prompts_seen(self) -> int:
        return int(sum(len(a) for a in self.seen.values()))

    def state_dict(self) -> dict:
        return {
            "version": STATE_VERSION,
            "steps_taken": self.steps_taken,
            "candidates_drawn": self.candidates_drawn,
            "rollouts_used": self.rollouts_used,
            "seen": {source: arr.tolist() for source, arr in sorted(self.seen.items())},
        }

    def load_state_dict(self, state: dict) -> None:
        version = state.get("version")
        if version != STATE_VERSION:
            raise ValueError(
                f"PREPO scheduler state version {version!r} is not supported (expected {STATE_VERSION}); "
                "resume with the code version that wrote the checkpoint"
            )
        expected = {"version", "steps_taken", "candidates_drawn", "rollouts_used", "seen"}
        if set(state) != expected:
            raise ValueError(f"PREPO scheduler state keys {sorted(state)} differ from {sorted(expected)}")
        self.steps_taken = int(state["steps_taken"])
        self.candidates_drawn = int(state["candidates_drawn"])
        self.rollouts_used = int(state["rollouts_used"])
        self.seen = {s: np.unique(np.asarray(v, dtype=np.int64)) for s, v in state["seen"].items()}
