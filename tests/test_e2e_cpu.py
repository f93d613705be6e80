"""verl's real trainer on CPU: the smoke run, and kill -9 / resume of the tracker (slow: minutes)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from metric_docs import undocumented
from omegaconf import OmegaConf

from erpo.erpo.config import ERPOConfig
from erpo.erpo.controller import ERPOController
from recipe.conf import CONF_DIR
from recipe.erpo.component import ASSIGNMENTS_FILE, STATE_FILE, state_digest
from recipe.greso.component import STATE_FILE as GRESO_STATE_FILE

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _train(tmp: Path, name: str, *overrides: str, timeout=900, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp / "logs"), **(env_extra or {}))
    cmd = [
        sys.executable,
        "-m",
        "recipe.driver.train",
        "experiment=smoke",
        f"trainer.experiment_name={name}",
        f"trainer.default_local_dir={tmp / name}",
        *overrides,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _steps(tmp: Path, name: str) -> list[dict]:
    path = tmp / "logs" / "erpo" / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["data"] | {"step": r["step"]} for r in rows if "erpo/groups" in r.get("data", {})]


def test_smoke_run_changes_temperatures_through_verl(tmp_path):
    out = _train(tmp_path, "smoke", "temperature_schedule=constant", "erpo.temperature.t_max=2.0")
    assert out.returncode == 0, out.stderr[-4000:]
    steps = _steps(tmp_path, "smoke")
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert undocumented({k for s in steps for k in s} - {"step"}) == []  # docs/metrics.md lists every key
    assert any(s["erpo/frac_all_correct"] > 0 for s in steps)
    raised = [s for s in steps if s["erpo/temperature_max"] > 1.5]
    assert raised, "no prompt was re-sampled at a raised temperature"
    # vLLM's processed log-probs (at each request's temperature) match the trainer's log-prob pass,
    # which sees the same per-sample temperature; a scalar T=1 there would break this.
    for s in raised:
        assert s["training/rollout_probs_diff_mean"] < 0.01, s
    assert (tmp_path / "smoke" / "global_step_2" / STATE_FILE).exists()
    # The notebooks run on this fresh smoke log too (the fast suite runs them on committed fixtures).
    from erpo.analysis.notebooks import execute_all

    execute_all(tmp_path / "logs", tmp_path / "notebooks", eval_dir=tmp_path / "no_eval")


def _kill_marked(mark: str) -> None:
    """SIGKILL every process whose environment carries ``mark`` (never `ray stop --force`: it
    would kill every Ray session on the machine, other users' included)."""
    needle = f"ERPO_TEST_KILL_MARK={mark}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def _assignments(run_dir: Path) -> dict[int, dict]:
    """Last recorded assignment per step (a killed run may have logged a step it never finished)."""
    rows = [json.loads(line) for line in (run_dir / ASSIGNMENTS_FILE).read_text().splitlines() if line.strip()]
    return {r["step"]: r for r in rows}


def test_kill_and_resume_restores_the_tracker(tmp_path):
    """kill -9 after the step-2 checkpoint, resume: the tracker is the saved one, and step 3 samples the
    same prompts as an uninterrupted run, at the temperatures the saved tracker assigns them."""
    schedule = ["temperature_schedule=constant", "erpo.temperature.t_max=2.0"]
    uninterrupted = _train(tmp_path, "straight", "trainer.total_training_steps=3", "trainer.save_freq=2", *schedule)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-4000:]

    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"))
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "recipe.driver.train",
        "experiment=smoke",
        "trainer.experiment_name=run",
        f"trainer.default_local_dir={run_dir}",
        "trainer.save_freq=2",
        "trainer.total_training_steps=6",
        *schedule,
    ]
    env["ERPO_TEST_KILL_MARK"] = marker_id = f"kill-{os.getpid()}-{time.time_ns()}"
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    marker = run_dir / "latest_checkpointed_iteration.txt"
    deadline = time.time() + 900
    while not (marker.exists() and marker.read_text().strip() == "2"):
        assert proc.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the run ...
    proc.wait()
    _kill_marked(marker_id)  # ... and the Ray daemons it started in sessions of their own
    saved = json.loads((run_dir / "global_step_2" / STATE_FILE).read_text())

    out = _train(tmp_path, "run", "trainer.save_freq=2", "trainer.total_training_steps=3", *schedule)
    assert out.returncode == 0, out.stderr[-4000:]
    restored = re.search(
        r"ERPO tracker restored from .*global_step_2: (\d+) prompts, state sha256 (\w+)", out.stdout + out.stderr
    )
    assert restored, "resume did not restore the tracker"
    assert restored.group(2) == state_digest(saved)
    # The resumed run continues at step 3 ...
    assert [s["step"] for s in _steps(tmp_path, "run")][-1] == 3
    # ... with the prompts an uninterrupted run samples at step 3 (verl restores the dataloader) ...
    resumed_step3, straight_step3 = _assignments(run_dir)[3], _assignments(tmp_path / "straight")[3]
    assert (resumed_step3["data_source"], resumed_step3["index"]) == (
        straight_step3["data_source"],
        straight_step3["index"],
    )
    # ... at exactly the temperatures the saved tracker gives them.
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="train", overrides=["experiment=smoke", *schedule])
    controller = ERPOController(ERPOConfig.from_dict(OmegaConf.to_container(cfg.erpo, resolve=True)))
    controller.load_state_dict(saved)
    expected = controller.assign(resumed_step3["data_source"], np.asarray(resumed_step3["index"]))
    assert resumed_step3["temperature"] == pytest.approx([float(t) for t in expected], abs=1e-6)


def test_resume_without_tracker_state_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    out = _train(
        tmp_path, "run", "trainer.total_training_steps=2", "trainer.save_freq=2", f"trainer.default_local_dir={run_dir}"
    )
    assert out.returncode == 0, out.stderr[-4000:]
    (run_dir / "global_step_2" / STATE_FILE).unlink()
    out = _train(tmp_path, "run", "trainer.total_training_steps=3", f"trainer.default_local_dir={run_dir}")
    assert out.returncode != 0 and "erpo.allow_fresh_tracker" in out.stdout + out.stderr


def test_two_job_multirun_of_the_smoke(tmp_path):
    """Basic launcher: jobs run one after another, each with its own Ray session; a bad job does not stop the sweep."""
    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"))
    cmd = [
        sys.executable,
        "-m",
        "recipe.driver.train",
        "-m",
        "experiment=smoke",
        "trainer.total_training_steps=2",
        "trainer.save_freq=-1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        "erpo.temperature.t_max=0.5,1.4",
    ]  # the first job is refused (t_max < base), the second trains
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    statuses = {
        p.parent.parent.name: json.loads(p.read_text())["status"]
        for p in (tmp_path / "sweep").glob("*/seed=1/job_status.json")
    }
    # named by the swept key only; the fixed overrides and the seed stay out of the name
    assert statuses == {"erpo.temperature.t_max=0.5": "refused", "erpo.temperature.t_max=1.4": "ok"}


def test_prepo_schedule_and_weighting_run_inside_verl_with_erpo(tmp_path):
    """ERPO on PREPO through verl's trainer: each step scores 8 candidates with the actor, rolls out the
    4 in the pacing window, weights the loss by relative entropy, and ERPO still tempers the rollouts."""
    from recipe.prepo.component import STATE_FILE as PREPO_STATE_FILE

    out = _train(
        tmp_path,
        "prepo",
        "algorithm=erpo_prepo",
        "prepo.candidate_multiplier=2",
        "temperature_schedule=constant",
        "erpo.temperature.t_max=2.0",
        "trainer.save_freq=3",
    )
    assert out.returncode == 0, out.stderr[-4000:]
    steps = _steps(tmp_path, "prepo")
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert undocumented({k for s in steps for k in s} - {"step"}) == []
    # Window of K=4 in |B|=8 sorted candidates, linear pacing over 6 steps: start floor(rho * 4).
    assert [s["prepo/window_start"] for s in steps] == [0, 0, 1, 2, 3, 4]
    for s in steps:
        assert s["prepo/candidate_ppl_min"] <= s["prepo/selected_ppl_min"] <= s["prepo/selected_ppl_max"]
        assert s["prepo/selected_ppl_max"] <= s["prepo/candidate_ppl_max"]
        assert s["prepo/rollouts_used"] == 4 * 4 * s["step"]  # K prompts x n=4 rollouts per step
        # The weighted loss ran on the actor (verl prefixes the loss's metrics with actor/).
        assert 0 <= s["actor/prepo/weight_min"] <= 1.01 and s["actor/prepo/weight_max"] >= 0.99
        # H_bar of the whole batch (old-policy entropies) is the one every loss call divided by.
        assert s["actor/prepo/entropy_normaliser"] == pytest.approx(s["prepo/entropy_normaliser_batch"], rel=1e-4)
        assert {"erpo/frac_mixed", "erpo/temperature_mean"} <= set(s)
    # ERPO's per-sample temperatures still reach the log-prob passes on PREPO-selected prompts.
    for s in steps:
        if s["erpo/temperature_max"] > 1.5:
            assert s["training/rollout_probs_diff_mean"] < 0.01, s
    state = json.loads((tmp_path / "prepo" / "global_step_3" / PREPO_STATE_FILE).read_text())
    assert state["rollouts_used"] == 48 and state["steps_taken"] == 3


def test_ra_under_dapo_trains_all_correct_groups(tmp_path):
    """ERPO on DAPO with RA: all-correct groups survive DAPO's filter (only all-wrong ones are evicted) and
    train with RA's positive advantage (GRPO would give them 0); rollouts are counted with refills."""
    from recipe.rollouts.component import STATE_FILE as ROLLOUTS_STATE_FILE

    out = _train(
        tmp_path,
        "ra",
        "algorithm=erpo_dapo",
        "erpo.ra.enabled=true",
        "reward.reward_kwargs.overlong_buffer_cfg.len=4",
        "trainer.total_training_steps=4",
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "Run plan" in out.stdout and "DAPO refill" in out.stdout
    steps = _steps(tmp_path, "ra")
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert undocumented({k for s in steps for k in s} - {"step"}) == []
    trained_ra = [s for s in steps if s.get("erpo/ra_groups", 0) > 0]
    assert trained_ra, "no all-correct group reached the advantage under DAPO with RA on"
    for s in trained_ra:
        assert s["erpo/ra_advantage_mean"] > 0  # GRPO's advantage of an all-correct group is 0
    totals = [s["rollouts/total"] for s in steps]
    assert totals == sorted(totals) and all(t >= 16 * s["step"] for t, s in zip(totals, steps, strict=True))
    assert all(0 < s["rollouts/effective"] <= s["rollouts/total"] for s in steps)
    state = json.loads((tmp_path / "ra" / "global_step_2" / ROLLOUTS_STATE_FILE).read_text())
    assert state["total"] == steps[1]["rollouts/total"]


def test_greso_skips_prompts_fills_the_batch_and_resumes_its_state(tmp_path):
    """algorithm=greso through verl's trainer: 8 toy prompts x batch 4, so from step 3 on every candidate has a
    history; the tiny model without its warm start gets every toy answer wrong, so every group has zero
    variance and GRESO skips; each step still trains on 4 groups. Then a resume from the step-6 checkpoint
    restores GRESO's adapted probabilities and totals, and counting goes on from them."""
    # a model of its own (no warm start: all wrong, and built in seconds)
    greso = [
        "algorithm=greso",
        "trainer.save_freq=3",
        f"assets.tiny_model_dir={tmp_path / 'tiny'}",
        "assets.warm_start_steps=0",
    ]
    out = _train(tmp_path, "greso", *greso)
    assert out.returncode == 0, out.stderr[-4000:]
    steps = _steps(tmp_path, "greso")
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert undocumented({k for s in steps for k in s} - {"step"}) == []
    assert any(s["greso/skipped"] > 0 for s in steps), [s["greso/skipped"] for s in steps]
    assert all(s["greso/zero_variance_share"] == 1.0 and s["greso/skipped_easy"] == 0 for s in steps)
    for s in steps:
        # the batch is filled: 4 groups rolled out, recorded and trained on every step (kept prompts of a
        # loader chunk larger than the shortfall wait for the next step, so a step's kept count can be less)
        assert s["erpo/groups"] == 4 and s["greso/kept"] <= 4, s
        assert s["greso/candidates"] >= s["greso/kept"] + s["greso/skipped"]
        assert s["greso/skipped"] == s["greso/skipped_easy"] + s["greso/skipped_hard"]
    # totals accumulate the per-step counts
    assert steps[-1]["greso/skipped_total"] == sum(s["greso/skipped"] for s in steps)
    assert steps[-1]["greso/candidates_total"] == sum(s["greso/candidates"] for s in steps)
    # adaptation starts in the second pass over the 8 prompts, so p_easy / p_hard have moved by step 6
    last = steps[-1]
    assert (last["greso/p_easy"], last["greso/p_hard"]) != (0.5, 0.5)

    saved = json.loads((tmp_path / "greso" / "global_step_6" / GRESO_STATE_FILE).read_text())
    assert saved["p_easy"] == pytest.approx(last["greso/p_easy"]) and saved["p_hard"] == pytest.approx(
        last["greso/p_hard"]
    )
    assert saved["counts"]["candidates_total"] == last["greso/candidates_total"]

    out = _train(tmp_path, "greso", *greso, "trainer.total_training_steps=7")
    assert out.returncode == 0, out.stderr[-4000:]
    restored = re.search(
        r"GRESO state restored from .*global_step_6: p_easy=([\d.]+), p_hard=([\d.]+), "
        r"candidates_total=(\d+), skipped_total=(\d+)",
        out.stdout + out.stderr,
    )
    assert restored, "resume did not restore GRESO's state"
    assert float(restored.group(1)) == pytest.approx(saved["p_easy"])
    assert float(restored.group(2)) == pytest.approx(saved["p_hard"])
    assert int(restored.group(3)) == saved["counts"]["candidates_total"]
    assert int(restored.group(4)) == saved["counts"]["skipped_total"]
    step7 = _steps(tmp_path, "greso")[-1]
    assert step7["step"] == 7
    assert step7["greso/candidates_total"] == saved["counts"]["candidates_total"] + step7["greso/candidates"]
    assert step7["greso/skipped_total"] == saved["counts"]["skipped_total"] + step7["greso/skipped"]


def test_a_method_from_its_own_folder_runs_inside_verl(tmp_path):
    """tests/example_method (random skip) selected by algorithm=random_skip from its own conf/ folder and
    imported by the trainer's process through method_modules: no edit of the trainer or the refusals. Each
    step still trains on 4 groups, the skips are logged under the method's own namespace, and its state file
    travels in the checkpoint."""
    example = ROOT / "tests" / "example_method"
    pythonpath = os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    out = _train(
        tmp_path,
        "random_skip",
        f"hydra.searchpath=[pkg://verl.trainer.config,file://{example / 'conf'}]",
        "algorithm=random_skip",
        "random_skip.p=0.5",
        "trainer.total_training_steps=4",
        env_extra={"PYTHONPATH": pythonpath},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    steps = _steps(tmp_path, "random_skip")
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    own = {k for s in steps for k in s if k.startswith("random_skip/")}
    assert own == {"random_skip/skipped", "random_skip/skipped_total"}  # documented in the example's docstring
    assert undocumented({k for s in steps for k in s} - {"step"} - own) == []
    assert all(s["erpo/groups"] == 4 for s in steps)
    assert steps[-1]["random_skip/skipped_total"] == sum(s["random_skip/skipped"] for s in steps) > 0
    state = json.loads((tmp_path / "random_skip" / "global_step_4" / "random_skip_state.json").read_text())
    assert state["skipped_total"] == steps[-1]["random_skip/skipped_total"]
