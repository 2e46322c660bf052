"""The Ray executor: each task is a Ray remote task running `execute_task`.

Install with `pip install 'exante[ray]'`; `ray` is imported only when this
executor is built. Engine options (`ExecutorOptions.extra`):

    address          Ray cluster to join ("host:port", "auto", "ray://..."); none
                     starts a private local Ray for this sweep. A process that
                     already joined a cluster keeps that connection.
    ship             "auto" (default), true or false: upload the plan's folder
                     (and the packages in `trial.pythonpath`) to the workers
    timeout_grace_s  driver-side backstop, seconds past a task's time limit (60)
    runtime_env      a per-task Ray runtime_env (pip, env_vars, conda, URIs; Ray
                     takes local folders only in ray.init, see below)
    log_to_driver    print the workers' stdout/stderr here (default false)
    check_resources  refuse a per-task request no node can hold (default true)

Resources: `options.cpus` and `options.gpus` per task (fractional GPUs share
a device); `options.max_retries` is Ray's own retry count for a task whose
worker died. A trial's own exception is never retried: it is an outcome.

Code shipping. When the workers are this machine or share its file system,
the plan folder is there and a worker imports the trial from the same path.
"auto" ships only when some node of the cluster is another host. Shipping
packs the plan folder (without runs/, .exante/, .git/, __pycache__/) and each
of the trial's `pythonpath` folders into one tar archive, puts it in Ray's
object store once per sweep, and each worker unpacks it (once per content
hash) under its temp folder and runs the trial from that copy. Ray's own
runtime_env working_dir cannot do this: it accepts a local folder only in
`ray.init`, before the plan is known, and not at all when the caller already
joined the cluster. Run folders that lie under a plan folder the worker does
not have move under the copy, so their logs and checkpoints stay on that node
(metrics come back in the Outcome). exante itself must be installed on every
node (or given in `runtime_env`, e.g. pip).

Time limits. The worker's own alarm (`_deadline`) stops a Python run at
`timeout_s`. As a backstop for a worker stuck in C code, the driver cancels a
task (killing its worker) `timeout_grace_s` after its whole budget, counted
from when it was handed to Ray: the executor never hands Ray more than
`workers` tasks, so the grace only has to cover worker start-up and queueing
behind other users of a shared cluster.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import socket
import tarfile
import tempfile
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import InputError, require
from ..trials import Outcome, Task, failed
from ._deadline import execute_with_deadline
from .base import Executor

KNOWN_OPTIONS = ("address", "ship", "timeout_grace_s", "runtime_env", "log_to_driver",
                 "check_resources")
_NOT_SHIPPED = {"runs", ".exante", ".git", "__pycache__"}  # top-level names in the plan folder
_SHIP_LIMIT_MB = 256


def run_on_worker(task: Task, code: bytes | None) -> list[Outcome]:
    """The remote function: run `task` here, from the shipped copy when there is one."""
    if code is not None:
        task = _relocate(task, _unpack(code))
    return execute_with_deadline(task)


def _relocate(task: Task, copy: Path) -> Task:
    """`task` reading its code from `copy` (see `_pack`), and writing its run folders
    there too when the driver's plan folder is not on this node."""
    plan = copy / "plan"
    runs = task.runs
    if not Path(task.plan_dir).is_dir():
        runs = tuple(replace(r, run_dir=_moved(r.run_dir, task.plan_dir, str(plan))) for r in runs)
    paths = tuple(str(copy / f"path{i}") for i in range(len(task.trial.pythonpath)))
    return replace(task, plan_dir=str(plan), runs=runs, trial=replace(task.trial, pythonpath=paths))


def _moved(path: str, old_root: str, new_root: str) -> str:
    try:
        return str(Path(new_root) / Path(path).relative_to(old_root))
    except ValueError:
        return path


@dataclass
class _Flight:
    task: Task
    deadline: float | None
    cancelled_for_timeout: bool = False


class RayExecutor(Executor):
    """Runs each task as a Ray task; at most `workers` tasks are with Ray at once."""

    name = "ray"

    def __init__(self, options):
        super().__init__(options)
        unknown = sorted(set(options.extra) - set(KNOWN_OPTIONS))
        if unknown:
            raise InputError(f"ray executor: unknown option(s) {unknown}; "
                             f"expected some of {', '.join(KNOWN_OPTIONS)}")
        ship = options.extra.get("ship", "auto")
        if ship not in ("auto", True, False, "true", "false", "always", "never"):
            raise InputError(f"ray executor: ship must be auto, true or false, got {ship!r}")
        self._grace = options.extra.get("timeout_grace_s", 60.0)
        self._packed: dict[tuple, Any] = {}
        self._queue: deque[Task] = deque()
        self._flights: dict[Any, _Flight] = {}
        self._ray = require("ray", "ray")
        self._owns_ray = False
        self._connect()
        try:
            if options.extra.get("check_resources", True):
                self._check_resources()
            self._ship = self._decide_shipping(ship)
        except BaseException:
            self.close()
            raise
        self._remote = self._ray.remote(run_on_worker)

    # ------------------------------------------------------------ setup

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():  # joined by the caller (a test, a notebook): keep it
            return
        address = self.options.extra.get("address")
        try:
            ray.init(address=address, log_to_driver=bool(self.options.extra.get("log_to_driver")),
                     include_dashboard=False if address is None else None)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(f"ray executor: cannot join the Ray cluster at {address!r}: "
                             f"{exc}") from exc
        self._owns_ray = True

    def _check_resources(self) -> None:
        """Refuse early a per-task request that no node can hold; Ray would wait forever."""
        opts = self.options
        nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
        if any(r.get("CPU", 0) >= opts.cpus and r.get("GPU", 0) >= opts.gpus for r in nodes):
            return
        have = ", ".join(f"{r.get('CPU', 0):g} CPU/{r.get('GPU', 0):g} GPU" for r in nodes)
        raise InputError(f"ray executor: each task asks for {opts.cpus:g} CPU and "
                         f"{opts.gpus:g} GPU but no node has that (nodes: {have or 'none'}); "
                         "lower cpus/gpus, or set check_resources: false on an autoscaling "
                         "cluster")

    def _decide_shipping(self, ship: Any) -> bool:
        if ship in (True, "true", "always"):
            return True
        if ship in (False, "false", "never"):
            return False
        here = socket.gethostname()
        hosts = {n.get("NodeManagerHostname") for n in self._ray.nodes() if n.get("Alive")}
        return bool(hosts - {here})

    def _code(self, task: Task) -> Any:
        """An object ref to the packed plan folder (once per folder), or None when not shipping."""
        if not self._ship:
            return None
        key = (task.plan_dir, task.trial.pythonpath)
        if key not in self._packed:
            self._packed[key] = self._ray.put(_pack(task))
        return self._packed[key]

    # ------------------------------------------------------------ the interface

    def submit(self, task: Task) -> None:
        self._queue.append(task)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._queue and len(self._flights) < self.capacity:
            task = self._queue.popleft()
            options: dict[str, Any] = dict(num_cpus=self.options.cpus, num_gpus=self.options.gpus,
                                           max_retries=self.options.max_retries,
                                           retry_exceptions=False)
            if self.options.extra.get("runtime_env"):
                options["runtime_env"] = self.options.extra["runtime_env"]
            ref = self._remote.options(**options).remote(task, self._code(task))
            self._flights[ref] = _Flight(task, self._deadline(task))

    def _deadline(self, task: Task) -> float | None:
        per_run = task.trial.timeout_s
        if per_run is None or self._grace is None:
            return None
        return time.monotonic() + per_run * len(task.runs) + float(self._grace)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        end = None if timeout is None else time.monotonic() + timeout
        while self._flights or self._queue:
            self._dispatch()
            outcomes = self._wait_once(end)
            if outcomes or (end is not None and time.monotonic() >= end):
                return outcomes
        return []

    def _wait_once(self, end: float | None) -> list[Outcome]:
        ray = self._ray
        refs = list(self._flights)
        limits = [f.deadline for f in self._flights.values()
                  if f.deadline is not None and not f.cancelled_for_timeout]
        if end is not None:
            limits.append(end)
        budget = None if not limits else max(0.0, min(limits) - time.monotonic())
        ready, _ = ray.wait(refs, num_returns=1, timeout=budget)
        if ready:  # take everything that is finished by now, not just the first
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        outcomes: list[Outcome] = []
        for ref in ready:
            outcomes.extend(self._collect(ref, self._flights.pop(ref)))
        self._cancel_overdue()
        return outcomes

    def _cancel_overdue(self) -> None:
        now = time.monotonic()
        for ref, flight in self._flights.items():
            overdue = flight.deadline is not None and now >= flight.deadline
            if overdue and not flight.cancelled_for_timeout:
                flight.cancelled_for_timeout = True
                self._ray.cancel(ref, force=True)

    def _collect(self, ref: Any, flight: _Flight) -> list[Outcome]:
        """The task's outcomes, or one failed outcome per run when Ray lost the task."""
        exc_mod = self._ray.exceptions
        task = flight.task
        try:
            return self._ray.get(ref)
        except exc_mod.TaskCancelledError:
            if flight.cancelled_for_timeout:
                kind, error = "timeout", (f"timed out after {task.trial.timeout_s} s per run "
                                          "(worker stuck; killed by the driver)")
            else:
                kind, error = "worker_died", "cancelled"
        except exc_mod.OutOfMemoryError as exc:
            kind, error = "worker_died", f"killed by Ray's memory monitor (out of memory): {exc}"
        except exc_mod.WorkerCrashedError as exc:
            kind, error = "worker_died", (f"Ray worker died ({self.options.max_retries} "
                                          f"retries allowed): {exc}")
        except exc_mod.RuntimeEnvSetupError as exc:
            kind, error = "exception", f"Ray could not set up the worker's environment: {exc}"
        except exc_mod.RayError as exc:  # node died, object lost, ...
            kind, error = "worker_died", f"{type(exc).__name__}: {exc}"
        return [failed(run.run_id, kind, error) for run in task.runs]

    def pending(self) -> int:
        return len(self._queue) + len(self._flights)

    def close(self, *, cancel: bool = False) -> None:
        self._queue.clear()
        if cancel:
            for ref in self._flights:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # already finished or its owner gone: nothing left to stop
                    pass
        elif self._flights:
            self._ray.wait(list(self._flights), num_returns=len(self._flights))
        self._flights.clear()
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False


# ---------------------------------------------------------------- shipping code


def _pack(task: Task) -> bytes:
    """The plan folder as plan/ and each `pythonpath` folder as path<i>/, in one tar.gz."""
    buffer = io.BytesIO()
    # gzip's own timestamp fixed at 0: the same files give the same bytes, so
    # workers unpack a folder once per content, not once per sweep
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        plan = Path(task.plan_dir)
        for child in sorted(plan.iterdir()):
            if child.name not in _NOT_SHIPPED:
                tar.add(child, arcname=f"plan/{child.name}", filter=_skip_caches)
        for i, folder in enumerate(task.trial.pythonpath):
            tar.add((plan / folder).resolve(), arcname=f"path{i}", filter=_skip_caches)
    data = buffer.getvalue()
    if len(data) > _SHIP_LIMIT_MB * 2**20:
        raise InputError(f"ray executor: the plan folder {plan} packs to "
                         f"{len(data) / 2**20:.0f} MiB, "
                         f"over {_SHIP_LIMIT_MB} MiB; move data out of it or use ship: false "
                         "with a shared file system")
    return data


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in Path(info.name).parts else info


def shipped_folder(code: bytes) -> Path:
    """Where a worker unpacks `code` (the output of `_pack`) on its node."""
    return Path(tempfile.gettempdir()) / "exante-code" / hashlib.sha256(code).hexdigest()[:16]


def _unpack(code: bytes) -> Path:
    """Unpack shipped code once per content hash on this node; returns the folder."""
    target = shipped_folder(code)
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target.parent))
        with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(scratch, filter="data")
            else:  # pragma: no cover - Python < 3.11.4; the archive is our own
                tar.extractall(scratch)
        try:
            scratch.rename(target)
        except OSError:  # another worker on this node won the race
            shutil.rmtree(scratch, ignore_errors=True)
    return target
