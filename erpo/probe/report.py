"""The probe's table (markdown, with the answer) and figure (each metric's curve with its interval band, and the
control's value as a line with its band)."""

from __future__ import annotations

import os

ROWS = (
    ("mixed", "P(mixed)", 3),
    ("all_wrong", "P(all-wrong)", 3),
    ("accuracy", "accuracy", 3),
    ("length", "mean length (tokens)", 2),
    ("entropy", "mean token entropy (nats)", 3),
)


def _cell(s: dict, key: str, digits: int) -> str:
    mean, lo, hi = (s[key], s[f"{key}_lo"], s[f"{key}_hi"]) if key == "diff" else (s["mean"], s["lo"], s["hi"])
    if mean is None:
        return "n/a"
    sign = "+" if key == "diff" else ""
    return f"{mean:{sign}.{digits}f} [{lo:{sign}.{digits}f}, {hi:{sign}.{digits}f}]"


def answer_lines(result: dict) -> list[str]:
    """The chosen temperature and the schedule that reaches it, or why there is none."""
    choice, sched = result["choice"], result["schedule"]
    rule = (
        f"our rule: the smallest T > base whose revival gain P(mixed|T) - P(mixed|control) exceeds "
        f"{choice['min_gain']} while accuracy drops less than {choice['max_accuracy_drop']} "
        f"(judged by the {'interval ends' if choice['by'] == 'interval' else 'point estimates'})"
    )
    if choice["temperature"] is None:
        return [
            f"No temperature of the grid passes {rule}.",
            "Read the table: a larger grid, more prompts or repeats (narrower intervals), or another bound.",
        ]
    lines = [f"Chosen T = {choice['temperature']:g} ({rule})."]
    if sched is None:
        lines.append(
            "No schedule: give the training run's visits per prompt (schedule.visits or schedule.train_overrides)."
        )
    else:
        lines.append(
            f"Additive schedule: erpo.temperature.t_max={sched['t_max']:g} temperature_schedule=additive "
            f"erpo.temperature.step={sched['step']:g} reaches it at visit {sched['reached_at_visit']} of "
            f"{sched['visits']:.2f} planned visits per prompt ({result['visits_source']}); temperatures per "
            f"visit of a prompt that stays all correct: {sched['temperature_per_visit']}."
        )
    return lines


def write_table(result: dict, path: str) -> str:
    grid, control, summary = result["grid"], result["control"], result["summary"]
    cfg, sel = result["config"], result["selection"]
    level = int(round(100 * cfg["ci_level"]))
    probed = sel["selected"]
    dirty = " + uncommitted changes" if result["dirty"] else ""
    lines = [
        f"Temperature probe of `{cfg['checkpoint']}` (commit {result['commit']}{dirty}; engine {result['engine']})",
        "",
        f"Selection: {sel['all_correct']} of {sel['prompts']} prompts all correct at T={sel['temperature']:g} "
        f"with n={sel['n']} (accuracy {sel['accuracy']:.3f}); {probed} probed, {cfg['repeats']} group(s) of "
        f"n={cfg['n']} per prompt and temperature. Control: the second, independent draw at T={grid[control]:g}.",
        f"Intervals: {level}% percentile bootstrap over the {probed} probed prompts ({cfg['bootstrap_iters']} "
        "resamples, paired across temperatures). Entropy: " + result["entropy_estimator"] + ".",
        "",
    ]
    if probed < 10:  # a percentile bootstrap over so few units is too narrow; a point mass gives a zero-width one
        lines[-1:-1] = [f"Caution: {probed} probed prompts; the bootstrap intervals under-cover at this size.", ""]
    header = "| T | " + " | ".join(f"{name} | Δ {name.split(' (')[0]} vs control" for _, name, _ in ROWS) + " |"
    lines += [header, "|" + "---|" * (1 + 2 * len(ROWS))]
    for t, temp in enumerate(grid):
        label = f"{temp:g} (control)" if t == control else f"{temp:g}"
        cells = []
        for key, _, digits in ROWS:
            s = summary[key][t]
            cells += [_cell(s, "mean", digits), "-" if t == control else _cell(s, "diff", digits)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *answer_lines(result)]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return text


def write_figure(result: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, control, summary, cfg = result["grid"], result["control"], result["summary"], result["config"]
    level = int(round(100 * cfg["ci_level"]))
    panels = [r for r in ROWS if summary[r[0]][control]["mean"] is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.3))
    for ax, (key, name, _) in zip(axes, panels, strict=True):
        s = summary[key]
        mean, lo, hi = ([x[f] for x in s] for f in ("mean", "lo", "hi"))
        ax.plot(grid, mean, "o-", color="C0", label="probe")
        ax.fill_between(grid, lo, hi, color="C0", alpha=0.25, label=f"{level}% CI")
        c = s[control]
        ax.axhline(c["mean"], color="C3", ls="--", label=f"control (T={grid[control]:g})")
        ax.axhspan(c["lo"], c["hi"], color="C3", alpha=0.1)
        if key == "mixed" and result["choice"]["temperature"] is not None:
            ax.axvline(result["choice"]["temperature"], color="k", ls=":", label="chosen T (our rule)")
        ax.set_xlabel("sampling temperature T")
        ax.set_title(name, fontsize=10)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"{result['selection']['selected']} prompts all correct at T={grid[control]:g}, drawn again "
        f"(n={cfg['n']}, {cfg['repeats']} repeat(s)); bands: bootstrap over prompts, no smoothing",
        fontsize=9,
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
