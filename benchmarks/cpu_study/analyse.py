"""Analysis of the CPU study, computed from the runs' own logs (the simulator only beside them):

- verl's JSONL metrics per step (``logs/erpo/<run>.jsonl``, resolved config beside it): ``rollouts/total``
  and ``rollouts/effective`` (cumulative responses generated / in trained groups that carry gradient,
  docs/metrics.md), shares of the step's groups, temperatures;
- ``runs/<run>/erpo_state.json``: the tracker at the last step, each prompt's whole visit history
  (erpo.history_length is above the visits per prompt): per (seed, prompt) visit outcomes and revival
  within 1 and 2 revisits;
- ``runs/<run>/erpo_assignments.jsonl``: every prompt's sampling temperature per step;
- ``runs/<run>/eval/*.json`` (and ``runs/base-s<seed>``): the offline held-out avg@k of each final checkpoint
  and of the base model (benchmarks.cpu_study.offline_eval);
- optionally the temperature probe's JSON (benchmarks/cpu_study/probe.py): its base-temperature entry is the control
  for revival (resampling alone, no learning).

Definitions (our choice, stated in BENCHMARKS.md): an *effective prompt* is a trained group whose advantages
are not all zero (``rollouts/effective`` / n); effective prompts per step = that over the run's steps;
rollouts per effective prompt = ``rollouts/total`` / effective prompts at the last step. Shares of
all-correct / mixed / all-wrong are over every recorded visit (DAPO's evicted groups included).
Intervals (benchmarks/cpu_study/stats.py): two-way bootstrap over seeds and prompts (steps for per-step outcomes), the
difference of two arms paired on seed and prompt, Fisher's exact test and Wilson intervals on pooled counts.
The analysis refuses runs of different code (result.json ``code.code_tree``) unless told to allow them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.cpu_study.outcomes import LABELS
from benchmarks.cpu_study.probe import control, read_probe
from benchmarks.cpu_study.stats import fisher_exact, ratio_bootstrap, ratio_diff_bootstrap, wilson
from erpo.analysis.revival import revival_counts
from erpo.analysis.runs import load_runs
from erpo.erpo.metrics import DEFAULT_EDGES
from erpo.erpo.tracker import PromptTracker
from erpo.errors import InputError
from erpo.tables.build import load_results
from erpo.tables.deltas import delta_rows, render_markdown

ORDER = ["base", "grpo", "erpo", "grpo_hot", "dapo", "dapo_ra", "erpo_dapo", "erpo_ra"]
# Held-out deltas are taken against these (those present).
BASELINES = ["base", "grpo", "dapo"]
# (arm, baseline) pairs of the mechanism comparisons: ERPO against GRPO and against sampling hotter; the
# paper's rows on DAPO (RA alone, ERPO) against DAPO and ERPO against RA alone.
COMPARISONS = [
    ("erpo", "grpo"),
    ("grpo_hot", "grpo"),
    ("erpo", "grpo_hot"),
    ("dapo_ra", "dapo"),
    ("erpo_dapo", "dapo"),
    ("erpo_dapo", "dapo_ra"),
    ("erpo_ra", "erpo"),
]
VAL_KEY_PREFIX = "val-core/"


def _order(variants) -> list[str]:
    return [v for v in ORDER if v in variants] + sorted(v for v in variants if v not in ORDER)


def check_code(runs: list[dict], allow_mixed: bool = False) -> dict | None:
    """The one code fingerprint all runs recorded (result.json ``code``); refuses runs of different or unknown
    code unless ``allow_mixed`` (then returns None, and the table says so)."""
    trees: dict[str, list[str]] = {}
    for run in runs:
        code = run["result"].get("code") or {}
        trees.setdefault(code.get("code_tree", "unknown (no code recorded)"), []).append(run["name"])
    if len(trees) == 1 and "unknown (no code recorded)" not in trees:
        return runs[0]["result"]["code"]
    if allow_mixed:
        return None
    detail = "; ".join(
        f"{tree[:12]}: {', '.join(sorted(names)[:3])}{' ...' if len(names) > 3 else ''}"
        for tree, names in trees.items()
    )
    raise InputError(
        f"the runs were produced by different or unrecorded code ({detail}): rerun them with one "
        "checkout, or pass --allow-mixed-commits to analyse them anyway"
    )


def load(results: str | Path, allow_mixed_commits: bool = False) -> list[dict]:
    """Every finished run of the study with its history, config and side files (same code, see check_code)."""
    results = Path(results)
    runs = []
    for run in load_runs(results / "logs"):
        config_path = results / "logs" / "erpo" / f"{run.name}.config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        side = results / "runs" / run.name
        result = json.loads((side / "result.json").read_text()) if (side / "result.json").exists() else {}
        if result.get("status") != "ok":
            continue
        runs.append(
            {
                "name": run.name,
                "variant": run.meta["variant"],
                "seed": run.meta["seed"],
                "config": config,
                "history": run.history,
                "dir": side,
                "result": result,
            }
        )
    if not runs:
        raise FileNotFoundError(
            f"no finished study runs under {results}; run `python -m benchmarks.cpu_study run` first"
        )
    check_code(runs, allow_mixed_commits)
    return runs


def step_frame(run: dict) -> pd.DataFrame:
    """Per training step: shares of the recorded groups, temperatures, and (from ``rollouts/*``, cumulative
    responses) the step's rollouts and effective prompts; NaN where a run logged no ``rollouts/*``."""
    n = int(run["config"]["actor_rollout_ref"]["rollout"]["n"])
    h = run["history"]
    h = h[h["erpo/groups"].notna()] if "erpo/groups" in h else h.iloc[0:0]
    frame = pd.DataFrame(
        {
            "groups": h["erpo/groups"].astype(float),
            "all_correct": h["erpo/frac_all_correct"],
            "all_wrong": h["erpo/frac_all_wrong"],
            "mixed": h["erpo/frac_mixed"],
            "temperature_mean": h["erpo/temperature_mean"],
            "raised": h["erpo/frac_raised_temperature"],
        }
    )
    for key, column in (("rollouts/total", "rollouts"), ("rollouts/effective", "effective")):
        if key in h:
            cumulative = h[key].astype(float)
            frame[column] = cumulative.diff().fillna(cumulative.iloc[0]) if len(cumulative) else cumulative
        else:
            frame[column] = np.nan
    frame["effective"] = frame["effective"] / n  # responses -> prompts (groups of n)
    return frame


def temperatures(run: dict) -> pd.DataFrame:
    """Long table (step, temperature) of every prompt visit, from the assignments log."""
    path = run["dir"] / "erpo_assignments.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                rows += [(rec["step"], t) for t in rec["temperature"]]
    return pd.DataFrame(rows, columns=["step", "temperature"])


def temperature_histogram(run: dict, edges=DEFAULT_EDGES) -> pd.DataFrame:
    """Steps x temperature bins: share of the step's dispatched prompts in each bin."""
    temps = temperatures(run)
    if temps.empty:
        return pd.DataFrame()
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    temps["bin"] = pd.cut(temps["temperature"], bins=list(edges), right=False, labels=labels)
    table = temps.groupby(["step", "bin"], observed=False).size().unstack(fill_value=0)
    return table.div(table.sum(axis=1), axis=0)


def prompt_counts(run: dict) -> dict[str, dict[str, int]]:
    """Per prompt ("<source>/<index>"): visits, all-correct / mixed / all-wrong visits and revival counts, from
    the run's last tracker state ({} without one)."""
    path = run["dir"] / "erpo_state.json"
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    tracker = PromptTracker(
        history_length=int(run["config"]["erpo"]["history_length"]),
        base_temperature=float(run["config"]["erpo"]["temperature"]["base"]),
    )
    tracker.load_state_dict(state["tracker"])
    return {f"{source}/{index}": c for (source, index), c in revival_counts(tracker).items()}


def heldout_curve(run: dict) -> pd.Series:
    """Held-out accuracy per step where verl validated during training (``heldout_steps.json``; empty when the
    run did not validate, the study's default)."""
    path = run["dir"] / "heldout_steps.json"
    points = {}
    if path.exists():
        points.update({int(s): v["heldout"] for s, v in json.loads(path.read_text()).items()})
    return pd.Series(points, dtype=float).sort_index()


def run_summary(run: dict) -> dict:
    """One run's outcomes (pooled over its steps and prompts); the intervals are per variant (``outcomes``)."""
    f = step_frame(run)
    temps = temperatures(run)
    base = float(run["config"]["erpo"]["temperature"]["base"])
    counts = prompt_counts(run).values()
    total = {
        k: sum(c[k] for c in counts)
        for k in ("visits", "all_correct", "mixed", "all_wrong", "base1", "hits1", "base2", "hits2")
    }
    has_rollouts = bool(f["rollouts"].notna().all() and len(f))
    effective = float(f["effective"].sum()) if has_rollouts else None
    return {
        "run": run["name"],
        "variant": run["variant"],
        "seed": run["seed"],
        "steps": len(f),
        "visits": total["visits"],
        **{
            f"frac_{k}": total[k] / total["visits"] if total["visits"] else None
            for k in ("all_correct", "mixed", "all_wrong")
        },
        "effective_prompts_per_step": effective / len(f) if has_rollouts else None,
        "rollouts_per_effective_prompt": float(f["rollouts"].sum()) / effective if effective else None,
        "groups_per_step": float(f["groups"].mean()),
        "all_correct_visits_with_a_revisit": total["base1"],
        "revived_1": total["hits1"],
        "revived_within_1": total["hits1"] / total["base1"] if total["base1"] else None,
        "all_correct_visits_with_two_revisits": total["base2"],
        "revived_2": total["hits2"],
        "revived_within_2": total["hits2"] / total["base2"] if total["base2"] else None,
        "mean_temperature": float(temps["temperature"].mean()) if len(temps) else None,
        "share_raised": float((temps["temperature"] > base + 1e-6).mean()) if len(temps) else None,
        "base_temperature": base,
        "heldout_final": run["result"].get("heldout_avg@k"),
        "heldout_final_ci": run["result"].get("heldout_ci"),
        "k": run["result"].get("k"),
        "wall_s": run["result"].get("wall_s"),
        "mean_step_s": run["result"].get("mean_step_s"),
        "fixed_s": run["result"].get("fixed_s"),
    }


# Outcomes counted per (seed, prompt): name -> (hits key, base key) of prompt_counts.
PROMPT_OUTCOMES = {
    "frac_all_correct": ("all_correct", "visits"),
    "frac_mixed": ("mixed", "visits"),
    "frac_all_wrong": ("all_wrong", "visits"),
    "revived_within_1": ("hits1", "base1"),
    "revived_within_2": ("hits2", "base2"),
}
# Outcomes counted per (seed, step): name -> (numerator column, denominator column or None = one per step).
STEP_OUTCOMES = {
    "effective_prompts_per_step": ("effective", None),
    "rollouts_per_effective_prompt": ("rollouts", "effective"),
}


def _cells(runs: list[dict], variant: str, name: str) -> dict[int, dict[str, tuple[float, float]]]:
    """{seed: {unit: (hits, base)}} of one outcome for one variant: units are prompts or steps."""
    out: dict[int, dict[str, tuple[float, float]]] = {}
    for run in runs:
        if run["variant"] != variant:
            continue
        if name in PROMPT_OUTCOMES:
            hits, base = PROMPT_OUTCOMES[name]
            out[run["seed"]] = {p: (c[hits], c[base]) for p, c in run["_prompts"].items()}
        else:
            num, den = STEP_OUTCOMES[name]
            f = run["_steps"]
            if f[num].isna().any():
                continue
            out[run["seed"]] = {
                str(step): (float(row[num]), float(row[den]) if den else 1.0) for step, row in f.iterrows()
            }
    return {s: c for s, c in out.items() if c}


def outcomes(runs: list[dict], iters: int = 2000) -> dict:
    """Per variant and outcome: pooled value with its two-way bootstrap interval (and Wilson on pooled counts
    for the counted shares); per comparison: the paired difference, its interval, the Fisher p-value of the
    pooled counts and the difference detectable with 80 % power at 5 % (2.8 x the bootstrap SE)."""
    for run in runs:
        run["_prompts"] = prompt_counts(run)
        run["_steps"] = step_frame(run)
    variants = _order({r["variant"] for r in runs})
    per_variant: dict = {v: {} for v in variants}
    for v in variants:
        for name in [*PROMPT_OUTCOMES, *STEP_OUTCOMES]:
            cells = _cells(runs, v, name)
            if cells and sum(b for per in cells.values() for _, b in per.values()) > 0:
                # per-step outcomes are sums of rollouts and prompts, not counts of trials: no Wilson, no Fisher
                per_variant[v][name] = ratio_bootstrap(cells, iters=iters, counts=name in PROMPT_OUTCOMES)
    comparisons = []
    for arm, baseline in COMPARISONS:
        if arm not in variants or baseline not in variants:
            continue
        for name in [*PROMPT_OUTCOMES, *STEP_OUTCOMES]:
            a, b = _cells(runs, arm, name), _cells(runs, baseline, name)
            counted = [sum(n for per in side.values() for _, n in per.values()) for side in (a, b)]
            if not (set(a) & set(b)) or not all(counted):
                continue  # nothing to compare (e.g. no all-correct visit had two revisits yet)
            d = ratio_diff_bootstrap(a, b, iters=iters, counts=name in PROMPT_OUTCOMES)
            lo, hi = d["ci"]
            d["mde80"] = 2.8 * (hi - lo) / 3.92 if np.isfinite([lo, hi]).all() else None
            comparisons.append({"arm": arm, "baseline": baseline, "outcome": name, **d})
    return {"per_variant": per_variant, "comparisons": comparisons}


def probe_comparison(per_variant: dict, probe_path: str | Path, base_temperature: float) -> dict:
    """Each arm's revival within 1 revisit against the probe's control (its entry at the base temperature:
    P(mixed | all-correct before, same T), no learning): counts, Wilson intervals, Fisher exact p."""
    entries = read_probe(probe_path)
    ctl = control(entries, base_temperature)
    rows = []
    for variant, stats in per_variant.items():
        rev = stats.get("revived_within_1")
        if not rev or not rev["n"]:
            continue
        rows.append(
            {
                "variant": variant,
                "revived": rev["hits"],
                "all_correct_visits": rev["n"],
                "rate": rev["rate"],
                "wilson": rev["wilson"],
                "control_rate": ctl["mixed"] / ctl["prompts"] if ctl["prompts"] else None,
                "delta": rev["rate"] - ctl["mixed"] / ctl["prompts"] if ctl["prompts"] else None,
                "fisher_p": fisher_exact(rev["hits"], rev["n"], ctl["mixed"], ctl["prompts"]),
            }
        )
    return {
        "path": str(probe_path),
        "entries": entries,
        "control": {
            **ctl,
            "rate": ctl["mixed"] / ctl["prompts"] if ctl["prompts"] else None,
            "wilson": list(wilson(ctl["mixed"], ctl["prompts"])),
        },
        "arms": rows,
    }


def _cell(stat: dict | None, digits: int = 2) -> str:
    if not stat or stat.get("rate") is None:
        return "-"
    counts = f" ({stat['hits']}/{stat['n']})" if stat.get("wilson") is not None else ""
    return f"{stat['rate']:.{digits}f} [{stat['ci'][0]:.{digits}f}, {stat['ci'][1]:.{digits}f}]{counts}"


def outcomes_table(per_variant: dict, per_run: list[dict]) -> str:
    keys = list(LABELS)
    header = ["variant", "seeds"] + [LABELS[k] for k in keys] + ["mean T (sd over seeds)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant, stats in per_variant.items():
        seeds = sorted(r["seed"] for r in per_run if r["variant"] == variant)
        temps = [
            r["mean_temperature"] for r in per_run if r["variant"] == variant and r["mean_temperature"] is not None
        ]
        t = (
            f"{np.mean(temps):.3f} ({np.std(temps, ddof=1):.3f})"
            if len(temps) > 1
            else (f"{temps[0]:.3f}" if temps else "-")
        )
        digits = {"rollouts_per_effective_prompt": 1, "effective_prompts_per_step": 1}
        cells = [_cell(stats.get(k), digits.get(k, 2)) for k in keys]
        lines.append("| " + " | ".join([variant, str(len(seeds)), *cells, t]) + " |")
    return "\n".join(lines) + "\n"


def comparisons_table(comparisons: list[dict]) -> str:
    header = [
        "arm vs baseline",
        "outcome",
        "difference [95% CI]",
        "counts arm / baseline",
        "Fisher p",
        "detectable (80 % power)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in comparisons:
        lo, hi = c["ci"]
        counted = "fisher_p" in c
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{c['arm']} vs {c['baseline']}",
                    LABELS[c["outcome"]],
                    f"{c['delta']:+.3f} [{lo:+.3f}, {hi:+.3f}]" if c["delta"] is not None else "-",
                    _counts(c) if counted else "-",
                    f"{c['fisher_p']:.3g}" if counted else "-",
                    f"{c['mde80']:.3f}" if c.get("mde80") is not None else "-",
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def probe_table(probe: dict) -> str:
    ctl = probe["control"]
    lo, hi = ctl["wilson"]
    lines = [
        f"Control: the probe's redraw at T = {ctl['temperature']:g}: {ctl['mixed']}/{ctl['prompts']} all-correct "
        f"prompts came back mixed ({ctl['rate']:.2f}, Wilson [{lo:.2f}, {hi:.2f}]).",
        "",
        "| variant | revived within 1 (counts) | Wilson 95% | vs control | Fisher p |",
        "|---|---|---|---|---|",
    ]
    for row in probe["arms"]:
        lo, hi = row["wilson"]
        lines.append(
            f"| {row['variant']} | {row['rate']:.2f} ({row['revived']}/{row['all_correct_visits']}) | "
            f"[{lo:.2f}, {hi:.2f}] | {row['delta']:+.2f} | {row['fisher_p']:.3g} |"
        )
    lines += ["", "Within 2 revisits has no probe counterpart (the probe draws one revisit per group, not two)."]
    lines += [
        "",
        "Dose-response (probe, no learning): "
        + ", ".join(
            f"T={e['temperature']:g}: mixed {e['mixed']}/{e['prompts']}, all-wrong {e['all_wrong']}/{e['prompts']}"
            for e in probe["entries"]
        ),
    ]
    return "\n".join(lines) + "\n"


def analyse_study(
    results: str | Path, figures: bool = True, probe: str | Path | None = None, allow_mixed_commits: bool = False
) -> dict:
    """analysis.json, table.md (outcomes with intervals, comparisons, probe control, held-out deltas, simulator),
    and the notebook's figures."""
    results = Path(results)
    runs = load(results, allow_mixed_commits)
    code = check_code(runs, allow_mixed=True)
    per_run = [run_summary(r) for r in runs]
    measured = outcomes(runs)
    variants = _order({r["variant"] for r in runs})
    evals = load_results([str(results / "runs")])
    ks = sorted({e["k"] for e in evals})
    if len(ks) > 1:
        raise InputError(
            f"held-out results with different k {ks} under {results / 'runs'}: evaluate every model with one --eval-k"
        )
    metric = f"avg@{ks[0]}" if ks else "avg@k"
    eval_variants = _order({e["variant"] for e in evals})
    baselines = [b for b in BASELINES if b in eval_variants]
    tables = {}
    for bench in ("heldout", "heldout_easy", "heldout_medium", "heldout_hard"):
        rows = delta_rows(evals, bench, baselines, eval_variants) if evals else []
        tables[bench] = {"rows": rows, "markdown": render_markdown(rows, baselines, f"{bench} {metric} (%)")}
    study = json.loads((results / "study.json").read_text()) if (results / "study.json").exists() else {}
    steps = sorted({r["steps"] for r in per_run})
    md = [
        "# CPU study results",
        "",
        f"Runs: {len(runs)}; steps per run: {steps}. "
        "Generated by `python -m benchmarks.cpu_study analyse` from the run logs. "
        + (
            f"Code: commit {code['commit'][:12]}{' (dirty)' if code['dirty'] else ''}, code tree "
            f"{code['code_tree'][:12]}."
            if code
            else "**Runs of different code mixed (--allow-mixed-commits).**"
        ),
        "",
        "## Mechanism outcomes (pooled over seeds; [95 % CI]: bootstrap over seeds and prompts, per-step "
        "outcomes over seeds and steps; counts in parentheses)",
        "",
        outcomes_table(measured["per_variant"], per_run),
        "## Comparisons (paired on seed and prompt / step)",
        "",
        comparisons_table(measured["comparisons"]),
    ]
    probe_out = None
    if probe:
        bases = {r["base_temperature"] for r in per_run if r["variant"] != "grpo_hot"}
        if len(bases) != 1:
            raise InputError(f"runs have base temperatures {sorted(bases)}: the probe control needs one")
        probe_out = probe_comparison(measured["per_variant"], probe, bases.pop())
        md += ["## Revival against the probe's control (resampling alone)", "", probe_table(probe_out)]
    md += [
        f"## Held-out accuracy ({metric}, offline evaluation of the base and each final checkpoint; deltas: "
        "paired bootstrap over seeds and problems, points)",
        "",
        tables["heldout"]["markdown"],
        "### By tier (levels 1-3, 4-6, 7-9)",
        "",
    ]
    for bench in ("heldout_easy", "heldout_medium", "heldout_hard"):
        md += [tables[bench]["markdown"]]
    simulated = None
    shares_path = results / "start_shares.json"
    if shares_path.exists():
        from benchmarks.cpu_study.sim_compare import comparison_table, simulate_study

        start = json.loads(shares_path.read_text())["start_shares"]
        if "train_rl" in start:
            hot = [r["mean_temperature"] for r in per_run if r["variant"] == "erpo" and r["mean_temperature"]]
            simulated = simulate_study(
                runs[0]["config"],
                max(steps),
                start["train_rl"],
                num_prompts=int(start["train_rl"]["prompts"]),
                hot_temperature=float(np.mean(hot)) if hot else None,
            )
            fit = simulated["fit"]
            md += [
                "## Simulator (python -m erpo.sim's model) at the same settings beside the measurement",
                "",
                f"Pool {simulated['settings']['num_prompts']} prompts, {simulated['settings']['batch_size']} per "
                f"step, n={simulated['settings']['n']}, {max(steps)} steps; initial logits fitted to the measured "
                f"start shares (mean {fit['init_logit_mean']:g}, std {fit['init_logit_std']:g}); slope, lr, "
                "transfer: simulator defaults. Measured: pooled value [95 % CI]; '-': not measured or not "
                "modelled.",
                "",
                comparison_table(measured["per_variant"], simulated),
            ]
    table_path = results / "table.md"
    table_path.write_text("\n".join(md))
    out = {
        "per_run": per_run,
        "per_variant": measured["per_variant"],
        "comparisons": measured["comparisons"],
        "probe": probe_out,
        "code": code,
        "variants": variants,
        "heldout_tables": {b: t["rows"] for b, t in tables.items()},
        "simulated": simulated,
        "plan": study.get("plan"),
    }
    (results / "analysis.json").write_text(json.dumps(out, indent=1, default=float))
    if figures:
        render_figures(results)
    return {"table_path": str(table_path), **out}


def render_figures(results: Path, figure_dir: Path | None = None) -> Path:
    """Execute notebooks/cpu_study.ipynb on the study; it writes the PNGs (default ``<results>/figures``)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[2]
    notebook = root / "notebooks" / "cpu_study.ipynb"
    figure_dir = Path(figure_dir or results / "figures")
    # the kernel imports this checkout's erpo (not another install's), whatever its working directory
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(root), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    figure_dir.mkdir(parents=True, exist_ok=True)
    os.environ["ERPO_STUDY_DIR"] = str(results.resolve())
    os.environ["ERPO_STUDY_FIGURES"] = str(figure_dir.resolve())
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(figure_dir)}}).execute()
    return figure_dir


def _counts(c: dict) -> str:
    """ "k/n vs k/n" of a comparison's arm and baseline."""
    (k_arm, n_arm), (k_base, n_base) = c["arm_counts"], c["baseline_counts"]
    return f"{k_arm}/{n_arm} vs {k_base}/{n_base}"
