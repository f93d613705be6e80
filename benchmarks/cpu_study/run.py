"""Run the CPU study: Hydra multiruns of ``recipe.driver.train`` over variants x seeds, resumable.

Two folders: ``results`` (small files, committed: metrics JSONL + resolved config per run, assignments
log, tracker state, held-out result JSONs, W&B offline run files, tables, figures) and ``work``
(checkpoints, validation dumps, Hydra job folders; not committed). A run counts as finished when
``results/runs/<run>/result.json`` exists with the plan's step count; finished runs are skipped, the
rest are cleaned and launched, one multirun per seed, with one progress line per job.

Per seed: the base model's offline held-out evaluation (``runs/base-s<seed>``), then the seed's variants in
plan order, then ``grpo_hot``: GRPO at one global temperature, the mean temperature the finished ERPO arm of
the same seed sampled at (read from its assignments log; refused without that arm). Each run's result.json
records the code that ran it (benchmarks.cpu_study.provenance: commit, dirty flag, code fingerprint), the extra
overrides and the offline held-out evaluation of its final checkpoint (benchmarks.cpu_study.offline_eval).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.cpu_study.heldout import write_heldout_curve
from benchmarks.cpu_study.provenance import code_version
from benchmarks.cpu_study.task import SOURCE

PROJECT = "erpo"  # trainer.project_name: verl's file logger writes <root>/<project>/<run>.jsonl
# Plan order = launch order within a seed: the GRPO / ERPO pair first; grpo_hot runs after the seed's others
# (it needs the ERPO arm's measured temperature).
MAIN_VARIANTS = ("grpo", "erpo", "dapo", "dapo_ra", "erpo_dapo", "grpo_hot")
HOT_VARIANT = "grpo_hot"
# The arm whose sampled temperatures grpo_hot's one temperature is the mean of.
HOT_SOURCE = "erpo"
RA_VARIANT = "erpo_ra"
BASE = "base"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ASSETS = "outputs/assets/cpu_study"  # recipe/conf/model/cpu_study.yaml: assets.study_dir


@dataclass
class Plan:
    results: str
    work: str
    steps: int = 100
    # Validation during training every test_freq steps (0 = none; the comparison is the offline evaluation).
    test_freq: int = 0
    seeds: tuple[int, ...] = (1, 2, 3)
    variants: tuple[str, ...] = MAIN_VARIANTS
    ra_seeds: tuple[int, ...] = ()
    overrides: tuple[str, ...] = field(default_factory=tuple)
    # The study's model + data (assets.study_dir) and the offline held-out evaluation: samples per problem,
    # temperature (the base temperature of training), response budget (the runs' response_length).
    assets: str = DEFAULT_ASSETS
    eval_k: int = 16
    eval_temperature: float = 1.0
    eval_max_new_tokens: int = 12
    # Unix time after which no job is started when it would not finish in time (None: no deadline), and the
    # wall time per job assumed before one has finished (the powered study's pilot, BENCHMARKS.md 6b: ~2 min
    # fixed + ~8-10 s per step of 32 prompts on 2 shared cores, so ~5.5 min at 20 steps).
    deadline: float | None = None
    job_estimate_s: float = 330.0
    # Variants whose first-seed W&B offline run file is copied into results (each is ~15 KB per step: the
    # others stay in the work folder); two variants show W&B's grouping by variant.
    wandb_keep: tuple[str, ...] = ("grpo", "erpo")

    def jobs(self) -> list[tuple[str, int]]:
        out = [(v, s) for v in self.variants for s in self.seeds]
        return out + [(RA_VARIANT, s) for s in self.ra_seeds]

    def check(self) -> None:
        """Refuse a plan that cannot run: grpo_hot without the ERPO arm it reads (planned or finished)."""
        if HOT_VARIANT in self.variants and HOT_SOURCE not in self.variants:
            missing = [s for s in self.seeds if not is_done(self, HOT_SOURCE, s)]
            if missing:
                raise ValueError(
                    f"variants include {HOT_VARIANT} but not {HOT_SOURCE}, and the {HOT_SOURCE} arm of "
                    f"seeds {missing} is not finished in {self.results}: {HOT_VARIANT} samples at the "
                    f"mean temperature of that arm; add {HOT_SOURCE} to --variants"
                )
        if self.eval_k < 1:
            raise ValueError(f"eval_k={self.eval_k}: the offline evaluation needs at least one sample per problem")


def run_name(variant: str, seed: int) -> str:
    """The run's trainer.experiment_name (recipe/conf/experiment/cpu_study/_base.yaml)."""
    return f"cpu_study-{variant}-s{seed}"


def run_dir(plan: Plan, variant: str, seed: int) -> Path:
    return Path(plan.results) / "runs" / run_name(variant, seed)


def is_done(plan: Plan, variant: str, seed: int) -> bool:
    path = run_dir(plan, variant, seed) / "result.json"
    if not path.exists():
        return False
    result = json.loads(path.read_text())
    if result.get("steps") != plan.steps:
        raise ValueError(
            f"{path} is a finished run of {result.get('steps')} steps, the plan has {plan.steps}: "
            "use another --results folder or the same --steps"
        )
    return result.get("status") == "ok"


def _clean(plan: Plan, variant: str, seed: int) -> None:
    """Remove what an unfinished earlier attempt of this run left (logs are rewritten, not appended)."""
    name = run_name(variant, seed)
    for path in (run_dir(plan, variant, seed), Path(plan.work) / "runs" / name):
        shutil.rmtree(path, ignore_errors=True)
    for root in (plan.results, plan.work):
        for suffix in (".jsonl", ".config.json"):
            (Path(root) / "logs" / PROJECT / f"{name}{suffix}").unlink(missing_ok=True)


INHERITED_WANDB_IDENTITY = (
    "WANDB_RUN_ID",
    "WANDB_RUN_GROUP",
    "WANDB_JOB_TYPE",
    "WANDB_TAGS",
    "WANDB_RESUME",
    "WANDB_NAME",
    "WANDB_SERVICE",
)


def environment(plan: Plan) -> dict[str, str]:
    """Environment of the multirun: where verl's JSONL and W&B's offline runs go; W&B keeps no console
    copy and no system stats (the history is what the study reads)."""
    # Each job's W&B identity derives from its run name (recipe/driver/startup.py); an inherited one (a shell's
    # WANDB_RUN_ID) would win there, as a user's choice for a single run, and log every job of the study into it.
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_WANDB_IDENTITY}
    env.update(
        {
            "VERL_FILE_LOGGER_ROOT": str(Path(plan.work, "logs").resolve()),
            "WANDB_DIR": str(Path(plan.work).resolve()),
            "WANDB_MODE": "offline",
            "WANDB_CONSOLE": "off",
            "WANDB__DISABLE_STATS": "true",
            "WANDB_SILENT": "true",
            "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]),
        }
    )
    return env


def command(
    plan: Plan, variants: list[str], seeds: list[int], sweep_dir: Path, extra: tuple[str, ...] = ()
) -> list[str]:
    experiments = ",".join(f"cpu_study/{v}" for v in variants)
    # seed before experiment: Hydra's first sweep key is the outer loop, so every variant of seed 1 finishes
    # before seed 2 starts (a study cut short still has whole seeds)
    return [
        sys.executable,
        "-m",
        "recipe.driver.train",
        "-m",
        f"seed={','.join(map(str, seeds))}",
        f"experiment={experiments}",
        f"trainer.total_training_steps={plan.steps}",
        f"trainer.test_freq={plan.test_freq if plan.test_freq > 0 else -1}",
        f"trainer.default_local_dir={Path(plan.work).resolve()}/runs/${{trainer.experiment_name}}",
        f"hydra.sweep.dir={sweep_dir.resolve()}",
        "hydra.sweep.subdir=${trainer.experiment_name}",
        *plan.overrides,
        *extra,
    ]


def _groups(pending: list[tuple[str, int]]) -> list[tuple[list[str], list[int]]]:
    """Pending jobs as multiruns, one per seed in seed order, each with that seed's variants in plan order,
    grpo_hot alone after them (its temperature is read from the seed's finished ERPO arm); the RA ablation's
    first seed right after the first main seed (so a study cut short by its deadline has whole seeds)."""
    main = [j for j in pending if j[0] not in (RA_VARIANT, HOT_VARIANT)]
    hot = {s for v, s in pending if v == HOT_VARIANT}
    ra = [j for j in pending if j[0] == RA_VARIANT]
    groups = []
    for seed in sorted({s for _, s in main} | hot):
        variants = [v for v, s in main if s == seed]
        if variants:
            groups.append((variants, [seed]))
        if seed in hot:
            groups.append(([HOT_VARIANT], [seed]))
    for i, (_, seed) in enumerate(sorted(ra, key=lambda j: j[1])):
        after_first_seed = next((k for k, (_, s) in enumerate(groups) if s != groups[0][1]), len(groups))
        groups.insert(min(after_first_seed + i, len(groups)) if groups else 0, ([RA_VARIANT], [seed]))
    return groups


def hot_temperature(plan: Plan, seed: int) -> float:
    """Mean sampling temperature over every prompt visit of the finished ERPO arm of ``seed`` (its assignments
    log), rounded to 4 decimals: grpo_hot's one temperature. Refused when that arm is not finished."""
    path = run_dir(plan, HOT_SOURCE, seed) / "erpo_assignments.jsonl"
    if not is_done(plan, HOT_SOURCE, seed) or not path.exists():
        raise ValueError(
            f"{HOT_VARIANT} seed {seed}: the {HOT_SOURCE} arm of seed {seed} is not finished in "
            f"{plan.results} (no result.json with status ok, or no {path.name}); {HOT_VARIANT} samples "
            f"at that arm's mean temperature, so run {HOT_SOURCE} first"
        )
    temps = [t for line in path.read_text().splitlines() if line.strip() for t in json.loads(line)["temperature"]]
    if not temps:
        raise ValueError(f"{path}: no temperatures recorded; {HOT_VARIANT} needs the {HOT_SOURCE} arm's assignments")
    return round(sum(temps) / len(temps), 4)


JOB_LINE = re.compile(r"#(\d+) : (.*)$")


def _job_of(overrides: str) -> tuple[str, int]:
    """(variant, seed) of a Hydra job line's overrides ("experiment=cpu_study/erpo seed=2 ...")."""
    variant = re.search(r"experiment=cpu_study/(\w+)", overrides)
    seed = re.search(r"(?:^|\s)seed=(\d+)", overrides)
    if not variant or not seed:
        raise ValueError(f"cannot read the job of Hydra line {overrides!r}")
    return variant.group(1), int(seed.group(1))


def _spec(plan: Plan) -> dict:
    marker = Path(plan.assets) / "erpo_study.json"
    if not marker.exists():
        raise FileNotFoundError(
            f"{marker}: the study's assets are not built; run `python -m benchmarks.cpu_study build`"
        )
    return json.loads(marker.read_text())["spec"]


def evaluate_base(plan: Plan, seed: int, log=print) -> dict:
    """The base model's offline held-out evaluation for ``seed`` (its sampling seed), once: ``runs/base-s<seed>``."""
    from benchmarks.cpu_study.offline_eval import evaluate_and_write

    dst = run_dir(plan, BASE, seed)
    path = dst / "result.json"
    if path.exists() and json.loads(path.read_text()).get("eval_k") == plan.eval_k:
        return json.loads(path.read_text())
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    model = Path(plan.assets) / "model"
    start = time.time()
    summary = evaluate_and_write(
        model,
        model,
        _spec(plan),
        dst,
        run_name(BASE, seed),
        BASE,
        seed,
        0,
        plan.eval_k,
        plan.eval_temperature,
        plan.eval_max_new_tokens,
    )
    result = {
        "run_name": run_name(BASE, seed),
        "variant": BASE,
        "seed": seed,
        "status": "ok",
        "eval_k": plan.eval_k,
        "eval_s": round(time.time() - start, 1),
        "code": code_version(ROOT),
        **summary,
    }
    path.write_text(json.dumps(result, indent=1))
    log(f"{run_name(BASE, seed)}: held-out avg@{plan.eval_k} {summary['heldout_avg@k']:.3f} ({result['eval_s']:.0f} s)")
    return result


def run(plan: Plan, log=print) -> dict:
    """Launch every pending job; collect each as it finishes; returns {run name: result}."""
    plan.check()
    jobs = plan.jobs()
    pending = [j for j in jobs if not is_done(plan, *j)]
    log(
        f"cpu study: {len(jobs)} runs, {len(jobs) - len(pending)} finished, {len(pending)} to run "
        f"({plan.steps} steps each) -> {plan.results}"
    )
    Path(plan.results).mkdir(parents=True, exist_ok=True)
    Path(plan.work).mkdir(parents=True, exist_ok=True)
    for job in pending:
        _clean(plan, *job)
    done = len(jobs) - len(pending)
    results = {}
    for seed in sorted({s for _, s in jobs}):
        evaluate_base(plan, seed, log)
    for variants, seeds in _groups(pending):
        if plan.deadline is not None:
            walls = [r["wall_s"] for r in results.values() if r.get("status") == "ok"]
            per_job = sum(walls) / len(walls) if walls else plan.job_estimate_s
            fit = int((plan.deadline - time.time()) // per_job)
            if fit < len(variants) * len(seeds):
                if fit <= 0 or len(seeds) > 1:
                    log(f"deadline: not starting {variants} x seeds {seeds} (~{per_job:.0f} s per job)")
                    continue
                log(f"deadline: starting {variants[:fit]} of {variants} for seed {seeds[0]} (~{per_job:.0f} s per job)")
                variants = variants[:fit]
        extra: tuple[str, ...] = ()
        if variants == [HOT_VARIANT]:
            try:
                extra = (f"study_hot_temperature={hot_temperature(plan, seeds[0])}",)
            except ValueError as err:
                log(f"not starting {run_name(HOT_VARIANT, seeds[0])}: {err}")
                continue
        code = code_version(ROOT)
        sweep_dir = Path(plan.work) / "multirun" / time.strftime("%Y%m%d-%H%M%S")
        cmd = command(plan, variants, seeds, sweep_dir, extra)
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        with open(sweep_dir / "multirun.log", "w") as out:
            out.write(" ".join(cmd) + "\n")
            out.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=environment(plan),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            current, started = None, time.time()

            def finish(
                job: tuple[str, int], sweep_dir: Path = sweep_dir, code: dict = code, extra: tuple[str, ...] = extra
            ) -> None:
                nonlocal done
                variant, seed = job
                result = collect(
                    plan,
                    variant,
                    seed,
                    sweep_dir,
                    wall_s=time.time() - started,  # noqa: B023 - this job's start
                    code=code,
                    extra=extra,
                )
                results[run_name(variant, seed)] = result
                done += 1
                acc = result.get("heldout_avg@k")
                log(
                    f"[{done}/{len(jobs)}] {run_name(variant, seed)}: {result['status']} in {result['wall_s']:.0f} s"
                    f" ({result.get('steps_logged', 0)} steps, {result.get('mean_step_s') or 0:.2f} s/step"
                    + (f", held-out avg@{result['k']} {acc:.3f})" if acc is not None else ")")
                )

            for line in proc.stdout:
                out.write(line)
                match = JOB_LINE.search(line) if "[HYDRA]" in line else None
                if match:
                    if current is not None:
                        finish(current)
                    current, started = _job_of(match.group(2)), time.time()
                    variant, seed = current
                    log(f"[{done + 1}/{len(jobs)}] {run_name(variant, seed)}: started {time.strftime('%H:%M:%S')}")
            proc.wait()
            if current is not None:
                finish(current)
            if proc.returncode != 0:
                log(f"multirun exited {proc.returncode}; its log: {sweep_dir / 'multirun.log'}")
    return results


def collect(
    plan: Plan,
    variant: str,
    seed: int,
    sweep_dir: Path,
    wall_s: float,
    code: dict | None = None,
    extra: tuple[str, ...] = (),
) -> dict:
    """Copy one run's small files into ``results``, evaluate its final checkpoint offline and write its result
    JSONs (held-out avg@k with CIs); result.json also records the code that ran it and the extra overrides."""
    name = run_name(variant, seed)
    src = Path(plan.work) / "runs" / name
    dst = run_dir(plan, variant, seed)
    dst.mkdir(parents=True, exist_ok=True)
    status_path = sweep_dir / name / "job_status.json"
    status = json.loads(status_path.read_text()) if status_path.exists() else {"status": "failed", "error": "no status"}
    result = {
        "run_name": name,
        "variant": variant,
        "seed": seed,
        "steps": plan.steps,
        "status": status["status"],
        "error": status.get("error", ""),
        "wall_s": round(wall_s, 1),
        "code": code or code_version(ROOT),
        "overrides": [*plan.overrides, *extra],
    }
    if (src / "erpo_assignments.jsonl").exists():
        shutil.copy(src / "erpo_assignments.jsonl", dst / "erpo_assignments.jsonl")
    state = src / f"global_step_{plan.steps}" / "erpo_state.json"
    if state.exists():
        shutil.copy(state, dst / "erpo_state.json")
    wandb_file = _wandb_file(Path(plan.work), name)
    first_seed = min(plan.seeds) if variant != RA_VARIANT else min(plan.ra_seeds)
    if variant in plan.wandb_keep and seed == first_seed:
        if wandb_file is None:
            print(f"{name}: no offline W&B run file under {Path(plan.work) / 'wandb'}", flush=True)
        else:
            shutil.copy(wandb_file, dst / f"{name}.wandb")
    metrics_path = Path(plan.work) / "logs" / PROJECT / f"{name}.jsonl"
    if metrics_path.exists():
        rows = [json.loads(x) for x in metrics_path.read_text().splitlines() if x.strip()]
        write_slim_log(rows, metrics_path.with_suffix(".config.json"), Path(plan.results) / "logs" / PROJECT, name)
        steps = [r["data"] for r in rows if "timing_s/step" in r["data"]]
        step_s = sum(r["timing_s/step"] for r in steps)
        testing_s = sum(r.get("timing_s/testing", 0.0) for r in steps)
        result.update(
            steps_logged=len(steps),
            step_s_total=round(step_s, 1),
            mean_step_s=round(step_s / len(steps), 3) if steps else None,
            testing_s_total=round(testing_s, 1),
            # Start-up (Ray, vLLM, FSDP, validation before training) and shut-down: the rest.
            fixed_s=round(wall_s - step_s - testing_s, 1),
        )
    validation = src / "validation"
    if validation.exists():
        write_heldout_curve(validation, dst)
    if result["status"] == "ok" and result.get("steps_logged") != plan.steps:
        result["status"] = "failed"
        result["error"] = f"logged {result.get('steps_logged')} steps of {plan.steps}"
    if result["status"] == "ok":
        result.update(_evaluate_final(plan, variant, seed, src, dst))
    # Written last: its presence (status ok) marks the run finished.
    (dst / "result.json").write_text(json.dumps(result, indent=1))
    return result


def _evaluate_final(plan: Plan, variant: str, seed: int, src: Path, dst: Path) -> dict:
    """Offline held-out evaluation of the run's last checkpoint (its HF copy); a failure marks the run failed."""
    from benchmarks.cpu_study.offline_eval import evaluate_and_write, hf_checkpoint

    start = time.time()
    try:
        model = hf_checkpoint(src / f"global_step_{plan.steps}")
        summary = evaluate_and_write(
            model,
            Path(plan.assets) / "model",
            _spec(plan),
            dst,
            run_name(variant, seed),
            variant,
            seed,
            plan.steps,
            plan.eval_k,
            plan.eval_temperature,
            plan.eval_max_new_tokens,
        )
    except (FileNotFoundError, ValueError, OSError) as err:
        return {"status": "failed", "error": f"offline evaluation: {err}"}
    return {**summary, "eval_k": plan.eval_k, "eval_s": round(time.time() - start, 1)}


# Metrics kept in the committed copy of a run's JSONL (the full log stays in the work folder): everything the
# analysis and the notebook read, and every erpo/* key (the W&B test compares those series).
KEEP_PREFIXES = (
    "erpo/",
    "rollouts/",
    "val-core/",
    "critic/score/mean",
    "critic/rewards/mean",
    "response_length/mean",
    "actor/entropy",
    "actor/pg_loss",
    "actor/kl_loss",
    "actor/grad_norm",
    "training/global_step",
    "training/epoch",
    "timing_s/step",
    "timing_s/gen",
    "timing_s/old_log_prob",
    "timing_s/ref",
    "timing_s/update_actor",
    "timing_s/update_weights",
    "timing_s/testing",
    "timing_s/save_checkpoint",
)


def _round(value):
    return float(f"{value:.6g}") if isinstance(value, float) else value


def write_slim_log(rows: list[dict], config_path: Path, out_dir: Path, name: str) -> None:
    """The run's JSONL with KEEP_PREFIXES keys, floats to 6 significant digits, and its config, compact."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / f"{name}.jsonl", "w") as f:
        for row in rows:
            data = {k: _round(v) for k, v in row["data"].items() if k.startswith(KEEP_PREFIXES)}
            f.write(json.dumps({"step": row["step"], "data": data}, separators=(",", ":")) + "\n")
    if config_path.exists():
        config = json.loads(config_path.read_text())
        (out_dir / f"{name}.config.json").write_text(json.dumps(config, separators=(",", ":")))


def _wandb_file(work: Path, name: str) -> Path | None:
    """The newest offline W&B run file of this run (its id derives from the run name: startup.wandb_settings)."""
    import hashlib

    run_id = hashlib.sha1(f"{PROJECT}/{name}".encode()).hexdigest()[:16]
    files = sorted((work / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def write_plan(plan: Plan, extra: dict) -> None:
    path = Path(plan.results) / "study.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update({"plan": asdict(plan), "machine": machine(), "data_source": SOURCE, **extra})
    path.write_text(json.dumps(data, indent=1))
