"""A bet's outcome, computed from its ledger: every run, the tier exante gives it, the first one.

The criteria are the ones the lock in force recorded (read from the module
with the AST at lock, see `families.bet`), and each run's tier is computed
here from the payload the ledger recorded, never from what a results file
says. Runs under an earlier lock stay in `runs` (the first outcome stays on
the record); the verdict rests on the runs under the lock in force, and is
DEVIATED when that lock is an amendment made after runs had started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..events import Event
from ..families import bet as family
from ..history import History, Record
from ..verdicts import Verdict

REGISTERED, NO_RESULT = "REGISTERED", "NO RESULT"


@dataclass(frozen=True)
class RunOutcome:
    """One recorded invocation of a bet and the tier exante computes from its payload."""

    run_id: str
    seq: int
    plan_sha256: str | None
    status: str  # ok | failed | started (no terminal record: interrupted or still running)
    verdict: str | None = None
    reasons: tuple[str, ...] = ()
    controls: dict[str, bool | None] | None = None
    values: dict[str, bool | None] | None = None  # each registered tier's value
    payload: dict[str, Any] | None = None
    via: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "seq": self.seq, "plan_sha256": self.plan_sha256,
                "status": self.status, "verdict": self.verdict, "reasons": list(self.reasons),
                "controls": self.controls, "values": self.values, "via": self.via, "error": self.error}


@dataclass(frozen=True)
class BetOutcome:
    """What the ledger says about a bet: its criteria, every run, and the verdict in force."""

    criteria: family.BetCriteria | None
    runs: tuple[RunOutcome, ...]
    current: tuple[RunOutcome, ...]  # the runs under the lock in force
    verdict: str
    reasons: tuple[str, ...]
    deviated: bool

    @property
    def judged(self) -> bool:
        return self.criteria is not None

    @property
    def decided(self) -> bool:
        return self.verdict not in (REGISTERED, NO_RESULT)

    @property
    def first(self) -> RunOutcome | None:
        return next((r for r in self.runs if r.status != "started"), None)

    @property
    def earlier(self) -> tuple[RunOutcome, ...]:
        """Runs recorded under an earlier lock (superseded, never erased)."""
        return tuple(r for r in self.runs if r not in self.current)

    def to_dict(self) -> dict[str, Any]:
        c = self.criteria
        return {"verdict": self.verdict, "reasons": list(self.reasons), "deviated": self.deviated,
                "repeats": c.repeats if c else None, "criteria": c.to_dict() if c else None,
                "runs": [r.to_dict() for r in self.runs],
                "first_outcome": self.first.to_dict() if self.first else None}


def criteria_in_force(history: History) -> family.BetCriteria | None:
    """The criteria the lock in force recorded (None: the module registered no CRITERIA)."""
    lock = history.lock()
    data = lock.data.get("bet") if lock is not None else None
    return family.BetCriteria.from_dict(data, str(history.path or "")) if data else None


def _criteria_for(history: History, digest: str | None) -> family.BetCriteria | None:
    lock = next((r for r in reversed(history.locks()) if r.data.get("plan_sha256") == digest),
                None)
    data = lock.data.get("bet") if lock is not None else None
    return family.BetCriteria.from_dict(data) if data else None


def judge_record(history: History, record: Record) -> RunOutcome:
    """The outcome of one terminal record, judged under the criteria its plan hash locked."""
    d = record.data
    base = dict(run_id=d["run_id"], seq=record.seq, plan_sha256=d.get("plan_sha256"),
                via=d.get("via", ""))
    if record.event == Event.RUN_FAILED:
        return RunOutcome(status="failed", error=f"{d.get('error_kind')}: {d.get('error')}",
                          **base)
    criteria = _criteria_for(history, d.get("plan_sha256"))
    payload = d.get("payload")
    if criteria is None:
        return RunOutcome(status="ok", payload=payload, **base)
    j = family.judge(criteria, payload or {})
    return RunOutcome(status="ok", verdict=j.verdict, reasons=tuple(j.reasons),
                      controls=j.controls, values=j.values, payload=payload, **base)


def runs(history: History) -> tuple[RunOutcome, ...]:
    """Every invocation in ledger order: its terminal record judged, or `started` without one."""
    terminal = history.terminal()
    out = []
    for started in history.of(Event.RUN_STARTED):
        run_id = started.data.get("run_id")
        if run_id in terminal:
            out.append(judge_record(history, terminal[run_id]))
        else:
            out.append(RunOutcome(run_id, started.seq, started.data.get("plan_sha256"),
                                  "started", via=started.data.get("via", "")))
    return tuple(out)


def outcome(history: History) -> BetOutcome:
    """The bet's outcome from its ledger alone."""
    criteria = criteria_in_force(history)
    everything = runs(history)
    lock = history.lock()
    current = tuple(r for r in everything if lock is not None and r.seq > lock.seq)
    verdict, reasons = _verdict(criteria, current)
    return BetOutcome(criteria, everything, current, verdict, reasons, history.deviated)


def _verdict(criteria: family.BetCriteria | None, current: tuple[RunOutcome, ...]
             ) -> tuple[str, tuple[str, ...]]:
    if not current:
        return REGISTERED, ("locked, not run",)
    repeats = criteria.repeats if criteria else 1
    done = [r for r in current if r.status != "started"]
    if len(done) < repeats:
        return NO_RESULT, (f"{len(done)} of {repeats} registered run(s) finished",)
    failed = [r for r in done if r.status == "failed"]
    if failed:
        return Verdict.INCONCLUSIVE, tuple(f"run {r.run_id} failed ({r.error})" for r in failed)
    if criteria is None:
        return NO_RESULT, ("no CRITERIA block was registered; exante cannot judge it",)
    verdicts = [r.verdict for r in done[:repeats]]
    reasons = tuple(f"{r.run_id}: {r.verdict}; " + "; ".join(r.reasons) for r in done[:repeats])
    return family.combine(verdicts), reasons
