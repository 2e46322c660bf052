"""A test-split primary metric stays blind until the registered sweep is complete.

A metric registered with ``split: test`` (``metrics.primary: {..., split: test}``)
is not shown while registered runs are still missing: progress lines, `exante
status`, `exante log` and every interim output show the plan's pilot /
validation metric instead (`Plan.pilot_metric`), and `exante decide` refuses
until every registered run has finished (or a kill rule ended the sweep). The
first decide after that appends a TEST_UNBLINDED record: the ledger says when
test numbers were first shown, and on how many runs.

The ledger file itself holds every metric a run returned (it is the record);
blinding is about what exante shows, so no one reads a test number by accident
while the sweep can still be changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import PlanError, RefusedError
from .events import Event
from .history import History, Record, as_history
from .spec import Plan

MASK = "blind"  # what `exante log --json` shows in place of a blind metric's value


@dataclass(frozen=True)
class Blind:
    """Which metrics are blind now, and what is shown instead."""

    metrics: tuple[str, ...]  # the registered test-split metrics
    shown: str | None  # the metric shown in their place (pilot / validation metric)
    done: int  # registered runs with a terminal record
    planned: int
    killed: bool = False

    @property
    def complete(self) -> bool:
        return self.killed or self.done >= self.planned

    @property
    def active(self) -> bool:
        """Whether test numbers must not be shown now."""
        return bool(self.metrics) and not self.complete

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "shown": self.shown, "active": self.active,
                "done": self.done, "planned": self.planned,
                "until": "the registered sweep is complete"}


def state(plan: Plan, counts: Mapping[str, Any]) -> Blind:
    """The blind state from `exante.status` counts (planned, completed, failed, killed)."""
    shown = plan.pilot_metric()
    return Blind(plan.blind_metrics(), shown.name if shown else None,
                 int(counts["completed"]) + int(counts["failed"]), int(counts["planned"]),
                 bool(counts.get("killed")))


def of_records(plan_path: Path | str, records: Iterable[Mapping[str, Any]]) -> Blind | None:
    """The blind state of a plan whose ledger records are already read (None: nothing is blind,
    or a bet module)."""
    from .experiment import open_experiment
    from .status import status

    if Path(plan_path).suffix == ".py":
        return None
    exp = open_experiment(plan_path, history=as_history(records))
    try:
        exp.plan  # a log or an export of a ledger whose plan no longer parses still works
    except PlanError:
        return None
    if not exp.plan.blind_metrics():
        return None
    return state(exp.plan, status(plan_path, experiment=exp))


def during_sweep(plan: Plan) -> Blind:
    """While a sweep runs its registered runs are not all finished: blind if any metric is."""
    shown = plan.pilot_metric()
    return Blind(plan.blind_metrics(), shown.name if shown else None, 0, 1)


def shown_metrics(blind: Blind, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """`metrics` without the blind ones while blind, the shown metric first."""
    if not blind.active:
        return dict(metrics)
    kept = {k: v for k, v in metrics.items() if k not in blind.metrics}
    if blind.shown in kept:
        kept = {blind.shown: kept[blind.shown], **kept}
    return kept


def masked(blind: Blind, record: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger record (a dict) with blind metric values replaced by MASK while blind."""
    data = record.get("data") or {}
    metrics = data.get("metrics")
    if not blind.active or not isinstance(metrics, Mapping) or \
            not any(k in metrics for k in blind.metrics):
        return dict(record)
    shown = {**shown_metrics(blind, metrics), **{k: MASK for k in metrics if k in blind.metrics}}
    return {**record, "data": {**data, "metrics": shown}}


def interim(blind: Blind, records: Mapping[str, Record]) -> dict[str, Any] | None:
    """While blind: the shown metric's mean per role over the finished registered runs."""
    if not blind.active or blind.shown is None:
        return None
    by_role: dict[str, list[float]] = {}
    for r in records.values():
        value = (r.data.get("metrics") or {}).get(blind.shown)
        if r.ok and isinstance(value, (int, float)):
            by_role.setdefault(r.data.get("role", "?"), []).append(float(value))
    return {"metric": blind.shown,
            "by_role": {role: {"n": len(v), "mean": sum(v) / len(v)}
                        for role, v in sorted(by_role.items())}}


def check_decidable(blind: Blind, where: str) -> None:
    """Refuse to show test numbers (decide) while registered runs are missing."""
    if not blind.active:
        return
    instead = (f"; `exante status` shows {blind.shown} meanwhile" if blind.shown else "")
    raise RefusedError(f"{where}: {', '.join(blind.metrics)} is registered on the test split and "
                       f"stays blind until the registered sweep is complete ({blind.done} of "
                       f"{blind.planned} runs finished): run the rest with `exante run`{instead}")


def unblinding(plan: Plan, blind: Blind, history: History) -> dict[str, Any] | None:
    """The TEST_UNBLINDED record to append at this decide (None: none due, or done before)."""
    if not blind.metrics or history.first(Event.TEST_UNBLINDED) is not None:
        return None
    return {"metrics": list(blind.metrics), "runs": blind.done, "planned": blind.planned,
            "killed": blind.killed, "by": "exante decide", "plan_sha256": history.sealed_hash}


def unblinded(history: History) -> dict[str, Any] | None:
    """When test numbers were first shown: the first TEST_UNBLINDED record (seq, ts, data)."""
    first = history.first(Event.TEST_UNBLINDED)
    return None if first is None else {"seq": first.seq, "ts": first.ts, **first.data}
