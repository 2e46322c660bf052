"""The inline executor: runs each task in this process, for debugging.

No timeout can be enforced here (nothing can stop a Python function from
outside its own thread); use the local executor when a plan sets one.
"""

from __future__ import annotations

from collections import deque

from ..trials import Outcome, Task, execute_task
from .base import Executor


class InlineExecutor(Executor):
    """Runs a task when `wait` asks for it; one task at a time."""

    name = "inline"

    def __init__(self, options):
        super().__init__(options)
        self._queue: deque[Task] = deque()

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        if not self._queue:
            return []
        return execute_task(self._queue.popleft())

    def pending(self) -> int:
        return len(self._queue)

    def close(self, *, cancel: bool = False) -> None:
        self._queue.clear()
