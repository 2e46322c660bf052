"""Per-run time limits enforced inside a cluster worker (Ray task, Slurm job).

`execute_task` never stops a Python trial by itself; the local executor kills
its worker from outside (pebble). A Ray or Slurm worker cannot be replaced that
cheaply, so it times itself: SIGALRM raises `TrialTimeout`, a BaseException
that the trial's own `except Exception` (and `execute_task`'s) lets through,
and the runs become "timeout" outcomes while the worker lives on. The alarm
repeats every second, so a trial that swallows it with a bare `except:` is
interrupted again. A trial stuck in C code never returns to the interpreter
and never sees the signal: each executor keeps its own backstop for that (Ray:
the driver cancels the task; Slurm: the job's time limit).

Command trials are left alone: `run_command` already kills the process group
when a run outlives `timeout_s`.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace

from ..errors import ControlSignal, issue
from ..trials import Outcome, Task, execute_task, failed, worker_environment


class TrialTimeout(ControlSignal):
    """Raised in the worker's main thread when a run outlives its time limit."""


def execute_with_deadline(task: Task) -> list[Outcome]:
    """`execute_task`, with `task.trial.timeout_s` per run enforced by an alarm.

    A Python task's runs are timed one by one, so a run that finished before
    another one hung keeps its result; a batched task gets timeout_s x runs.
    """
    limit = task.trial.timeout_s
    usable = threading.current_thread() is threading.main_thread()
    if limit is None or task.trial.kind == "command" or not usable:
        return execute_task(task)
    if task.trial.kind == "batched":
        return _with_alarm(task, limit * len(task.runs), limit)
    outcomes: list[Outcome] = []
    for run in task.runs:
        outcomes.extend(_with_alarm(replace(task, runs=(run,)), limit, limit))
    return outcomes


def _with_alarm(task: Task, seconds: float, per_run: float) -> list[Outcome]:
    armed = True

    def on_alarm(signum, frame):
        if armed:
            raise issue(TrialTimeout())

    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        try:
            return execute_task(task)
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TrialTimeout:
        wall = time.perf_counter() - start
        error = f"timed out after {per_run} s per run (stopped by the worker's alarm)"
        env = worker_environment()
        return [failed(r.run_id, "timeout", error, wall_s=wall, env=env) for r in task.runs]
    finally:
        signal.signal(signal.SIGALRM, previous)
