"""What the ledger says about imported runs: the RETROSPECTIVE label every output carries.

A run imported into a plan *after* its lock existed before the plan was
sealed (or at least nothing shows otherwise), so the analysis is
retrospective, not pre-registered. The label is derived from the ledger's
IMPORTED records, never from result.json alone: deleting it from a result
file is an audit finding, not a way out.
"""

from __future__ import annotations

from typing import Any, Iterable

IMPORTED = "IMPORTED"  # one record per `exante import`: source, its sha256, counts, mode
PILOT = "PILOT"  # a pilot run recorded before the lock (imported, or by `exante pilot`)
RETROSPECTIVE = "retrospective"
PILOT_MODE = "pilot"

LABEL = "RETROSPECTIVE"


def retrospective(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """{runs, sources, first_seq, message} when runs were imported after the lock, else None."""
    imports = [r for r in records if r.get("event") == IMPORTED
               and r["data"].get("mode") == RETROSPECTIVE]
    if not imports:
        return None
    runs = sum(int(r["data"].get("imported", 0)) for r in imports)
    sources = [{"source": r["data"].get("source"), "format": r["data"].get("format"),
                "sha256": r["data"].get("source_sha256"), "runs": r["data"].get("imported"),
                "seq": r["seq"], "ts": r["ts"]} for r in imports]
    return {"runs": runs, "sources": sources, "first_seq": imports[0]["seq"],
            "message": message(runs, [s["source"] for s in sources])}


def message(runs: int, sources: list[str]) -> str:
    names = ", ".join(str(s) for s in sources[:3]) + (f" and {len(sources) - 3} more"
                                                     if len(sources) > 3 else "")
    return (f"Not pre-registered: {runs} run(s) were imported from {names} after the "
            "plan was sealed; they existed before it, so the plan could have been written "
            "knowing them. Decided by the registered rules, but a retrospective analysis, "
            "not a test of a prediction.")


def pilots(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PILOT records' data, in ledger order."""
    return [r["data"] for r in records if r.get("event") == PILOT]
