"""The one definition of a correct response, shared by ERPO's tracker, RA and the DAPO filter under RA.

A response is correct when its reward's ``acc`` (``erpo.rewards.compute_score`` returns it in the reward
extra info; verl's dynamic-sampling filter reads the same field, ``algorithm.filter_groups.metric=acc``) is
``>= erpo.correct_threshold``. The score is not used: under DAPO it carries the overlong penalty, so a
correct but long response would count as wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

from erpo.errors import InputError


def is_correct(reward_info: Mapping | None, threshold: float) -> bool:
    """``acc >= threshold``; InputError when the reward gave no ``acc``."""
    acc = (reward_info or {}).get("acc")
    if acc is None:
        raise InputError(
            "reward_info has no 'acc': ERPO's tracker, RA and DAPO's filter decide correctness from the reward's "
            "acc (reward.custom_reward_function must return {'score', 'acc', ...}, as erpo.rewards.compute_score does)."
        )
    return float(acc) >= threshold


def all_correct_groups(uids, corrects) -> set[str]:
    """Groups (by uid) whose responses were all correct, from parallel per-response sequences."""
    verdict: dict[str, bool] = {}
    for uid, correct in zip(uids, corrects, strict=True):
        verdict[str(uid)] = verdict.get(str(uid), True) and bool(correct)
    return {uid for uid, ok in verdict.items() if ok}


def dapo_filter_under_ra(filtered: Mapping[str, float], threshold: float) -> set[str]:
    """The groups DAPO's filter may evict when RA is on: of the zero-variance groups (uid -> the shared
    ``acc``), only the all-wrong ones. All-correct groups stay: RA gives them an advantage."""
    return {uid for uid, value in filtered.items() if float(value) < threshold}
