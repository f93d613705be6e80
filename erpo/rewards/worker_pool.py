"""Comparison worker processes with a deadline that can stop the work.

A thread cannot interrupt sympy while it computes a huge integer in C (the GIL is held), so the
symbolic comparison runs in a child process (``python -m erpo.rewards.symbolic``). A call waits
for its reply until its deadline; a late worker is killed (SIGKILL) and a replacement is started
at once, so one pathological answer costs one deadline and never stalls the worker for later calls.

verl scores responses from several threads of one reward worker (``run_in_executor``), so the pool
hands each call its own worker: up to ``size`` workers (env ``ERPO_REWARD_PROCS``, default
min(4, CPUs)); a call that finds all busy (or one still starting) waits for one, up to its own
wait limit, so a burst of pathological answers delays right answers instead of scoring them 0.
Workers are
plain subprocesses (not multiprocessing): starting one never re-imports the trainer's main module.
A pool belongs to the process that made it; a forked child makes its own.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time

# How long warm_up() waits for workers to import sympy and math-verify (seconds).
START_TIMEOUT_S = 120.0


class WorkerTimeout(Exception):
    """No reply before the deadline (the worker was killed), or no worker free in time."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "late" (killed) or "busy" (none free in time)


class WorkerFailed(Exception):
    """The worker died or answered garbage (it was replaced)."""


def _package_root() -> str:
    here = os.path.dirname(os.path.abspath(__file__))  # .../erpo/rewards
    return os.path.dirname(os.path.dirname(here))


class _Worker:
    def __init__(self):
        env = dict(os.environ)
        # The child imports the same erpo as this process, editable install or not.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "erpo.rewards.symbolic"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            bufsize=0,
        )
        self.ready = False
        self._buffer = b""

    def read_line(self, deadline: float) -> bytes | None:
        """One line from the worker, or None if the deadline passes first."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerFailed(f"worker exited with code {self.proc.poll()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def wait_ready(self, deadline: float) -> bool:
        if not self.ready:
            line = self.read_line(deadline)
            if line is None:
                return False
            if json.loads(line) != {"ready": True}:
                raise WorkerFailed(f"unexpected first line {line[:100]!r}")
            self.ready = True
        return True

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    def __init__(self, size: int):
        self.size = max(1, size)
        self.restarts = 0
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self._owner = os.getpid()

    def warm_up(self, count: int | None = None, timeout: float = START_TIMEOUT_S) -> None:
        """Start ``count`` workers (default: all) and wait until each has imported sympy."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._count < min(count or self.size, self.size):
                self._idle.append(_Worker())
                self._count += 1
            workers = list(self._idle)
        for worker in workers:
            if not worker.wait_ready(deadline):
                raise TimeoutError(f"reward worker not ready after {timeout:.0f} s")

    def run(self, request: dict, timeout: float, wait: float) -> dict:
        """Send ``request`` to a worker and return its reply. Waits at most ``wait`` seconds for a
        free, started worker (WorkerTimeout "busy"), then at most ``timeout`` seconds for the reply
        (WorkerTimeout "late": the worker is killed and replaced)."""
        wait_deadline = time.monotonic() + wait
        worker = self._acquire(wait_deadline)
        healthy = False
        try:
            if not worker.wait_ready(wait_deadline):
                healthy = True  # still starting: not broken, give it back
                raise WorkerTimeout("busy")
            deadline = time.monotonic() + timeout
            worker.proc.stdin.write((json.dumps(request) + "\n").encode())
            line = worker.read_line(deadline)
            if line is None:
                raise WorkerTimeout("late")
            reply = json.loads(line)
            healthy = True
            return reply
        except (OSError, ValueError) as err:
            raise WorkerFailed(str(err)) from err
        finally:
            self._release(worker, healthy)

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerFailed("pool closed")
                if self._idle:
                    ready = [w for w in self._idle if w.ready]
                    worker = ready[-1] if ready else self._idle[-1]
                    self._idle.remove(worker)
                    return worker
                if self._count < self.size:
                    self._count += 1
                    return _Worker()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkerTimeout("busy")
                self._cond.wait(remaining)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:
            worker.kill()  # outside the lock: reaping takes a moment
        with self._cond:
            if healthy:
                self._idle.append(worker)
            elif not self._closed:
                self.restarts += 1
                self._idle.append(_Worker())  # replacement starts importing now
            else:
                self._count -= 1
            self._cond.notify()

    def close(self) -> None:
        if os.getpid() != self._owner:
            return  # an inherited copy in a forked child: the workers belong to the parent
        with self._cond:
            self._closed = True
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()


_pool: WorkerPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def default_size() -> int:
    value = os.environ.get("ERPO_REWARD_PROCS")
    return int(value) if value else min(4, os.cpu_count() or 1)


def get_pool() -> WorkerPool:
    """This process's pool (created on first use; a forked child gets a new one)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = WorkerPool(default_size()), os.getpid()
            atexit.register(_pool.close)
        return _pool
