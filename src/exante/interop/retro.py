"""What the ledger says about imported runs: the RETROSPECTIVE label every output carries.

A run imported into a plan *after* its lock existed before the plan was
sealed (or at least nothing shows otherwise), so the analysis is
retrospective, not pre-registered. The label is derived from the ledger's
IMPORTED records, never from result.json alone: deleting it from a result
file is an audit finding, not a way out.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..events import Event
from ..history import RETROSPECTIVE, RETROSPECTIVE_LABEL, History, as_history  # noqa: F401

IMPORTED = Event.IMPORTED  # one record per `exante import`: source, its sha256, counts, mode
PILOT = Event.PILOT  # a pilot run recorded before the lock (imported, or by `exante pilot`)
PILOT_MODE = "pilot"

LABEL = RETROSPECTIVE_LABEL


def retrospective(records: "History | Iterable[Mapping[str, Any]]") -> dict[str, Any] | None:
    """{runs, sources, first_seq, message} when runs were imported after the lock, else None
    (`History.retrospective`)."""
    return as_history(records).retrospective()


def pilots(records: "History | Iterable[Mapping[str, Any]]") -> list[dict[str, Any]]:
    """The PILOT records' data, in ledger order."""
    return [r.data for r in as_history(records).pilots()]
