"""What the comparison shows: sections of line plots, each with the question it answers and the logged keys it
plots. Keys are the ones docs/metrics.md documents (checked when a spec is built: erpo.analysis.metric_list).

Every plot groups runs by their W&B group (= the variant, recipe/driver/startup.py) and draws the mean over the
group's runs (seeds) with a min-max band, unsmoothed (our choice: with 2-5 seeds a min-max band shows every
seed, where a standard-deviation band would rest on too few runs to mean much).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    title: str
    # logged keys drawn on the y axis (one line per key and variant)
    y: tuple[str, ...]
    # logged key on the x axis; None = the training step
    x: str | None = None

    def keys(self) -> tuple[str, ...]:
        return self.y + ((self.x,) if self.x else ())


@dataclass(frozen=True)
class Section:
    name: str
    # the question a researcher answers by opening it
    question: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


# verl's validation metric per data source: avg@N of `acc` on the held-out files (docs/metrics.md, val-core/*)
HELDOUT_KEY = re.compile(r"val-core/(?P<source>[^/]+)/acc/mean@(?P<n>\d+)$")

HELDOUT_NAME = "Held-out accuracy"
HELDOUT_QUESTION = (
    "Which variant generalises better on each held-out benchmark (verl's validation, avg@N of acc), "
    "and is the gap between variants larger than the spread between seeds?"
)

STATIC_SECTIONS = (
    Section(
        "Residual prompts",
        "How many prompts give no gradient (all-correct or all-wrong groups: zero advantage), how many carry it "
        "(mixed), and how many prompts that were all-correct on their last visit come back mixed?",
        (
            Panel("all-correct share (residual)", ("erpo/frac_all_correct",)),
            Panel("mixed share (carries gradient)", ("erpo/frac_mixed",)),
            Panel("all-wrong share (residual)", ("erpo/frac_all_wrong",)),
            Panel("revived: all-correct last visit, mixed now", ("erpo/revived_frac",)),
        ),
    ),
    Section(
        "Effective prompts and rollouts",
        "What did each variant spend in rollouts, and how many of them landed in groups that carry gradient? "
        "Rollouts per effective prompt = n x rollouts/total / rollouts/effective (n responses per prompt): the "
        "report's table gives it per variant; here the last plot's slope is rollouts/effective per rollout spent.",
        (
            Panel("rollouts generated (cumulative)", ("rollouts/total",)),
            Panel("rollouts in gradient-carrying groups (cumulative)", ("rollouts/effective",)),
            Panel("gradient-carrying rollouts vs rollouts spent", ("rollouts/effective",), x="rollouts/total"),
            Panel("DAPO: samples evicted for zero variance, per step", ("training/filter_groups/evicted_samples",)),
        ),
    ),
    Section(
        "Temperatures",
        "How far did ERPO raise the sampling temperature, and on what share of the step's prompts? (Baselines "
        "stay at the base temperature: a flat line there is the check that they did.)",
        (
            Panel("mean sampling temperature", ("erpo/temperature_mean",)),
            Panel("share of groups sampled above the base temperature", ("erpo/frac_raised_temperature",)),
            Panel("highest sampling temperature of the step", ("erpo/temperature_max",)),
        ),
    ),
    Section(
        "PREPO",
        "Which perplexity window did PREPO's curriculum train on as training progressed, and how uneven were its "
        "relative-entropy weights?",
        (
            Panel("perplexity of the prompts kept (mean)", ("prepo/selected_ppl_mean",)),
            Panel("perplexity range of the candidates", ("prepo/candidate_ppl_min", "prepo/candidate_ppl_max")),
            Panel("training progress rho of the selection", ("prepo/progress",)),
            Panel("spread of the entropy weights (std)", ("actor/prepo/weight_std",)),
            Panel("rollouts of PREPO's selected prompts (cumulative)", ("prepo/rollouts_used",)),
        ),
    ),
    Section(
        "GRESO",
        "How many prompts did GRESO skip before rollout (and for which streak), and did the share of zero-variance "
        "groups fall as its keep probabilities adapted?",
        (
            Panel("candidates skipped this step", ("greso/skipped_easy", "greso/skipped_hard")),
            Panel("candidates kept this step", ("greso/kept",)),
            Panel("zero-variance share of the recorded groups", ("greso/zero_variance_share",)),
            Panel("keep probabilities after adaptation", ("greso/p_easy", "greso/p_hard")),
            Panel("candidates skipped since the start", ("greso/skipped_total",)),
        ),
    ),
)


def heldout_section(logged: set[str]) -> Section:
    """One panel per data source (benchmark) whose ``val-core/<source>/acc/mean@N`` some run logged."""
    panels = []
    for key in sorted(k for k in logged if HELDOUT_KEY.match(k)):
        match = HELDOUT_KEY.match(key)
        panels.append(Panel(f"{match['source']}: avg@{match['n']}", (key,)))
    return Section(HELDOUT_NAME, HELDOUT_QUESTION, tuple(panels))


def static_keys() -> set[str]:
    """Every key the fixed sections plot (checked against docs/metrics.md whatever the runs logged)."""
    return {key for section in STATIC_SECTIONS for panel in section.panels for key in panel.keys()}
