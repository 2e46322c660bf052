"""The local executor: a pool of reused worker processes on this machine.

Workers live for the whole sweep, so heavy imports (torch) happen once per
worker, and each worker pins its intra-op threads (two threads per process
on two busy cores made a run 20x slower in measurement). Pebble's pool is
used because it can kill one worker when its task outlives the timeout and
replace it, which concurrent.futures cannot.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import time

from ..errors import ControlSignal, ExanteError
from ..trials import (Outcome, Task, exception_message, execute_task, failed, failure_kind,
                      set_threads)
from .base import Executor

# A command trial stops itself at `timeout_s` (killing its whole process group);
# the pool's own timeout, which kills the worker, is only the backstop.
_COMMAND_GRACE_S = 5.0


def _init_worker(threads: int, gpu_table=None, gpu_slots: tuple[str, ...] = (),
                 driver_pid: int | None = None) -> None:
    if driver_pid is not None:
        _die_with_driver(driver_pid)
    if gpu_slots:  # before any trial code: CUDA reads this once, at its initialisation
        from .gpus import claim

        claim(gpu_table, list(gpu_slots))
    set_threads(threads)
    # a worker ends with os._exit, which flushes nothing: a trial's print must leave per line
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):  # not a TextIOWrapper, or closed
            pass
    # Ctrl-C in a terminal signals the whole foreground group: only the runner acts on it
    # (it cancels the pool); a worker that took it would record a healthy run as failed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_commands_on_sigterm()


def _die_with_driver(driver_pid: int) -> None:
    """A daemon thread that ends this worker, and its commands, the moment the runner is gone.

    The worker's parent is the forkserver, which can outlive a SIGKILLed runner, so
    PR_SET_PDEATHSIG alone would not fire; a pidfd becomes readable when the runner exits.
    """
    import select
    import threading

    from ..command import kill_running

    def watch() -> None:
        try:
            fd = os.pidfd_open(driver_pid)
        except ProcessLookupError:
            fd = None  # already gone
        except (OSError, AttributeError):  # no pidfd (old kernel, not Linux): poll
            while _alive(driver_pid):
                time.sleep(0.2)
            fd = None
        if fd is not None:
            select.select([fd], [], [])
        kill_running()
        os._exit(1)

    threading.Thread(target=watch, name="exante-driver-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _stop_commands_on_sigterm() -> None:
    """Make the pool's SIGTERM (a timeout, a cancelled sweep) kill this worker's commands first.

    A command runs in its own session, so without this it outlives the worker
    and keeps its CPU or GPU after its run was recorded as over.
    """
    from ..command import kill_running

    pool_exit = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        kill_running()
        if callable(pool_exit):
            pool_exit(signum, frame)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


class LocalExecutor(Executor):
    """`workers` processes (default 1), `threads` intra-op threads each.

    With ``extra["gpus"]`` ("0,1" or "auto") each worker sees its slot's device(s)
    through CUDA_VISIBLE_DEVICES (see `gpus`); there are then as many workers as
    slots, or `workers` if fewer, unless ``extra["workers_from_gpus"]`` is false.
    """

    name = "local"
    reusable = True  # the pool's workers (and their torch import) serve every phase

    def __init__(self, options):
        super().__init__(options)
        from pebble import ProcessPool

        from . import gpus

        # forkserver: a clean, single-threaded parent for the workers, and safe
        # when the driver already holds threads (rich's live display does).
        context = multiprocessing.get_context("forkserver")
        self.gpu_slots = tuple(gpus.slots(gpus.parse(options.extra.get("gpus")), options.gpus))
        if self.gpu_slots:
            wanted = len(self.gpu_slots) if options.extra.get("workers_from_gpus") else \
                min(max(1, options.workers), len(self.gpu_slots))
            self.gpu_slots = self.gpu_slots[:wanted]
        table = context.Array("i", len(self.gpu_slots)) if self.gpu_slots else None
        self._pool = ProcessPool(max_workers=self.capacity, initializer=_init_worker,
                                 initargs=(options.threads, table, self.gpu_slots, os.getpid()),
                                 context=context)
        self._futures: dict[cf.Future, Task] = {}
        self._broken: BaseException | None = None  # the pool broke before these tasks began

    @property
    def capacity(self) -> int:
        return len(self.gpu_slots) if self.gpu_slots else super().capacity

    def submit(self, task: Task) -> None:
        per_run = task.trial.timeout_s
        timeout = None if per_run is None else per_run * len(task.runs)
        if timeout is not None and task.trial.kind == "command":
            timeout += _COMMAND_GRACE_S
        try:
            future = self._pool.schedule(_in_worker, args=(task,), timeout=timeout)
        except RuntimeError as exc:  # pebble: the pool could not start or keep its workers
            raise _pool_failed(exc) from exc
        self._futures[future] = task

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if not self._futures:
            return []
        if self._broken is not None:  # outcomes of its last batch were returned last call
            raise _pool_failed(self._broken) from self._broken
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        outcomes: list[Outcome] = []
        for future in done:
            task = self._futures.pop(future)
            try:
                outcomes.extend(_collect(future, task))
            except _PoolFailed as exc:  # the others in this batch are still recorded
                self._broken = exc.args[0]
        if self._broken is not None and not outcomes:
            raise _pool_failed(self._broken) from self._broken
        return outcomes  # with a broken pool: these are recorded first, the next call raises

    def pending(self) -> int:  # a broken pool counts one, so the runner's next wait raises
        return len(self._futures) + (self._broken is not None)

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            for future in self._futures:
                future.cancel()
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()
        self._futures.clear()


_NONE_BEGAN = "All workers expired"  # pebble's find_expired_task: no task was running


class _PoolFailed(Exception):
    """The pool broke before the aborted tasks began (see `_collect`)."""


def _in_worker(task: Task) -> list[Outcome]:
    """`execute_task` in a pool worker; only exante's plain data goes back to the driver.

    An exception escaping it (one whose __str__ raised, say) would be pickled for the driver,
    and a trial that shapes its __reduce__ can make the unpickling there fail and break the
    pool (pebble's reader thread dies on anything but a pickling error): its runs fail here."""
    try:
        return execute_task(task)
    except BaseException as exc:
        text = exception_message(exc)
        return [failed(run.run_id, failure_kind(exc), text) for run in task.runs]


def _pool_failed(exc: BaseException) -> ExanteError:
    return ExanteError(
        f"the local executor's worker processes failed to start ({exc}); their own error is "
        "printed above. If a script of yours starts this sweep, put the call under "
        "`if __name__ == \"__main__\":`: each worker imports the main module again, and an "
        "unguarded call starts a sweep inside every worker. Every run that finished is in "
        "the ledger and the ones that never started are not charged; run again once that is "
        "fixed for the rest.")


def _collect(future: cf.Future, task: Task) -> list[Outcome]:
    """The task's outcomes, or one failed outcome per run if the worker itself failed.

    One broken pool is not a run's failure: pebble's "All workers expired" means a
    worker died while no task was running on any (at start-up, or idle between
    tasks), and it aborts only tasks that had not begun; the sweep stops (_PoolFailed)
    and their RUN_STARTED records stay open, to run again like those of a killed
    sweep. Every other BrokenProcessPool (a reply the driver could not unpickle, a
    broken pipe) aborts running tasks too, so their runs are charged as worker_died."""
    from concurrent.futures.process import BrokenProcessPool

    from pebble import ProcessExpired

    try:
        return future.result()
    except BrokenProcessPool as exc:
        if str(exc) == _NONE_BEGAN:
            raise _PoolFailed(exc) from exc
        kind, error = "worker_died", f"{type(exc).__name__}: {exc}"
    except cf.TimeoutError:
        kind, error = "timeout", f"timed out after {task.trial.timeout_s} s per run (worker killed)"
    except ProcessExpired as exc:
        kind, error = "worker_died", f"worker process died: {exc} (exit code {exc.exitcode})"
    except cf.CancelledError:
        kind, error = "worker_died", "cancelled"
    except ControlSignal as exc:
        if exc.issued:  # the runner's own Ctrl-C: the sweep stops
            raise
        kind, error = failure_kind(exc), type(exc).__name__
    except Exception as exc:  # e.g. a result that could not be unpickled
        kind, error = "worker_died", f"{type(exc).__name__}: {exc}"
    except BaseException as exc:  # SystemExit & co. that escaped the trial: still one failed run
        kind, error = failure_kind(exc), f"{type(exc).__name__}: {exc}"
    return [failed(run.run_id, kind, error) for run in task.runs]
