"""The contract every executor keeps, as one suite each executor's tests inherit.

Like Hydra's `launcher_common_tests.py`: a test module subclasses
`ExecutorContract` and provides a `make` fixture, `make(**option_overrides)`
returning a fresh executor; `executor_factory` builds one that closes
everything it made. Class attributes say what an engine cannot do:

    in_process     runs happen inside `wait()` in the test's own process (inline):
                   no time limit can be enforced and there is no worker to lose
    limit_s        how long one test may wait for its outcomes
    many_tasks     how many tasks the exactly-once test sweeps (20; engines that
                   start a fresh process per task use fewer to stay fast)

The trials live in tests/fixtures_trials/, which is the tasks' plan folder.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter, deque
from pathlib import Path
from typing import Callable, Iterable

import pytest

from exante.executors.base import Executor, ExecutorOptions
from exante.trials import Outcome, RunRequest, Task, TrialSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures_trials"
COMMAND_SCRIPT = FIXTURES / "fixture_command.py"
HOSTILE_TEXT = "two words; echo $(whoami) `id` && rm -rf ~ 'single' \"double\" | cat > /tmp/x"


# ---------------------------------------------------------------- building tasks


class Sweep:
    """Makes tasks with unique run ids and run folders under `root`."""

    def __init__(self, root: Path, plan_dir: Path = FIXTURES):
        self.root = root
        self.plan_dir = plan_dir
        self.count = 0

    def task(self, target: str, seeds: Iterable[int] = (1,), *, kind: str = "python",
             timeout_s: float | None = None, params: dict | None = None,
             metrics: tuple[str, ...] = ("score",), pythonpath: tuple[str, ...] = ()) -> Task:
        trial = TrialSpec(kind=kind, target=f"fixture_trials:{target}", timeout_s=timeout_s,
                          pythonpath=pythonpath)
        return self._task(target, trial, seeds, params or {}, metrics)

    def command_task(self, argv: tuple[str, ...], seed: int, params: dict) -> Task:
        trial = TrialSpec(kind="command", argv=argv, metric_regex={"score": r"score=(\S+)"})
        return self._task("command", trial, (seed,), params, ("score",))

    def _task(self, name, trial, seeds, params, metrics) -> Task:
        self.count += 1
        task_id = f"{name}-{self.count}"
        runs = []
        for seed in seeds:
            run_id = f"{task_id}-s{seed}"
            run_dir = self.root / "runs" / run_id
            runs.append(RunRequest(run_id=run_id, role="arm", cell="c", stage="main", seed=seed,
                                   params=dict(params), run_dir=str(run_dir)))
        return Task(task_id=task_id, trial=trial, runs=tuple(runs), plan_dir=str(self.plan_dir),
                    metric_names=metrics)


# ---------------------------------------------------------------- driving an executor


def run_all(executor: Executor, tasks: list[Task], limit_s: float = 60.0) -> dict[str, Outcome]:
    """Drive `tasks` through `executor` as the runner does; check each run returns exactly once."""
    todo = deque(tasks)
    seen: list[Outcome] = []
    deadline = time.monotonic() + limit_s
    while todo or executor.pending():
        while todo and executor.pending() < executor.capacity:
            executor.submit(todo.popleft())
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"{executor.pending()} task(s) still pending after {limit_s} s")
        seen.extend(executor.wait(timeout=min(left, 5.0)))
    counts = Counter(o.run_id for o in seen)
    assert [r for r, n in counts.items() if n > 1] == [], "a run came back twice"
    assert set(counts) == {run.run_id for task in tasks for run in task.runs}
    return {o.run_id: o for o in seen}


def wait_for_file(path: Path, limit_s: float) -> str:
    """The text of `path` once it exists (a trial writes `started` when it begins)."""
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {limit_s} s")
        time.sleep(0.05)
    time.sleep(0.05)  # the writer may not have flushed yet
    return path.read_text()


def process_gone(pid: int, limit_s: float) -> bool:
    """True once `pid` no longer runs (a zombie waiting to be reaped counts as gone)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def executor_factory(build: Callable[[ExecutorOptions], Executor], **defaults):
    """`make(**overrides)` for a test; every executor made is closed (cancelling) afterwards."""
    made: list[Executor] = []

    def make(**overrides) -> Executor:
        extra = {**defaults.get("extra", {}), **overrides.pop("extra", {})}
        fields = {**defaults, **overrides, "extra": extra}
        executor = build(ExecutorOptions(**fields))
        made.append(executor)
        return executor

    try:
        yield make
    finally:
        for executor in made:
            executor.close(cancel=True)


# ---------------------------------------------------------------- the contract


class ExecutorContract:
    """Inherit this in `test_executor_<name>.py` and define the `make` fixture."""

    in_process = False
    limit_s = 60.0
    many_tasks = 20

    @pytest.fixture
    def make(self):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError("a test class inheriting ExecutorContract must define `make`")

    @pytest.fixture
    def sweep(self, tmp_path) -> Sweep:
        return Sweep(tmp_path)

    def run(self, executor: Executor, tasks: list[Task]) -> dict[str, Outcome]:
        return run_all(executor, tasks, self.limit_s)

    def test_ok_runs_return_their_metrics(self, make, sweep):
        tasks = [sweep.task("ok", (seed,), params={"offset": 0.5}) for seed in (1, 2, 3)]
        outcomes = self.run(make(), tasks)
        for task in tasks:
            (run,) = task.runs
            outcome = outcomes[run.run_id]
            assert outcome.ok, outcome.error
            assert outcome.metrics["score"] == 2.0 * run.seed + 0.5
            assert outcome.error_kind is None
            assert outcome.env["python"]
            assert Path(run.run_dir).is_dir()

    def test_a_raising_trial_is_a_failed_outcome_and_the_sweep_goes_on(self, make, sweep):
        bad = sweep.task("raises", (7,))
        good = [sweep.task("ok", (seed,)) for seed in (1, 2)]
        outcomes = self.run(make(), [bad, *good])
        failed = outcomes[bad.runs[0].run_id]
        assert not failed.ok and failed.error_kind == "exception"
        assert "ValueError: this trial always fails (seed 7)" in failed.error
        assert all(outcomes[t.runs[0].run_id].ok for t in good)

    def test_nan_metric_is_failed_with_kind_nan(self, make, sweep):
        task = sweep.task("returns_nan")
        outcome = self.run(make(), [task])[task.runs[0].run_id]
        assert (outcome.ok, outcome.error_kind) == (False, "nan")

    def test_missing_metric_is_failed_with_kind_missing_metric(self, make, sweep):
        task = sweep.task("missing_metric")
        outcome = self.run(make(), [task])[task.runs[0].run_id]
        assert (outcome.ok, outcome.error_kind) == (False, "missing_metric")
        assert "score" in outcome.error

    def test_an_unimportable_trial_fails_each_run(self, make, sweep):
        task = sweep.task("no_such_function", (1, 2))
        outcomes = self.run(make(), [task])
        assert {o.error_kind for o in outcomes.values()} == {"exception"}
        assert "cannot import" in outcomes[task.runs[0].run_id].error

    def test_a_batched_task_returns_one_outcome_per_run(self, make, sweep):
        task = sweep.task("batched", (1, 2, 3, 4), kind="batched")
        outcomes = self.run(make(), [task])
        for run in task.runs:
            assert outcomes[run.run_id].ok
            assert outcomes[run.run_id].metrics == {"score": 2.0 * run.seed, "batch_size": 4.0}

    def test_every_run_comes_back_exactly_once(self, make, sweep):
        seeds = range(1, self.many_tasks + 1)
        tasks = [sweep.task("raises" if seed % 5 == 0 else "ok", (seed,)) for seed in seeds]
        outcomes = self.run(make(), tasks)  # run_all checks: no loss, no duplicate
        assert sum(o.ok for o in outcomes.values()) == len(tasks) - len(tasks) // 5
        assert {o.error_kind for o in outcomes.values() if not o.ok} == {"exception"}

    def test_command_parameters_arrive_literally(self, make, sweep):
        argv = ("python", str(COMMAND_SCRIPT), "{run_dir}", "{seed}", "{text}", "--flag={text}")
        task = sweep.command_task(argv, 3, {"text": HOSTILE_TEXT})
        outcome = self.run(make(), [task])[task.runs[0].run_id]
        assert outcome.ok, outcome.error
        assert outcome.metrics["score"] == 6.0
        received = json.loads((Path(task.runs[0].run_dir) / "argv.json").read_text())
        assert received == [task.runs[0].run_dir, "3", HOSTILE_TEXT, f"--flag={HOSTILE_TEXT}"]

    def test_a_run_over_its_time_limit_is_failed_with_kind_timeout(self, make, sweep):
        if self.in_process:
            pytest.skip("runs in the caller's process: nothing can stop a Python function from "
                        "outside its thread (documented in executors/inline.py)")
        hung = sweep.task("hangs", timeout_s=1.0)
        good = sweep.task("ok", (2,), timeout_s=30.0)
        outcomes = self.run(make(workers=2), [hung, good])
        outcome = outcomes[hung.runs[0].run_id]
        assert (outcome.ok, outcome.error_kind) == (False, "timeout"), outcome.error
        assert outcomes[good.runs[0].run_id].ok

    def test_a_dying_worker_is_failed_with_kind_worker_died(self, make, sweep):
        if self.in_process:
            pytest.skip("runs in the caller's process: a trial that exits takes the test with it")
        dying = sweep.task("dies")
        good = sweep.task("ok", (2,))
        outcomes = self.run(make(workers=2), [dying, good])
        outcome = outcomes[dying.runs[0].run_id]
        assert (outcome.ok, outcome.error_kind) == (False, "worker_died"), outcome.error
        assert outcomes[good.runs[0].run_id].ok

    def test_close_with_cancel_returns_promptly_and_stops_the_work(self, make, sweep):
        executor = make(workers=2)
        tasks = [sweep.task("sleeps", (seed,), params={"seconds": 300}) for seed in (1, 2, 3)]
        for task in tasks:
            executor.submit(task)
        pid = None
        if not self.in_process:
            pid = int(wait_for_file(Path(tasks[0].runs[0].run_dir) / "started", self.limit_s))
        start = time.monotonic()
        executor.close(cancel=True)
        assert time.monotonic() - start < 15.0
        assert executor.pending() == 0
        if pid is not None:
            assert process_gone(pid, 20.0), f"trial process {pid} outlived close(cancel=True)"

    def test_wait_with_nothing_pending_returns_at_once(self, make):
        executor = make()
        start = time.monotonic()
        assert executor.wait(timeout=30.0) == []
        assert time.monotonic() - start < 1.0
        assert executor.pending() == 0
