"""The runner: executes a sealed plan's runs through an executor, into the ledger.

The runner is the only writer of run state. Before anything starts it
verifies the seal and the code/data fingerprints, refuses a killed plan, and
takes an exclusive lock so two runners never share an experiment. Each
outcome is appended to the ledger as it arrives (one fsynced line), so a
SIGKILL at any instant loses at most the runs in flight; `run` again skips
every run id that already has a terminal record. Kill rules are evaluated
after every outcome; when one fires the sweep stops and KILLED is recorded.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from filelock import FileLock, Timeout

from . import ledger as L
from . import registration
from .blinding import during_sweep, shown_metrics
from .design import STAGE2, RunKey, expand
from .errors import FingerprintError, InputError, RefusedError, SweepInterrupted
from .events import TERMINAL, Event
from .executors import make_executor
from .experiment import open_experiment
from .history import History, Record
from .paths import experiment_dir, ledger_path, run_dir
from .executors.base import Executor
from .runner_tasks import Costs, build_tasks, executor_options, failed, request, role_counts
from .spec import Plan
from .sweep_signals import stop_on_signals
from .trial_env import git_state  # noqa: F401  (also importable from here, its old home)
from .trials import Outcome, Task, cleanup


class Progress(Protocol):
    """What the runner tells a progress display; the CLI provides a rich one."""

    def start(self, total: int, done: int, counts: dict[str, int]) -> None: ...
    def advance(self, key: RunKey, outcome: Outcome) -> None: ...
    def add_total(self, n: int) -> None: ...
    def stop(self) -> None: ...


class _Silent:
    def start(self, total, done, counts): pass
    def advance(self, key, outcome): pass
    def add_total(self, n): pass
    def stop(self): pass


@dataclass
class SweepReport:
    """What one `run` call did."""

    planned: int = 0
    skipped: int = 0  # already finished before this call
    ran: int = 0
    ok: int = 0
    failed: int = 0
    killed: dict[str, Any] | None = None
    stage2: bool | None = None
    reused_baseline: str | None = None
    interrupted: str | None = None  # "SIGINT" / "SIGTERM" when a signal stopped the sweep
    remaining: int = 0  # registered runs still without a terminal record when it ended
    limited: bool = False  # --max-runs stopped it on purpose
    stopped: str | None = None  # why the sweep stopped early (a sealed file changed mid-sweep)
    messages: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading results


def terminal_records(records: Iterable[Record | dict[str, Any]]) -> dict[str, Record]:
    """The latest RUN_OK / RUN_FAILED record per run id (see `History.terminal`)."""
    return (records if isinstance(records, History) else History(records)).terminal()


# ---------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class RunOptions:
    executor: str = "local"
    workers: int = 1
    threads: int = 1
    max_runs: int | None = None  # stop after this many runs (for smoke tests and benchmarks)
    extra: dict[str, Any] = field(default_factory=dict)


def check_runnable(path: Path, records: History | list | None = None, *,
                   plan: Plan | None = None) -> tuple[str, Plan, registration.PlanState]:
    """Verify the seal and fingerprints, refuse killed or non-executable plans."""
    digest, plan, current = registration.verify_all(path, records, plan=plan)
    if plan is None:
        raise InputError(f"{path}: a bet module runs one recorded invocation at a time "
                         f"(`exante run {path}` or exante.bets.launch), not as a sweep")
    missing = plan.missing_for_run()
    if missing:
        raise InputError(f"{path}: cannot run mechanically; missing: " + "; ".join(missing))
    if current.killed is not None and plan.no_escalation:
        if current.killed.get("plan_sha256") == digest:
            raise RefusedError(
                f"{plan.experiment_id} was KILLED by rule {current.killed.get('rule')!r} "
                f"({current.killed.get('why') or current.killed.get('when')}); no_escalation: it "
                "cannot be re-run without a new lock. Write the postmortem (`exante postmortem "
                f"{plan.experiment_id}`), then register and lock a new plan.")
    return digest, plan, current


def run(path: Path, options: RunOptions = RunOptions(), *, progress: Progress | None = None
        ) -> SweepReport:
    """Run every registered run that has no terminal record yet. Returns what happened."""
    path = Path(path)
    folder = experiment_dir(path)
    if not folder.is_dir():
        check_runnable(path)  # raises: never locked
    lock = FileLock(str(folder / ".runner.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        owner = (folder / ".runner.pid").read_text().strip() if (folder / ".runner.pid").exists() else "?"
        raise RefusedError(f"another `exante run` is already running on {folder.name} "
                           f"(pid {owner}); wait for it or stop it first") from None
    try:
        # read (and verify) the ledger once, under the lock: this sweep is now its only writer
        exp = open_experiment(path)
        from . import anchors

        anchors.refuse_lost(ledger_path(path), [{"seq": r.seq, "hash": r.hash} for r in exp.history.records], "run")
        digest, plan, _ = check_runnable(path, exp.history)
        (folder / ".runner.pid").write_text(str(os.getpid()))
        with stop_on_signals():
            return _Sweep(path, plan, digest, options, progress or _Silent(), exp.history).go()
    finally:
        lock.release()


class _Sweep:
    def __init__(self, path: Path, plan: Plan, digest: str, options: RunOptions, progress,
                 records: History):
        self.path, self.plan, self.digest, self.options = path, plan, digest, options
        self.progress = progress
        self.ledger = L.Ledger(ledger_path(path))
        self.report = SweepReport()
        self.env_extra = {"git": git_state(plan.folder)}
        self.records = records if isinstance(records, History) else History(records)
        self.results = self.records.terminal()
        self.failures: dict[str, int] = self.records.failures()
        self.reused: dict[str, Any] | None = None
        self._runs_root: Path | None = None
        # the sealed code, re-checked before each dispatch; each run records the hash it ran
        self.watch = registration.CodeWatch(plan, self.records.fingerprints)
        self._code: dict[str, str] = {}
        # Records not yet written, and what must wait until they are (cleanup, progress):
        # one append (one fsync) per pass of the dispatch loop, not one per record.
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._after_write: list[Callable[[], None]] = []
        self.blind = during_sweep(plan)  # progress shows no test-split metric
        self.costs = Costs(plan, self.records)  # measured run times: longest first
        self._executor: Executor | None = None  # kept across phases when it is reusable

    # -- top level
    def go(self) -> SweepReport:
        from . import protocol

        keys = expand(self.plan, include_stage2=False)
        if self.plan.seed_protocol is not None:
            self.reused = protocol.reuse_baseline(self.plan, self.ledger, self.path,
                                                  self.records)
            if self.reused is not None:
                keys = [k for k in keys if k.stage != "baseline_variance"]
                self.report.reused_baseline = self.reused.get("source")
        self.ledger.append(L.SWEEP_STARTED, {"plan_sha256": self.digest, "pid": os.getpid(),
                                             "executor": self.options.executor,
                                             "workers": self.options.workers, **self.env_extra})
        todo = self._todo(keys)
        self.progress.start(len(keys), len(keys) - len(todo), role_counts(keys))
        try:
            try:
                self._sweep(todo)
            finally:
                self._close_executor(cancel=False)
        except FingerprintError as changed:  # sealed code changed mid-sweep: stop, say so
            self._flush()
            self.report.stopped = str(changed)
            self.ledger.append(L.SWEEP_FINISHED, {**self._counts(), "killed": False,
                                                  "stopped": str(changed)[:500]})
            return self._finish()
        except SweepInterrupted as stop:
            self._flush()  # outcomes that arrived before the signal are kept
            self.report.interrupted = signal.Signals(stop.signum).name
            self.ledger.append(Event.SWEEP_INTERRUPTED, {"signal": self.report.interrupted,
                                                         **self._counts()})
            return self._finish()
        finally:
            self.progress.stop()
        self.ledger.append(L.SWEEP_FINISHED, {**self._counts(),
                                              "killed": self.report.killed is not None})
        return self._finish()

    def _counts(self) -> dict[str, int]:
        return {"ran": self.report.ran, "ok": self.report.ok, "failed": self.report.failed}

    def _finish(self) -> SweepReport:
        """Count what is still without a terminal record (what `exante run` would do next)."""
        stage2 = bool(self.report.stage2) or self.records.stage2_decided()
        keys = expand(self.plan, include_stage2=stage2)
        if self.reused is not None:
            keys = [k for k in keys if k.stage != "baseline_variance"]
        self.report.remaining = sum(k.run_id not in self.results for k in keys)
        return self.report

    def _sweep(self, todo: list[RunKey]) -> None:
        killed = False
        if self.plan.seed_protocol is not None:
            # variance first: the baseline stage finishes before any experiment run starts
            killed = self._run_keys([k for k in todo if k.stage == "baseline_variance"])
            if self.reused is None:
                from . import protocol

                protocol.store_baseline(self.plan, self.path, self.results,
                                        self.ledger.head(), self.records)
            todo = [k for k in todo if k.stage != "baseline_variance"]
        if not killed:
            killed = self._run_keys(todo)
        if not killed and self.plan.seed_protocol is not None:
            killed = self._maybe_stage2()

    def _todo(self, keys: list[RunKey]) -> list[RunKey]:
        retries = self.plan.failures.retries
        todo = []
        for key in keys:
            last = self.results.get(key.run_id)
            if last is None or (last.event == Event.RUN_FAILED
                                and self.failures[key.run_id] <= retries):
                todo.append(key)
        self.report.planned += len(keys)
        self.report.skipped += len(keys) - len(todo)
        return todo

    def _run_keys(self, keys: list[RunKey]) -> bool:
        """Execute `keys`, then retry failed ones up to the plan's `failures.retries` times."""
        killed = self._execute(keys)
        retries = self.plan.failures.retries
        while not killed and retries:
            again = [k for k in keys if failed(self.results.get(k.run_id))
                     and self.failures.get(k.run_id, 0) <= retries]
            if not again:
                break
            killed = self._execute(again)
        return killed

    def _maybe_stage2(self) -> bool:
        from . import protocol

        need, info = protocol.stage2_needed(self.plan, self.results, self.reused)
        self.report.stage2 = need
        if need is None:
            return False
        # only a stage-2 decision counts: other STAGE records (a refused baseline reuse) do not
        already = self.records.any(Event.STAGE, stage=STAGE2)
        if not already:
            self.ledger.append(L.STAGE, {"stage": STAGE2, "run": need, **info})
        if not need:
            return False
        keys = [k for k in expand(self.plan, include_stage2=True) if k.stage == STAGE2]
        todo = self._todo(keys)
        self.progress.add_total(len(keys))
        return self._run_keys(todo)

    # -- dispatch
    def _run_dir(self, run_id: str) -> str:
        # resolve the experiment's runs/ folder once, not once per run (run ids are plain names)
        if self._runs_root is None:
            self._runs_root = run_dir(self.path, "x").parent.resolve()
        return str(self._runs_root / run_id)

    def _tasks(self, keys: list[RunKey]) -> list[tuple[Task, list[RunKey]]]:
        """The tasks for `keys`, longest first where their cost was measured (`runner_tasks`)."""
        tasks = build_tasks(self.plan, keys, self._run_dir, self.options.threads)
        return self.costs.longest_first(tasks)

    def _execute(self, keys: list[RunKey]) -> bool:
        if self.options.max_runs is not None:
            allowed = max(0, self.options.max_runs - self.report.ran)
            self.report.limited = self.report.limited or len(keys) > allowed
            keys = keys[:allowed]
        if not keys:
            return False
        tasks = self._tasks(keys)
        by_id = {k.run_id: k for k in keys}
        executor = self._executor or make_executor(self.options.executor, executor_options(
            self.plan, self.options.workers, self.options.threads, self.options.extra))
        self._executor = executor
        queue = list(reversed(tasks))
        killed = False
        try:
            while (queue or executor.pending()) and not killed:
                while queue and executor.pending() < executor.capacity:
                    code = self.watch.check()  # raises when a sealed file changed
                    task, chunk = queue.pop()
                    self._code.update((k.run_id, code) for k in chunk)
                    self._pending.append((L.RUN_STARTED, {"run_ids": [k.run_id for k in chunk],
                                                          "task_id": task.task_id,
                                                          "code_sha256": code}))
                    executor.submit(task)
                self._flush()  # the last outcomes and these starts, in one durable write
                for outcome in executor.wait(timeout=1.0):
                    self._record(by_id[outcome.run_id], outcome)
                    killed = killed or self._check_kill()
        finally:
            try:
                self._flush()
            finally:
                cancel = killed or bool(queue) or executor.pending() > 0
                if cancel or not executor.reusable:
                    self._close_executor(cancel=cancel)
        return killed

    def _close_executor(self, *, cancel: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close(cancel=cancel)

    def _flush(self) -> None:
        """Append the waiting records (one lock, one fsync), then run what waited for them."""
        if not self._pending:
            return
        # taken off the list first: a signal after the write can never make it write them twice
        batch, self._pending = self._pending, []
        written = self.ledger.append_many(batch)
        for raw in written:
            record = Record.from_dict(raw)
            if record.event in TERMINAL:
                self.results[record.run_id] = record
        actions, self._after_write = self._after_write, []
        for action in actions:
            action()

    def _record(self, key: RunKey, outcome: Outcome) -> None:
        data = {"run_id": key.run_id, "cell": key.cell, "role": key.role, "stage": key.stage,
                "seed": key.seed, "params": dict(key.params), "metrics": dict(outcome.metrics),
                "wall_s": outcome.wall_s, "peak_rss_mb": outcome.peak_rss_mb,
                # the driver's 1-minute load average, so a wall-clock comparison across runs
                # made under different load can be flagged rather than believed
                "load1": round(os.getloadavg()[0], 2),
                "env": {**outcome.env, **self.env_extra}, "executor": self.options.executor,
                "code_sha256": self._code.get(key.run_id)}
        if outcome.ok:
            event = L.RUN_OK
            self.report.ok += 1
            self.costs.add(key, outcome.wall_s)
        else:
            event = L.RUN_FAILED
            data.update(error=outcome.error, error_kind=outcome.error_kind)
            self.report.failed += 1
            self.failures[key.run_id] = self.failures.get(key.run_id, 0) + 1
        self._pending.append((event, data))
        self.results[key.run_id] = Record(-1, event, data)  # the kill rules see it now
        self.report.ran += 1
        if self.plan.trial.cleanup:  # only once the result is on disk
            req = request(key, self._run_dir(key.run_id))
            self._after_write.append(lambda: cleanup(self.plan.trial, req, self.plan.folder))
        shown = replace(outcome, metrics=shown_metrics(self.blind, outcome.metrics))
        self._after_write.append(lambda: self.progress.advance(key, shown))

    def _check_kill(self) -> bool:
        if not self.plan.kill:
            return False
        from .scope import evaluate_kill

        fired = evaluate_kill(self.plan, list(self.results.values()), self.reused)
        if fired is None:
            return False
        fired = {**fired, "plan_sha256": self.digest}
        self._pending.append((L.KILLED, fired))  # written with the outcome that fired it
        self.report.killed = fired
        return True


from .status import status  # noqa: E402,F401  (its home moved; kept importable here)
