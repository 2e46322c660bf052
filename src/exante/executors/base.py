"""The executor interface: how a batch of runs reaches a machine and comes back.

An executor is deliberately small (Hydra's launcher is two methods): it takes
`Task`s, runs `exante.trials.execute_task` on them somewhere, and hands back
`Outcome`s as they finish. It never touches the ledger; the runner on the
driver is the only writer. Everything that crosses a process or machine
boundary is a plain picklable dataclass.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from ..trials import Outcome, Task


@dataclass(frozen=True)
class ExecutorOptions:
    """Options every executor understands; engine-specific ones go in `extra`.

    workers: how many tasks may run at once (processes, Ray tasks, array slots).
    threads: intra-op threads per worker (OMP/MKL/torch); 1 avoids oversubscription.
    cpus/gpus: resources per task for cluster engines (fractional GPUs allowed on Ray).
    max_retries: how often a task whose *worker* died is retried before the
      runs are recorded failed (a trial's own exception is never retried).
    """

    workers: int = 1
    threads: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(abc.ABC):
    """Runs tasks and reports their outcomes as they finish.

    Contract (tests/executor_contract.py checks it for every executor):
    - `submit` never blocks for long and never raises for a failing trial;
    - `wait` returns every outcome exactly once, one `Outcome` per run of a task,
      including failures (exception, timeout, worker death) as failed outcomes;
    - `close(cancel=True)` stops everything still running and returns promptly.
    """

    name: str = "base"
    # whether the runner may keep this executor for the sweep's next phase (retries, a seed
    # protocol's stages) once nothing is in flight, so its workers and their imports live on
    reusable: bool = False

    def __init__(self, options: ExecutorOptions):
        self.options = options

    @property
    def capacity(self) -> int:
        """How many tasks the runner should keep in flight."""
        return max(1, self.options.workers)

    @abc.abstractmethod
    def submit(self, task: Task) -> None:
        """Start `task` (a batch of one or more runs) somewhere."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Block until at least one task finishes (or `timeout` s pass); return their outcomes."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Number of submitted tasks whose outcomes were not yet returned by `wait`."""

    @abc.abstractmethod
    def close(self, *, cancel: bool = False) -> None:
        """Release workers; with cancel=True kill whatever is still running."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close(cancel=exc[0] is not None)
