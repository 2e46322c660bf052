"""A rich progress bar for the runner: ETA, per-role counts and the latest metrics."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


class RichProgress:
    """Implements `exante.runner.Progress` on stderr, so stdout stays machine-readable."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                            TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                            console=self.console, transient=False)
        self.task = None
        self.ok: dict[str, int] = {}
        self.failed = 0
        self.latest = ""

    def start(self, total: int, done: int, counts: dict[str, int]) -> None:
        self.bar.start()
        self.task = self.bar.add_task("runs", total=total, completed=done, info="")

    def add_total(self, n: int) -> None:
        self.bar.update(self.task, total=self.bar.tasks[0].total + n)

    def advance(self, key, outcome) -> None:
        if outcome.ok:
            self.ok[key.role] = self.ok.get(key.role, 0) + 1
            shown = list(outcome.metrics.items())[:2]
            self.latest = f"{key.cell} s{key.seed}: " + ", ".join(f"{k}={v:.4g}" for k, v in shown)
        else:
            self.failed += 1
            self.latest = f"{key.cell} s{key.seed}: FAILED ({outcome.error_kind})"
        roles = " ".join(f"{r}:{n}" for r, n in sorted(self.ok.items()))
        info = f"{roles} failed:{self.failed} | {self.latest}"
        self.bar.update(self.task, advance=1, info=info[:110])

    def stop(self) -> None:
        self.bar.stop()
