"""Running a command trial: argv in, metrics out, no shell anywhere.

The plan's command template is split into tokens when the plan is loaded;
each token is filled separately here, so a parameter value with spaces, `;`
or `$()` reaches the program as one literal argument.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .trials import (
    Outcome,
    RunRequest,
    Task,
    check_metrics,
    extract_metrics,
    failed,
    format_template,
    worker_environment,
)

# `python` in a plan means the interpreter exante runs under, so a command
# written in an activated virtualenv still finds its packages from any shell.
_PYTHON_NAMES = {"python", "python3"}


def build_argv(task: Task, run: RunRequest) -> list[str]:
    """The command's argv for `run`; raises KeyError naming an unknown `{field}`."""
    argv = [format_template(token, run) for token in task.trial.argv]
    if argv and argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def _wait(proc: subprocess.Popen, timeout: float | None) -> tuple[int | None, float | None]:
    """Wait for `proc` and return (exit status, peak RSS in MiB); status None on timeout.

    os.wait4 gives the child's own peak memory, which Popen.wait throws away.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.001
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss / 1024.0
        if deadline is not None and time.monotonic() >= deadline:
            return None, None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# Process groups of the commands this process is waiting for. Each runs in its
# own session (so a timeout can kill its children too), which also means it
# would outlive a worker that is stopped from outside; `kill_running` is what
# such a worker calls first (see executors/local.py).
_RUNNING: set[int] = set()


def kill_running() -> None:
    """SIGKILL the process group of every command this process is still waiting for."""
    for pgid in list(_RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


_PR_SET_PDEATHSIG = 1
_PRCTL = None


def _load_prctl():
    """libc's prctl through ctypes (Linux); None elsewhere. Loaded before any fork."""
    global _PRCTL
    if _PRCTL is None and sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util

        try:
            _PRCTL = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
    return _PRCTL or None


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (PR_SET_PDEATHSIG).

    If the parent is already gone (it died before the call), exit now. A no-op
    off Linux. The command's parent is the worker (or the runner, inline); the
    local executor's workers do the same, so a SIGKILLed runner takes its
    workers, and their commands, with it.
    """
    prctl = _load_prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _child_setup(parent_pid: int) -> None:
    """Runs in the command's process between fork and exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a worker ignores Ctrl-C; its program need not
    die_with_parent(parent_pid)


def run_command(task: Task, run: RunRequest) -> Outcome:
    """Run one command trial; stdout/stderr land in the run folder, never in the ledger."""
    env_info = worker_environment()
    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        argv = build_argv(task, run)
    except KeyError as exc:
        return failed(run.run_id, "exception", f"command template names unknown field {exc}")
    cwd = Path(task.plan_dir) / (task.trial.cwd or ".")
    env = {**os.environ, **{k: format_template(v, run) for k, v in task.trial.env.items()}}
    start = time.perf_counter()
    with open(run_dir / "stdout.log", "wb") as out, open(run_dir / "stderr.log", "wb") as err:
        try:
            # a new session, so a timeout kills the whole process group, children too
            # and PR_SET_PDEATHSIG, so it dies with this process even when that is SIGKILLed
            _load_prctl()
            parent = os.getpid()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=lambda: _child_setup(parent))
        except OSError as exc:
            return failed(run.run_id, "exception", f"cannot start {argv[0]!r}: {exc}", env=env_info)
        _RUNNING.add(proc.pid)
        try:
            code, peak = _wait(proc, task.trial.timeout_s)
            if code is None:
                _kill_group(proc)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            _RUNNING.discard(proc.pid)
    wall = time.perf_counter() - start
    if code is None:
        return failed(run.run_id, "timeout", f"timed out after {task.trial.timeout_s} s: {argv}",
                      wall_s=wall, env=env_info)
    stdout = (run_dir / "stdout.log").read_text(encoding="utf-8", errors="replace")
    if code != 0:
        tail = (run_dir / "stderr.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        return failed(run.run_id, "exit_code", f"exit status {code}: {argv}\n{tail}",
                      wall_s=wall, peak_rss_mb=peak, env=env_info)
    try:
        raw = extract_metrics(task.trial, stdout, run_dir)
    except ValueError as exc:
        return failed(run.run_id, "missing_metric", str(exc), wall_s=wall, env=env_info)
    metrics, kind, error = check_metrics(raw, task.metric_names)
    if kind:
        return failed(run.run_id, kind, error, wall_s=wall, peak_rss_mb=peak, env=env_info)
    metrics.setdefault("wall_time", wall)
    return Outcome(run.run_id, True, metrics, wall_s=wall, peak_rss_mb=peak, env=env_info)
