"""`exante pilot PLAN --seeds 1,2,3`: pilot runs before the lock, without peeking.

The plan is drafted, not locked. Its design cells (baseline and arms; optionally
only those at some factor levels) run on the pilot seeds through the same
trial and executors as a sweep, and each outcome is recorded as a PILOT record
holding the pilot metric alone (`metrics.pilot`, else the validation metric):
the other metrics a trial returns, a test-split metric above all, are never
written or shown. Pilot seeds must differ from the registered ones (refused
here, and again at the lock); a (cell, seed) already piloted is not re-run.
What the lock does with the pilots is in `exante.pilots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from filelock import FileLock, Timeout

from .design import Cell, RunKey, design_cells, run_id
from .errors import InputError, RefusedError
from .events import Event
from .executors import ExecutorOptions, make_executor
from .experiment import open_experiment
from .pilots import pilot_sigma, registered_seeds
from .spec import Plan
from .trials import Outcome, RunRequest, Task

STAGE = "pilot"


@dataclass
class PilotReport:
    """What one `exante pilot` call did, and the σ the pilots now give."""

    metric: str
    planned: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    sigma: dict[str, Any] | None = None
    cells: list[str] = field(default_factory=list)


def pilot(path: Path, seeds: Sequence[int], *, levels: Mapping[str, Sequence[str]] | None = None,
          executor: str = "local", workers: int = 1, threads: int = 1,
          progress=None) -> PilotReport:
    """Run the pilot seeds of the (selected) design cells of the unlocked plan at `path`."""
    exp = open_experiment(path)
    plan = exp.plan
    metric = _check(plan, exp, list(seeds))
    cells = select_cells(plan, levels or {})
    done = {(r.data.get("cell"), r.data.get("seed")) for r in exp.history.pilots()}
    keys = [_key(plan, c, s) for c in cells for s in seeds]
    todo = [k for k in keys if (k.cell, k.seed) not in done]
    report = PilotReport(metric, len(keys), len(keys) - len(todo), cells=[c.name for c in cells])
    exp.folder.mkdir(parents=True, exist_ok=True)  # NAME.yaml keeps its records in NAME/
    lock = FileLock(str(exp.folder / ".runner.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RefusedError(f"another exante process is running on {exp.folder.name}") from None
    try:
        _run(plan, exp, todo, metric, report, ExecutorOptions(workers=workers, threads=threads),
             executor, progress)
    finally:
        lock.release()
    report.sigma = pilot_sigma(plan, exp.reread().history)
    return report


def _check(plan: Plan | None, exp, seeds: list[int]) -> str:
    where = exp.plan_path
    if plan is None or plan.trial is None:
        raise InputError(f"{where}: pilots need a plan with a `trial:` to run")
    if exp.history.sealed_hash is not None:
        raise RefusedError(f"{where} is locked: pilots come before the lock; after it every run "
                           "is a registered run (`exante run`)")
    metric = plan.pilot_metric()
    if metric is None:
        raise InputError(f"{where}: metrics.pilot: name the metric pilots measure (or mark a "
                         "validation metric `split: validation`); pilots never measure the "
                         "test set")
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError("--seeds: give distinct integer seeds, e.g. --seeds 1,2,3")
    for yaml_path, registered in registered_seeds(plan).items():
        clash = sorted(set(seeds) & set(registered))
        if clash:
            raise RefusedError(f"{where}: {yaml_path}: pilot seed(s) {clash} are registered "
                               f"seeds {sorted(registered)}; pilots must use other seeds, or "
                               "the registered runs would not be the first look at them")
    return metric.name


def select_cells(plan: Plan, levels: Mapping[str, Sequence[str]]) -> list[Cell]:
    """The design cells (baseline and arms) at the given factor levels (all when none)."""
    cells = design_cells(plan)
    for factor, wanted in levels.items():
        if factor not in plan.design.factors:
            raise InputError(f"--level {factor}=...: the plan has no factor {factor!r}; its "
                             f"factors are {', '.join(plan.design.factors) or 'none'}")
        known = {str(v) for v in plan.design.factors[factor]}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise InputError(f"--level {factor}={unknown[0]}: not a level of {factor} "
                             f"({', '.join(sorted(known))})")
        cells = [c for c in cells if str(c.levels.get(factor)) in set(wanted)]
    return cells


def _key(plan: Plan, cell: Cell, seed: int) -> RunKey:
    return RunKey(run_id(STAGE, cell.name, seed), cell.name, cell.role, STAGE, seed,
                  cell.params(plan.design.fixed))


def _tasks(plan: Plan, exp, keys: list[RunKey], metric: str, threads: int) -> list[Task]:
    trial, groups = plan.trial, {}
    for key in keys:
        gkey = tuple(repr(key.params.get(p)) for p in trial.group_by) \
            if trial.kind == "batched" else key.run_id
        groups.setdefault(gkey, []).append(key)
    tasks = []
    for members in groups.values():
        for i in range(0, len(members), trial.max_batch):
            chunk = members[i:i + trial.max_batch]
            runs = tuple(RunRequest(k.run_id, k.role, k.cell, k.stage, k.seed, dict(k.params),
                                    str(exp.run_dir(k.run_id).resolve())) for k in chunk)
            tasks.append(Task(chunk[0].run_id, trial, runs, str(plan.folder.resolve()),
                              (metric,), threads))
    return tasks


def _run(plan: Plan, exp, keys: list[RunKey], metric: str, report: PilotReport,
         options: ExecutorOptions, executor_name: str, progress) -> None:
    if not keys:
        return
    by_id = {k.run_id: k for k in keys}
    queue = list(reversed(_tasks(plan, exp, keys, metric, options.threads)))
    executor = make_executor(executor_name, options)
    if progress is not None:
        progress.start(len(keys), 0, {})
    try:
        while queue or executor.pending():
            while queue and executor.pending() < executor.capacity:
                executor.submit(queue.pop())
            for outcome in executor.wait(timeout=1.0):
                _record(exp, by_id[outcome.run_id], outcome, metric, report, executor_name,
                        progress)
    finally:
        executor.close(cancel=bool(queue) or executor.pending() > 0)
        if progress is not None:
            progress.stop()


def _record(exp, key: RunKey, outcome: Outcome, metric: str, report: PilotReport,
            executor: str, progress) -> None:
    """One PILOT record: the pilot metric only; nothing else the trial returned is kept."""
    kept = {metric: outcome.metrics[metric]} if outcome.ok else {}
    exp.append(Event.PILOT, {
        "pilot_id": key.run_id, "cell": key.cell, "role": key.role, "seed": key.seed,
        "params": dict(key.params), "metrics": kept, "ok": outcome.ok,
        "error": outcome.error, "error_kind": outcome.error_kind, "wall_s": outcome.wall_s,
        "source": {"by": "exante pilot", "metric": metric, "executor": executor}})
    report.ok += outcome.ok
    report.failed += not outcome.ok
    if progress is not None:
        progress.advance(key, replace(outcome, metrics=kept))

