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


def make_progress(stream=None, *, workers: int = 1):
    """The rich bar on a terminal; whole plain lines (`LineProgress`) anywhere else."""
    import sys

    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return RichProgress()
    return LineProgress(stream, workers=workers)


def eta_seconds(done: int, total: int, elapsed_s: float, wall_times: list[float],
                workers: int) -> float | None:
    """Seconds left, from this sweep's measured pace; None before any run finished.

    The pace is the wall time per finished run (elapsed / runs finished so far),
    which already counts the parallel workers; until two runs are in, the
    mean measured run time divided by the workers stands in.
    """
    left = max(0, total - done)
    if not wall_times:
        return None
    if len(wall_times) >= 2 and elapsed_s > 0:
        return left * elapsed_s / len(wall_times)
    return left * (sum(wall_times) / len(wall_times)) / max(1, workers)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """Progress for logs and pipes: one whole line per update, never a redrawn bar.

    Each line is written with one `write` and flushed, so it cannot interleave
    mid-line with other output; lines come at most every `every_s` seconds (and
    for the first run, each tenth of the sweep, the last run and every failure),
    so a 10,000-run sweep does not write 10,000 lines.
    """

    def __init__(self, stream, *, every_s: float = 10.0, workers: int = 1, now=None) -> None:
        import time

        self.stream, self.every_s, self.workers = stream, every_s, workers
        self.now = now or time.monotonic
        self.total = self.done = self.failed = 0
        self.ok: dict[str, int] = {}
        self.walls: list[float] = []
        self.started = self.last = 0.0

    def start(self, total: int, done: int, counts: dict[str, int]) -> None:
        self.total, self.done = total, done
        self.started = self.last = self.now()
        self._write(f"runs: {total} planned, {done} already done, {total - done} to run")

    def add_total(self, n: int) -> None:
        self.total += n
        self._write(f"runs: {n} more planned (stage 2), {self.total} in all")

    def advance(self, key, outcome) -> None:
        self.done += 1
        self.walls.append(float(getattr(outcome, "wall_s", 0.0) or 0.0))
        if outcome.ok:
            self.ok[key.role] = self.ok.get(key.role, 0) + 1
            shown = ", ".join(f"{k}={v:.4g}" for k, v in list(outcome.metrics.items())[:2]
                              if isinstance(v, (int, float)))
            latest = f"{key.cell} s{key.seed}: {shown}"
        else:
            self.failed += 1
            latest = f"{key.cell} s{key.seed}: FAILED ({outcome.error_kind})"
        now = self.now()
        tenth = max(1, self.total // 10)
        if (now - self.last >= self.every_s or len(self.walls) == 1 or not outcome.ok
                or self.done % tenth == 0 or self.done >= self.total):
            self.last = now
            self._write(self._line(now, latest))

    def _line(self, now: float, latest: str) -> str:
        elapsed = now - self.started
        eta = eta_seconds(self.done, self.total, elapsed, self.walls, self.workers)
        roles = " ".join(f"{r}:{n}" for r, n in sorted(self.ok.items()))
        pct = 100 * self.done / self.total if self.total else 100.0
        return (f"[{self.done:>{len(str(self.total))}}/{self.total}] {pct:3.0f}% {roles} "
                f"failed:{self.failed} | elapsed {clock(elapsed)} eta {clock(eta)} | {latest}")

    def stop(self) -> None:
        if self.total:
            self._write(f"runs: {self.done}/{self.total} done, {self.failed} failed, in "
                        f"{clock(self.now() - self.started)}")

    def _write(self, text: str) -> None:
        self.stream.write(text.replace("\n", " ")[:300] + "\n")
        self.stream.flush()
