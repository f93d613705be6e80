"""verl's real trainer on CPU: the smoke run, and kill -9 / resume of the tracker (slow: minutes)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recipe.erpo.trainer import STATE_FILE, state_digest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _train(tmp: Path, name: str, *overrides: str, timeout=900) -> subprocess.CompletedProcess:
    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp / "logs"))
    cmd = [sys.executable, "-m", "recipe.erpo.main_erpo", "experiment=smoke", f"trainer.experiment_name={name}",
           f"trainer.default_local_dir={tmp / name}", *overrides]
    subprocess.run(["ray", "stop", "--force"], capture_output=True)
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
    assert any(s["erpo/frac_all_correct"] > 0 for s in steps)
    raised = [s for s in steps if s["erpo/temperature_max"] > 1.5]
    assert raised, "no prompt was re-sampled at a raised temperature"
    # vLLM's processed log-probs (at each request's temperature) match the trainer's log-prob pass,
    # which sees the same per-sample temperature; a scalar T=1 there would break this.
    for s in raised:
        assert s["training/rollout_probs_diff_mean"] < 0.01, s
    assert (tmp_path / "smoke" / "global_step_2" / STATE_FILE).exists()


def test_kill_and_resume_restores_the_tracker(tmp_path):
    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"))
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "recipe.erpo.main_erpo", "experiment=smoke", "trainer.experiment_name=run",
           f"trainer.default_local_dir={run_dir}", "trainer.save_freq=2", "trainer.total_training_steps=6"]
    subprocess.run(["ray", "stop", "--force"], capture_output=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    marker = run_dir / "latest_checkpointed_iteration.txt"
    deadline = time.time() + 900
    while not (marker.exists() and marker.read_text().strip() == "2"):
        assert proc.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 the whole run, Ray included
    proc.wait()
    saved = json.loads((run_dir / "global_step_2" / STATE_FILE).read_text())

    out = _train(tmp_path, "run", "trainer.save_freq=2", "trainer.total_training_steps=3",
                 f"trainer.default_local_dir={run_dir}")
    assert out.returncode == 0, out.stderr[-4000:]
    restored = re.search(r"ERPO tracker restored from .*global_step_2: (\d+) prompts, state sha256 (\w+)",
                         out.stdout + out.stderr)
    assert restored, "resume did not restore the tracker"
    assert restored.group(2) == state_digest(saved)
    # The resumed run continues at step 3 from the restored state.
    assert [s["step"] for s in _steps(tmp_path, "run")][-1] == 3


def test_resume_without_tracker_state_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    out = _train(tmp_path, "run", "trainer.total_training_steps=2", "trainer.save_freq=2",
                 f"trainer.default_local_dir={run_dir}")
    assert out.returncode == 0, out.stderr[-4000:]
    (run_dir / "global_step_2" / STATE_FILE).unlink()
    out = _train(tmp_path, "run", "trainer.total_training_steps=3", f"trainer.default_local_dir={run_dir}")
    assert out.returncode != 0 and "erpo.allow_fresh_tracker" in out.stdout + out.stderr


def test_two_job_multirun_of_the_smoke(tmp_path):
    """Basic launcher: jobs run one after another, each with its own Ray session; a bad job does not stop the sweep."""
    env = dict(os.environ, VERL_FILE_LOGGER_ROOT=str(tmp_path / "logs"))
    cmd = [sys.executable, "-m", "recipe.erpo.main_erpo", "-m", "experiment=smoke", "trainer.total_training_steps=2",
           "trainer.save_freq=-1", f"hydra.sweep.dir={tmp_path / 'sweep'}",
           "erpo.temperature.t_max=0.5,1.4"]  # the first job is refused (t_max < base), the second trains
    subprocess.run(["ray", "stop", "--force"], capture_output=True)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    statuses = {p.parent.parent.name: json.loads(p.read_text())["status"]
                for p in (tmp_path / "sweep").glob("*/seed=1/job_status.json")}
    common = "trainer.save_freq=-1,trainer.total_training_steps=2"
    assert statuses == {f"erpo.temperature.t_max=0.5,{common}": "refused", f"erpo.temperature.t_max=1.4,{common}": "ok"}
