"""Analysis of the CPU study, computed from the runs' own logs (no simulator):

- verl's JSONL metrics per step (``logs/erpo/<run>.jsonl``, resolved config beside it): shares of
  all-correct / all-wrong / mixed groups, groups recorded (DAPO's evicted ones included);
- ``runs/<run>/erpo_assignments.jsonl``: every prompt's sampling temperature per step;
- ``runs/<run>/erpo_state.json``: the tracker at the last step, each prompt's whole visit history
  (erpo.history_length is above the visits per prompt), for revival within 1 and 2 revisits;
- ``runs/<run>/heldout_steps.json`` and ``runs/<run>/eval/*.json``: held-out accuracy per validation and
  the last one's avg@k with bootstrap intervals (erpo.study.heldout).

Definitions (our choice, stated in BENCHMARKS.md): a group is *effective* when its advantages are not all
zero: mixed groups, plus all-correct groups under RA; under DAPO's dynamic sampling at most
``train_batch_size`` groups are trained per step, so effective = min(that, the count). Rollouts per
effective prompt = rollouts generated (groups recorded x n, DAPO's discarded groups included) / effective
prompts, summed over the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from erpo.analysis.revival import revival
from erpo.analysis.runs import load_runs
from erpo.metrics import DEFAULT_EDGES
from erpo.tables.build import load_results
from erpo.tables.deltas import delta_rows, render_markdown
from erpo.tracker import PromptTracker

ORDER = ["grpo", "dapo", "erpo", "erpo_dapo", "erpo_ra"]
BASELINES = ["grpo", "dapo"]
VAL_KEY_PREFIX = "val-core/"


def _order(variants) -> list[str]:
    return [v for v in ORDER if v in variants] + sorted(v for v in variants if v not in ORDER)


def load(results: str | Path) -> list[dict]:
    """Every run of the study with its history, config and side files."""
    results = Path(results)
    runs = []
    for run in load_runs(results / "logs"):
        config_path = results / "logs" / "erpo" / f"{run.name}.config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        side = results / "runs" / run.name
        result = json.loads((side / "result.json").read_text()) if (side / "result.json").exists() else {}
        if result.get("status") != "ok":
            continue
        runs.append({"name": run.name, "variant": run.meta["variant"], "seed": run.meta["seed"], "config": config,
                     "history": run.history, "dir": side, "result": result})
    if not runs:
        raise FileNotFoundError(f"no finished study runs under {results}; run `python -m erpo.study run` first")
    shares = results / "start_shares.json"
    step0 = json.loads(shares.read_text())["start_shares"].get("heldout_step0") if shares.exists() else None
    for run in runs:
        run["heldout_step0"] = step0
    return runs


def step_frame(run: dict) -> pd.DataFrame:
    """Per training step: shares, groups, effective prompts, rollouts (from the JSONL metrics)."""
    cfg = run["config"]
    n = int(cfg["actor_rollout_ref"]["rollout"]["n"])
    batch = int(cfg["data"]["train_batch_size"])
    ra = bool(cfg["erpo"]["ra"]["enabled"])
    dapo = bool(((cfg.get("algorithm") or {}).get("filter_groups") or {}).get("enable"))
    h = run["history"]
    h = h[h["erpo/groups"].notna()] if "erpo/groups" in h else h.iloc[0:0]
    groups = h["erpo/groups"].astype(float)
    frame = pd.DataFrame({"groups": groups, "all_correct": h["erpo/frac_all_correct"],
                          "all_wrong": h["erpo/frac_all_wrong"], "mixed": h["erpo/frac_mixed"],
                          "temperature_mean": h["erpo/temperature_mean"],
                          "raised": h["erpo/frac_raised_temperature"]})
    effective = groups * frame["mixed"] + (groups * frame["all_correct"] if ra else 0.0)
    frame["effective"] = np.minimum(effective, batch) if dapo else effective
    frame["rollouts"] = groups * n
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


def run_revival(run: dict) -> dict:
    path = run["dir"] / "erpo_state.json"
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    tracker = PromptTracker(history_length=int(run["config"]["erpo"]["history_length"]),
                            base_temperature=float(run["config"]["erpo"]["temperature"]["base"]))
    tracker.load_state_dict(state["tracker"])
    return revival(tracker)


def heldout_curve(run: dict) -> pd.Series:
    """Held-out avg@k per validated step; step 0 is the base model's, measured once by the build (HF sampling at
    the same temperature) when the runs skip verl's validation before training."""
    path = run["dir"] / "heldout_steps.json"
    points = {}
    if run.get("heldout_step0"):
        points[0] = run["heldout_step0"]["avg@k"]
    if path.exists():
        points.update({int(s): v["heldout"] for s, v in json.loads(path.read_text()).items()})
    return pd.Series(points, dtype=float).sort_index()


def run_summary(run: dict) -> dict:
    f = step_frame(run)
    temps = temperatures(run)
    base = float(run["config"]["erpo"]["temperature"]["base"])
    rev = run_revival(run)
    curve = heldout_curve(run)
    return {
        "run": run["name"], "variant": run["variant"], "seed": run["seed"], "steps": len(f),
        "frac_all_correct": float(f["all_correct"].mean()), "frac_mixed": float(f["mixed"].mean()),
        "frac_all_wrong": float(f["all_wrong"].mean()),
        "effective_prompts_per_step": float(f["effective"].mean()),
        "groups_per_step": float(f["groups"].mean()),
        "rollouts_per_effective_prompt": float(f["rollouts"].sum() / max(f["effective"].sum(), 1e-9)),
        "revived_within_1": rev.get("revived_within_1"), "revived_within_2": rev.get("revived_within_2"),
        "all_correct_visits_with_a_revisit": rev.get("all_correct_visits_with_a_revisit"),
        "mean_temperature": float(temps["temperature"].mean()) if len(temps) else None,
        "share_raised": float((temps["temperature"] > base + 1e-6).mean()) if len(temps) else None,
        "heldout_start": float(curve.iloc[0]) if len(curve) else None,
        "heldout_final": run["result"].get("heldout_avg@k"),
        "heldout_final_ci": run["result"].get("heldout_ci"),
        "wall_s": run["result"].get("wall_s"), "mean_step_s": run["result"].get("mean_step_s"),
        "fixed_s": run["result"].get("fixed_s"),
    }


SUMMARY_KEYS = ["frac_all_correct", "frac_mixed", "frac_all_wrong", "effective_prompts_per_step",
                "rollouts_per_effective_prompt", "revived_within_1", "revived_within_2", "mean_temperature",
                "share_raised", "heldout_start", "heldout_final", "mean_step_s", "fixed_s", "wall_s"]


def variant_summary(per_run: list[dict]) -> dict:
    """Per variant and key: mean, sd, min, max over seeds (None values skipped)."""
    out: dict = {}
    for variant in _order({r["variant"] for r in per_run}):
        rows = [r for r in per_run if r["variant"] == variant]
        stats = {"seeds": sorted(r["seed"] for r in rows)}
        for key in SUMMARY_KEYS:
            vals = [r[key] for r in rows if r.get(key) is not None]
            if vals:
                sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
                stats[key] = {"mean": float(np.mean(vals)), "sd": sd, "min": float(min(vals)), "max": float(max(vals))}
        out[variant] = stats
    return out


def _fmt(stat: dict | None, digits: int = 3, scale: float = 1.0) -> str:
    if not stat:
        return "-"
    sd = f" ± {stat['sd'] * scale:.{digits}f}" if stat.get("sd") is not None else ""
    return f"{stat['mean'] * scale:.{digits}f}{sd}"


def mechanism_table(summary: dict) -> str:
    cols = [("all-correct share", "frac_all_correct", 2), ("mixed share", "frac_mixed", 2),
            ("all-wrong share", "frac_all_wrong", 2), ("effective prompts/step", "effective_prompts_per_step", 2),
            ("rollouts per effective prompt", "rollouts_per_effective_prompt", 1),
            ("revived within 1", "revived_within_1", 2), ("within 2", "revived_within_2", 2),
            ("mean T", "mean_temperature", 3), ("share above base T", "share_raised", 2)]
    header = ["variant", "seeds"] + [c[0] for c in cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant, stats in summary.items():
        lines.append("| " + " | ".join([variant, str(len(stats["seeds"]))]
                                        + [_fmt(stats.get(key), d) for _, key, d in cols]) + " |")
    return "\n".join(lines) + "\n"


def analyse_study(results: str | Path, figures: bool = True) -> dict:
    """analysis.json, table.md (accuracy deltas + mechanism), and the notebook's figures."""
    results = Path(results)
    runs = load(results)
    per_run = [run_summary(r) for r in runs]
    summary = variant_summary(per_run)
    evals = load_results([str(results / "runs")])
    k = evals[0]["k"]
    metric = f"avg@{k}"
    baselines = [b for b in BASELINES if any(r["variant"] == b for r in runs)]
    tables = {}
    for bench in ("heldout", "heldout_easy", "heldout_medium", "heldout_hard"):
        rows = delta_rows(evals, bench, baselines, _order({r["variant"] for r in runs}))
        tables[bench] = {"rows": rows, "markdown": render_markdown(rows, baselines, f"{bench} {metric} (%)")}
    study = json.loads((results / "study.json").read_text()) if (results / "study.json").exists() else {}
    md = ["# CPU study results", "",
          f"Runs: {len(runs)}; steps per run: {sorted({r['steps'] for r in per_run})}. "
          "Generated by `python -m erpo.study analyse` from the run logs.", "",
          f"## Held-out accuracy ({metric}, last step; deltas: paired bootstrap over seeds and problems, points)", "",
          tables["heldout"]["markdown"], "### By tier (levels 1-3, 4-6, 7-9)", ""]
    for bench in ("heldout_easy", "heldout_medium", "heldout_hard"):
        md += [tables[bench]["markdown"]]
    md += ["## Mechanism (per run over all steps, then mean ± sd over seeds)", "", mechanism_table(summary)]
    simulated = None
    shares_path = results / "start_shares.json"
    if shares_path.exists():
        from erpo.study.sim_compare import comparison_table, simulate_study

        start = json.loads(shares_path.read_text())["start_shares"]
        # the RL train set is train_small when the runs read it (the study's config), else all train prompts
        small = "train_small" in str(runs[0]["config"]["data"]["train_files"])
        pool = start["train_small"] if small else {**start["overall"], "prompts": start["prompts"]}
        steps = max(r["steps"] for r in per_run)
        simulated = simulate_study(runs[0]["config"], steps, pool, num_prompts=int(pool["prompts"]))
        fit = simulated["fit"]
        md += ["## Simulator (python -m erpo.sim's model) at the same settings vs measured", "",
               f"Pool {simulated['settings']['num_prompts']} prompts, {simulated['settings']['batch_size']} per step, "
               f"n={simulated['settings']['n']}, {steps} steps; initial logits fitted to the measured start shares "
               f"(mean {fit['init_logit_mean']:g}, std {fit['init_logit_std']:g}); slope, lr, transfer: simulator "
               "defaults. Measured: mean over seeds.", "", comparison_table(summary, simulated)]
    table_path = results / "table.md"
    table_path.write_text("\n".join(md))
    out = {"per_run": per_run, "per_variant": summary,
           "heldout_tables": {b: t["rows"] for b, t in tables.items()}, "simulated": simulated,
           "plan": study.get("plan")}
    (results / "analysis.json").write_text(json.dumps(out, indent=1))
    if figures:
        render_figures(results)
    return {"table_path": str(table_path), **out}


def render_figures(results: Path, figure_dir: Path | None = None) -> Path:
    """Execute notebooks/cpu_study.ipynb on the study; it writes the PNGs (default ``<results>/figures``)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "cpu_study.ipynb"
    figure_dir = Path(figure_dir or results / "figures")
    figure_dir.mkdir(parents=True, exist_ok=True)
    os.environ["ERPO_STUDY_DIR"] = str(results.resolve())
    os.environ["ERPO_STUDY_FIGURES"] = str(figure_dir.resolve())
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(figure_dir)}}).execute()
    return figure_dir
