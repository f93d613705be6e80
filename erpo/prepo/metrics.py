"""PREPO metrics, all namespaced ``prepo/``.

Selection (one value per training step, from ``selection_metrics``):
  prepo/selected_ppl_min, prepo/selected_ppl_mean, prepo/selected_ppl_max
      perplexity of the K prompts kept for rollout; should rise with progress.
  prepo/candidate_ppl_min, prepo/candidate_ppl_max
      perplexity range of all |B| scored candidates; the window moves inside it.
  prepo/window_start
      first sorted position of the kept window, floor(f(rho) * (|B| - K)).

Weights (from ``weight_metrics``, over rollouts with at least one response token):
  prepo/weight_mean, prepo/weight_std, prepo/weight_min, prepo/weight_max,
  prepo/weight_p10, prepo/weight_p90
      distribution of w_i = H_i / H_bar. Only the token-weighted mean is 1 by construction; the
      plain mean reported here drifts from 1 when entropy correlates with length. The paper saw
      weights mostly in 0.7 .. 1.5. Inside verl these are per loss call and averaged over calls.
  prepo/entropy_normaliser
      H_bar the loss call divided by (with scope "batch": the whole batch's, see
      prepo/entropy_normaliser_batch logged by the trainer).

Progress (from ``progress_metrics``):
  prepo/rollouts_used   rollouts of PREPO-selected prompts so far (rollouts/total counts every variant)
  prepo/prompts_seen    distinct prompts selected for rollout so far
  prepo/progress        rho used for the latest selection
"""

from __future__ import annotations

import numpy as np

from erpo.prepo.schedule_state import PREPOScheduleState


def selection_metrics(candidate_ppl, selected, window_start: int) -> dict[str, float]:
    ppl = np.asarray(candidate_ppl, dtype=np.float64)
    chosen = ppl[np.asarray(selected, dtype=np.int64)]
    return {
        "prepo/selected_ppl_min": float(chosen.min()),
        "prepo/selected_ppl_mean": float(chosen.mean()),
        "prepo/selected_ppl_max": float(chosen.max()),
        "prepo/candidate_ppl_min": float(ppl.min()),
        "prepo/candidate_ppl_max": float(ppl.max()),
        "prepo/window_start": float(window_start),
    }


def weight_metrics(weights) -> dict[str, float]:
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size == 0:
        raise ValueError("weight_metrics needs at least one rollout with response tokens")
    p10, p90 = np.percentile(w, [10, 90])
    return {
        "prepo/weight_mean": float(w.mean()),
        "prepo/weight_std": float(w.std()),
        "prepo/weight_min": float(w.min()),
        "prepo/weight_max": float(w.max()),
        "prepo/weight_p10": float(p10),
        "prepo/weight_p90": float(p90),
    }


def progress_metrics(state: PREPOScheduleState, progress: float) -> dict[str, float]:
    return {
        "prepo/rollouts_used": float(state.rollouts_used),
        "prepo/prompts_seen": float(state.num_prompts_seen),
        "prepo/progress": float(progress),
    }
