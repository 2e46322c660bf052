"""What the runner hands an executor (tasks, options), and in which order.

A task is one run, or for a batched trial the runs that share their `group_by`
values, in chunks of `max_batch`. Tasks go out longest first (LPT), so the
last worker is not left alone with the longest run at the end. A task's cost is
the sum of its runs' costs; a run's cost is, in this order:

1. measured: the mean `wall_s` per run of its cost class (its cell; for a
   batched trial its group, which shares one call) in earlier RUN_OK records (a
   resumed sweep, a retry pass, stage 2 after stage 1) or, before any run, in
   the PILOT records measured before the lock;
2. registered: the plan's `trial.cost`, an expression over the run's params
   (``"depth * width"``, ``"epochs * (mode == 'train')"``) checked at lock,
   scaled to seconds by the median measured seconds per unit of cost when
   some classes are measured;
3. otherwise the median measured class.

With neither measurements nor `trial.cost` the plan's order is kept. Only when
a run starts changes: run ids, seeds and parameters are the plan's, so results
do not depend on the order.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Iterable, Mapping

from .design import RunKey, registered_cost
from .errors import PlanError
from .events import Event
from .executors import ExecutorOptions
from .history import Record
from .spec import Plan
from .trials import RunRequest, Task
from .trialspec import TrialSpec


def build_tasks(plan: Plan, keys: list[RunKey], run_dir: Callable[[str], str],
                threads: int) -> list[tuple[Task, list[RunKey]]]:
    """The tasks for `keys` in plan order, each with the run keys it carries."""
    trial = plan.trial
    groups: dict[Any, list[RunKey]] = {}
    for key in keys:
        gkey = _group(trial, key.params) if trial.kind == "batched" else key.run_id
        groups.setdefault(gkey, []).append(key)
    tasks = []
    metric_names = (plan.primary.name,)
    plan_dir = str(plan.folder.resolve())
    for members in groups.values():
        for i in range(0, len(members), trial.max_batch):
            chunk = members[i:i + trial.max_batch]
            runs = tuple(request(k, run_dir(k.run_id)) for k in chunk)
            tasks.append((Task(chunk[0].run_id, trial, runs, plan_dir, metric_names, threads),
                          chunk))
    return tasks


def request(key: RunKey, run_dir: str) -> RunRequest:
    """What a worker gets to know about one run."""
    return RunRequest(key.run_id, key.role, key.cell, key.stage, key.seed, dict(key.params),
                      run_dir)


def executor_options(plan: Plan, workers: int, threads: int, extra: dict[str, Any]
                     ) -> ExecutorOptions:
    """The executor's options: the sweep's workers and threads, the plan's resources and retries."""
    return ExecutorOptions(workers=workers, threads=threads, cpus=plan.resources.get("cpus", 1.0),
                           gpus=plan.resources.get("gpus", 0.0),
                           max_retries=plan.failures.retries, extra=extra)


def _group(trial: TrialSpec, params: Mapping[str, Any]) -> tuple:
    return tuple(repr(params.get(p)) for p in trial.group_by)


class Costs:
    """Seconds per run, by cost class: measured (ledger, this sweep) or from `trial.cost`."""

    def __init__(self, plan: Plan, records: Iterable[Record] = ()):
        self.trial = plan.trial
        self.registered = registered_cost(plan)
        self._ran: dict[Any, list[float]] = {}  # RUN_OK records: the registered runs themselves
        self._piloted: dict[Any, list[float]] = {}  # PILOT records: measured before the lock
        self._measured: list[tuple[float, Mapping[str, Any]]] = []  # (wall_s, params), for
        # trial.cost's scale: evaluated only when tasks are ordered, never on a resume scan
        for record in records:
            if record.event == Event.RUN_OK:
                self._add(self._ran, record.data)
            elif record.event == Event.PILOT and record.data.get("ok"):
                self._add(self._piloted, record.data)

    def _class(self, cell: Any, params: Mapping[str, Any]) -> Any:
        return _group(self.trial, params) if self.trial.kind == "batched" else cell

    def _add(self, into: dict[Any, list[float]], data: Mapping[str, Any]) -> None:
        wall = data.get("wall_s")
        if isinstance(wall, (int, float)) and not isinstance(wall, bool) and wall >= 0:
            params = data.get("params") or {}
            into.setdefault(self._class(data.get("cell"), params), []).append(float(wall))
            if self.registered is not None:
                self._measured.append((float(wall), params))

    def _seconds_per_unit(self) -> float:
        """Median measured seconds per unit of `trial.cost` (1.0 with nothing to measure by).

        A record whose params the cost cannot judge (written under another plan) or
        that costs 0 units says nothing about the scale and is left out."""
        ratios = []
        for wall, params in self._measured:
            try:
                units = self.registered(params)
            except PlanError:
                continue
            if units:
                ratios.append(wall / units)
        return statistics.median(ratios) if ratios else 1.0

    def add(self, key: RunKey, wall_s: float | None) -> None:
        """One more finished run of this sweep."""
        self._add(self._ran, {"cell": key.cell, "params": key.params, "wall_s": wall_s})

    def per_run(self) -> dict[Any, float]:
        """Mean seconds per run of each measured class (RUN_OK over PILOT where both exist)."""
        means = {c: statistics.fmean(w) for c, w in self._piloted.items()}
        means.update((c, statistics.fmean(w)) for c, w in self._ran.items())
        return means

    def longest_first(self, tasks: list[tuple[Task, list[RunKey]]]
                      ) -> list[tuple[Task, list[RunKey]]]:
        """`tasks` by decreasing estimated cost; the plan's order for ties and without data."""
        per_run = self.per_run()
        if not per_run and self.registered is None:
            return tasks
        unknown = statistics.median(per_run.values()) if per_run else 0.0
        scale = self._seconds_per_unit() if self.registered is not None else 1.0

        def run_cost(key: RunKey) -> float:
            measured = per_run.get(self._class(key.cell, key.params))
            if measured is not None:
                return measured
            if self.registered is not None:
                return self.registered(key.params) * scale
            return unknown

        def cost(entry: tuple[Task, list[RunKey]]) -> float:
            return sum(run_cost(k) for k in entry[1])

        return sorted(tasks, key=cost, reverse=True)  # stable: equal costs keep plan order


def failed(record: Record | None) -> bool:
    """Whether a run's latest terminal record is a failure (a retry candidate)."""
    return record is not None and record.event == Event.RUN_FAILED


def role_counts(keys: list[RunKey]) -> dict[str, int]:
    """How many of `keys` each role has (the progress display's per-role totals)."""
    counts: dict[str, int] = {}
    for key in keys:
        counts[key.role] = counts.get(key.role, 0) + 1
    return counts
