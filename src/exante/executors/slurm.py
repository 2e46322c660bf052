"""The Slurm executor: tasks become Slurm jobs (job arrays) through submitit.

Install with `pip install 'exante[slurm]'`; submitit is imported only when
this executor is built. Options, from `ExecutorOptions.extra` or from a
`profile` file (YAML or JSON) holding the same keys (extra wins):

    cluster        "slurm" (default); "local": submitit's LocalExecutor runs the
                   same jobs as processes here, for a machine without Slurm;
                   "auto": slurm when `sbatch` is on PATH, else local
    partition      Slurm partition (the cluster's default if unset)
    time_min       job time limit, minutes (default: the trial's time limit for
                   the whole task plus 2 minutes, else 24 hours)
    cpus_per_task  CPUs per job (default: options.cpus rounded up)
    gpus_per_task  GPUs per job (default: options.gpus rounded up)
    mem_gb, account, qos, constraint      passed to sbatch as they are
    setup          shell lines run in the job before Python (module load ...)
    folder         job scripts, pickles and logs (default <plan>/.exante/slurm;
                   relative to the plan folder); one sub-folder per job. It
                   must be on a file system the nodes share, as the plan is.
    poll_s         seconds between two `squeue` calls (default 1)

At most `workers` tasks are with Slurm at once; the tasks handed over together
go as one job array whose parallelism is capped at `workers` too. Each job
runs `execute_task` (with the worker-side time limit of `_deadline`) in the
job's Python. The job's callable is checkpointable: when Slurm preempts the job
(or its time limit nears) submitit requeues it and the task starts again;
the trial resumes from whatever it saved in its run folder.

The driver watches two things: the result file submitit writes when a job
returns, and the job's state from `squeue` (there may be no accounting
database, so `sacct`, which submitit would use, is avoided). A job that ends
at the Slurm level without a result (cancelled, node failure, out of memory,
its process died) becomes one failed outcome per run with Slurm's state, its
reason and the end of the job's error log; after a lost worker the task is
submitted again up to `max_retries` times. Slurm's own time limit gives kind
"timeout".
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, require
from ..trials import Outcome, Task, failed
from ._deadline import execute_with_deadline
from .base import Executor
from .slurm_local import kill_local_job, local_state
from .slurm_options import KNOWN_OPTIONS, load_settings

__all__ = ["ACTIVE_STATES", "KNOWN_OPTIONS", "SlurmExecutor", "SlurmTrial", "load_settings"]

ACTIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_FED",
                 "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "STOPPED",
                 "RESV_DEL_HOLD", "POWER_UP_NODE"}
_RESULT_GRACE_S = {"COMPLETED": 15.0}  # a finished job's result may lag on a network disk
_OTHER_GRACE_S = 2.0
_VANISHED_AFTER_POLLS = 5


class SlurmTrial:
    """What a job runs: one task. Checkpointable, so a preempted job is requeued by submitit."""

    def __call__(self, task: Task) -> list[Outcome]:
        return execute_with_deadline(task)

    def checkpoint(self, task: Task) -> Any:
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, task)  # the task starts over; its run folder is kept


# ---------------------------------------------------------------- job bookkeeping


@dataclass
class _Job:
    task: Task
    handle: Any  # a submitit Job
    attempt: int
    state: str = "PENDING"
    reason: str = ""
    ended_at: float | None = None  # when first seen finished without a result
    unseen_polls: int = 0


class SlurmExecutor(Executor):
    """Runs each task as a Slurm job (arrays of up to `workers`), or as a submitit local job."""

    name = "slurm"

    def __init__(self, options):
        super().__init__(options)
        self._settings = load_settings(options.extra)
        self._submitit = require("submitit", "slurm")
        self._cluster = self._pick_cluster(self._settings.get("cluster", "slurm"))
        self._poll_s = float(self._settings.get("poll_s", 1.0))
        self._queue: deque[tuple[Task, int]] = deque()  # (task, attempt)
        self._jobs: dict[str, _Job] = {}
        self._engines: dict[str, Any] = {}
        self._last_poll = 0.0
        self._controllers: list[subprocess.Popen] = []  # local jobs' processes, reaped when done

    @staticmethod
    def _pick_cluster(cluster: str) -> str:
        have_slurm = shutil.which("sbatch") is not None and shutil.which("srun") is not None
        if cluster == "auto":
            return "slurm" if have_slurm else "local"
        if cluster == "slurm" and not have_slurm:
            raise InputError("slurm executor: no Slurm here (sbatch/srun not on PATH); set the "
                             "option cluster: local to run the same jobs as local processes")
        return cluster

    # ------------------------------------------------------------ submitting

    def submit(self, task: Task) -> None:
        # Held until the executor is full or `wait` runs, so tasks submitted
        # together reach Slurm as one array rather than one sbatch call each.
        self._queue.append((task, 0))
        if len(self._jobs) + len(self._queue) >= self.capacity:
            self._flush()

    def _flush(self) -> None:
        """Hand queued tasks to Slurm, one job array per plan folder, up to `workers` in flight."""
        room = self.capacity - len(self._jobs)
        batch = [self._queue.popleft() for _ in range(min(room, len(self._queue)))]
        by_folder: dict[str, list[tuple[Task, int]]] = {}
        for task, attempt in batch:
            by_folder.setdefault(self._folder(task), []).append((task, attempt))
        for folder, entries in by_folder.items():
            self._submit_array(folder, entries)

    def _folder(self, task: Task) -> str:
        folder = Path(self._settings.get("folder") or ".exante/slurm")
        return str(Path(task.plan_dir) / folder / "%j")  # absolute folders stay as they are

    def _submit_array(self, folder: str, entries: list[tuple[Task, int]]) -> None:
        engine = self._engine(folder)
        engine.update_parameters(**self._parameters([task for task, _ in entries]))
        try:
            with engine.batch():
                handles = [engine.submit(SlurmTrial(), task) for task, _ in entries]
        except Exception as exc:  # sbatch refused: a bad partition, account, limit ...
            raise InputError(f"slurm executor: could not submit jobs: {exc}") from exc
        for (task, attempt), handle in zip(entries, handles):
            self._jobs[handle.job_id] = _Job(task, handle, attempt)

    def _engine(self, folder: str) -> Any:
        if folder not in self._engines:
            if self._cluster == "local":
                self._engines[folder] = self._submitit.LocalExecutor(folder=folder)
            else:
                self._engines[folder] = self._submitit.SlurmExecutor(folder=folder)
        return self._engines[folder]

    def _parameters(self, tasks: list[Task]) -> dict[str, Any]:
        """submitit parameters for one array of `tasks`."""
        s = self._settings
        time_min = s.get("time_min") or _default_time_min(tasks)
        setup = list(s.get("setup") or [])
        if self._cluster == "local":
            return {"timeout_min": time_min, "setup": setup} if setup else {"timeout_min": time_min}
        params: dict[str, Any] = {
            "job_name": "exante",
            "time": max(1, math.ceil(time_min)),
            "cpus_per_task": s.get("cpus_per_task", max(1, math.ceil(self.options.cpus))),
            "array_parallelism": self.capacity,
            # the preemption/time-limit warning must come well inside short limits
            "signal_delay_s": int(min(90, max(15, time_min * 60 / 4))),
        }
        gpus = s.get("gpus_per_task", math.ceil(self.options.gpus))
        if gpus:
            params["gpus_per_task"] = gpus
        for key in ("partition", "account", "qos", "constraint"):
            if s.get(key) is not None:
                params[key] = s[key]
        if s.get("mem_gb") is not None:
            params["mem"] = f"{math.ceil(s['mem_gb'] * 1024)}MB"
        if setup:
            params["setup"] = setup
        return params

    # ------------------------------------------------------------ waiting

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        end = None if timeout is None else time.monotonic() + timeout
        while self._queue or self._jobs:
            self._flush()
            outcomes = self._harvest()
            if outcomes:
                return outcomes
            if end is not None and time.monotonic() >= end:
                return []
            pause = 0.2 if end is None else max(0.0, min(0.2, end - time.monotonic()))
            time.sleep(pause)
        return []

    def _harvest(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job_id, job in list(self._jobs.items()):
            if job.handle.paths.result_pickle.exists():
                self._forget(job_id)
                outcomes.extend(self._read_result(job))
        if self._jobs and time.monotonic() - self._last_poll >= self._poll_s:
            self._last_poll = time.monotonic()
            outcomes.extend(self._check_states())
        return outcomes

    def _read_result(self, job: _Job) -> list[Outcome]:
        from submitit.core.utils import pickle_load

        try:
            status, value = pickle_load(job.handle.paths.result_pickle)
        except Exception as exc:  # a truncated or unreadable result file
            status, value = "error", f"{type(exc).__name__}: {exc}"
        if status == "success":
            return value
        error = f"Slurm job {job.handle.job_id} ended without a result:\n{str(value)[-2000:]}"
        return [failed(run.run_id, "worker_died", error) for run in job.task.runs]

    def _check_states(self) -> list[Outcome]:
        """Fail (or resubmit) the jobs that ended at the Slurm level without a result."""
        states = self._states()
        now = time.monotonic()
        outcomes: list[Outcome] = []
        for job_id, job in list(self._jobs.items()):
            if job_id in states:
                job.state, job.reason = states[job_id]
                job.unseen_polls = 0
            else:
                job.unseen_polls += 1
                if job.unseen_polls >= _VANISHED_AFTER_POLLS:
                    job.state, job.reason = "VANISHED", "no longer known to Slurm"
            if job.state in ACTIVE_STATES:
                job.ended_at = None
                continue
            job.ended_at = job.ended_at or now
            if now - job.ended_at < _RESULT_GRACE_S.get(job.state, _OTHER_GRACE_S):
                continue
            if job.handle.paths.result_pickle.exists():
                continue  # turned up at last: the next harvest reads it
            self._forget(job_id)
            outcomes.extend(self._failed_job(job))
        return outcomes

    def _forget(self, job_id: str) -> None:
        """Stop tracking a job; a local job's controller process is reaped once it exits."""
        job = self._jobs.pop(job_id)
        process = getattr(job.handle, "_process", None)  # LocalJob only
        if process is not None:
            self._controllers.append(process)
        self._controllers = [p for p in self._controllers if p.poll() is None]

    def _failed_job(self, job: _Job) -> list[Outcome]:
        kind = "timeout" if job.state == "TIMEOUT" else "worker_died"
        retry = kind == "worker_died" and job.state != "CANCELLED"
        if retry and job.attempt < self.options.max_retries:
            self._queue.appendleft((job.task, job.attempt + 1))
            return []
        error = (f"Slurm job {job.handle.job_id} ended {job.state}"
                 f"{f' ({job.reason})' if job.reason and job.reason != 'None' else ''} without a "
                 f"result after {job.attempt + 1} attempt(s); log: {job.handle.paths.stderr}"
                 f"{_tail(job.handle.paths.stderr)}")
        return [failed(run.run_id, kind, error) for run in job.task.runs]

    def _states(self) -> dict[str, tuple[str, str]]:
        """job id -> (state, reason) for this user's jobs that Slurm still knows."""
        if self._cluster == "local":
            return {job_id: local_state(job.handle) for job_id, job in self._jobs.items()}
        command = ["squeue", "--states=all", "--noheader", "--array", "--format=%i|%T|%r",
                   f"--user={os.getuid()}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return {job_id: (job.state, job.reason) for job_id, job in self._jobs.items()}
        if result.returncode != 0:  # the controller is busy or restarting: ask again later
            return {job_id: (job.state, job.reason) for job_id, job in self._jobs.items()}
        states = {}
        for line in result.stdout.splitlines():
            job_id, _, rest = line.strip().partition("|")
            state, _, reason = rest.partition("|")
            states[job_id] = (state.split()[0] if state else "UNKNOWN", reason)
        return states

    def pending(self) -> int:
        return len(self._queue) + len(self._jobs)

    def close(self, *, cancel: bool = False) -> None:
        """With cancel, stop every job still in flight. Without, Slurm jobs are left to finish
        (their results stay in the folder); local jobs, this process's children, are waited for."""
        self._queue.clear()
        if cancel and self._jobs:
            if self._cluster == "local":
                for job in self._jobs.values():
                    kill_local_job(job.handle)
            else:
                ids = sorted({job_id.split("_")[0] for job_id in self._jobs})
                subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
        for job_id in list(self._jobs):
            self._forget(job_id)
        for process in self._controllers:
            try:
                process.wait(timeout=10 if cancel else None)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._controllers.clear()


def _default_time_min(tasks: list[Task]) -> float:
    budgets = [t.trial.timeout_s * len(t.runs) for t in tasks if t.trial.timeout_s is not None]
    if len(budgets) < len(tasks):
        return 24 * 60.0
    return math.ceil(max(budgets) / 60.0) + 2.0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n" + "\n".join(text) if text else ""


