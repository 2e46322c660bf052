"""Where a plan's runs stand: planned, completed, failed, pending, killed (`exante status`).

Read from the experiment's history alone; nothing here imports the runner or
an executor, so `decide` and the report can count runs without loading them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from .design import VARIANCE, expand
from .events import Event
from .history import History, Record
from .spec import Plan


def registered_keys(plan: Plan, history: History) -> list:
    """The runs the plan registers as of this history: stage 2 once its STAGE record decided
    it, and no baseline-variance runs when a stored baseline was reused."""
    keys = expand(plan, include_stage2=history.stage2_decided())
    if plan.seed_protocol and history.reused_baseline() is not None:
        keys = [k for k in keys if k.stage != VARIANCE]
    return keys


def status(path: Path, *, plan: Plan | None = None,
           records: History | Iterable[Record | Mapping[str, Any]] | None = None,
           experiment=None) -> dict[str, Any]:
    """Counts for `exante status`: planned, completed, failed, pending, killed, and more.

    Pass `experiment` (or `plan` and `records`) when already read, to skip reading them again.
    """
    from . import registration
    from .experiment import open_experiment

    if experiment is None:
        history = records if isinstance(records, History) else \
            (History(records) if records is not None else None)
        experiment = open_experiment(path, history=history, plan=plan)
    plan, history = experiment.plan, experiment.history
    if plan is None:
        return _bet_status(experiment)
    results = history.terminal()
    stage2 = history.stage2_decided()
    # a plan without a trial (a retrospective analysis of imported runs) still registers runs
    runnable = plan.trial is not None or plan.design.factors or plan.design.arms
    keys = registered_keys(plan, history) if runnable else []
    reused = history.reused_baseline() if plan.seed_protocol else None
    ids = {k.run_id for k in keys}
    done = [results[i] for i in ids if i in results]
    completed = sum(r.event == Event.RUN_OK for r in done)
    failed = sum(r.event == Event.RUN_FAILED for r in done)
    current = registration.state(experiment.plan_path, history)
    by_role: dict[str, dict[str, int]] = {}
    for key in keys:
        slot = by_role.setdefault(key.role, {"planned": 0, "completed": 0, "failed": 0})
        slot["planned"] += 1
        if key.run_id in results:
            slot["completed" if results[key.run_id].ok else "failed"] += 1
    out = {"experiment_id": plan.experiment_id, "planned": len(keys), "completed": completed,
           "failed": failed, "pending": len(keys) - completed - failed,
           "killed": current.killed is not None, "kill": current.killed,
           "deviated": current.deviated, "amendments": len(current.amendments),
           "sealed": current.sealed_hash, "by_role": by_role, "stage2": stage2,
           "reused_baseline": reused.get("source") if reused else None,
           "pilots": len(history.pilots())}  # PILOT records: never counted as runs above
    _blind(plan, out, {i: results[i] for i in ids if i in results})
    return out


def _blind(plan: Plan, out: dict[str, Any], done: dict[str, Record]) -> None:
    """A test-split primary stays blind: say so, and show the validation metric instead."""
    from . import blinding

    if not plan.blind_metrics():
        return
    blind = blinding.state(plan, out)
    out["blind"] = blind.to_dict()
    out["interim"] = blinding.interim(blind, done)


def _bet_status(experiment) -> dict[str, Any]:
    """A bet module: the registered runs (CRITERIA repeats) under the lock in force."""
    from . import registration

    history = experiment.history
    current = registration.state(experiment.plan_path, history)
    lock = history.lock()
    planned = int(((lock.data.get("bet") or {}).get("repeats") or 1) if lock else 1)
    since = lock.seq if lock else -1
    done = [r for r in history.terminal().values() if r.seq > since]
    completed = sum(r.ok for r in done)
    failed = len(done) - completed
    counts = {"planned": planned, "completed": completed, "failed": failed}
    return {"experiment_id": experiment.plan_path.stem, **counts,
            "pending": max(planned - len(done), 0), "killed": False, "kill": None,
            "deviated": current.deviated, "amendments": len(current.amendments),
            "sealed": current.sealed_hash, "by_role": {"bet": counts}, "stage2": False,
            "reused_baseline": None}
