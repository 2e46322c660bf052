"""The names of ledger events: one `Event` enum, the only spelling of each.

`Event` is a `StrEnum`, so an event compares equal to (and serialises as) its
upper-snake string: ``Event.RUN_OK == "RUN_OK"`` and the ledger's bytes are
unchanged. A new event is one new member here.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    """Every event the ledger records."""

    LOCKED = "LOCKED"  # a plan sealed; data: plan_sha256, fingerprints, experiment_id
    AMENDED = "AMENDED"  # re-sealed after a change; data: parent_sha256, reason, seen, after_runs
    DESIGN_CHECK = "DESIGN_CHECK"  # power / gates computed at lock
    RUN_STARTED = "RUN_STARTED"
    RUN_OK = "RUN_OK"
    RUN_FAILED = "RUN_FAILED"
    KILLED = "KILLED"  # a kill rule fired; no_escalation refuses a re-run under this hash
    STAGE = "STAGE"  # a stage decision (seed 003 stage 2, a refused baseline reuse)
    DECIDED = "DECIDED"  # `exante decide` wrote result.json
    SWEEP_STARTED = "SWEEP_STARTED"
    SWEEP_FINISHED = "SWEEP_FINISHED"
    SWEEP_INTERRUPTED = "SWEEP_INTERRUPTED"  # the runner got SIGINT/SIGTERM; data: signal, counts
    BASELINE_REUSED = "BASELINE_REUSED"  # seed 003: a stored baseline measurement adopted
    PILOT = "PILOT"  # a pilot measurement (observed σ) recorded before the lock
    ANCHOR = "ANCHOR"  # the registry's anchor log only (anchors.py): an experiment ledger's head
    IMPORTED = "IMPORTED"  # runs imported by `exante import` (interop): pilot or retrospective
    TEST_UNBLINDED = "TEST_UNBLINDED"  # test-split metrics first shown (the first decide after
    # the registered sweep completed); data: metrics, runs, planned, killed, plan_sha256


RUN_EVENTS = (Event.RUN_STARTED, Event.RUN_OK, Event.RUN_FAILED)
TERMINAL = (Event.RUN_OK, Event.RUN_FAILED)
LOCK_EVENTS = (Event.LOCKED, Event.AMENDED)


_BY_NAME: dict[str, Event] = {e.value: e for e in Event}


def as_event(name: str) -> Event | str:
    """The `Event` of a name; a name this version does not know stays a plain string."""
    return _BY_NAME.get(name, name) if isinstance(name, str) else name
