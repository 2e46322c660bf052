"""The bets part of SUMMARY.md / SUMMARY.json: every run of every bet exante judged.

One row per bet: the verdict exante computed from the ledger, every recorded
run (the first outcome stays, a rerun after an amendment is DEVIATED), how the
noise-floor controls behaved, and the bet's "what we do not claim" scope.
`bet_folders` names each folder of judged bets, whose own SUMMARY.* the
rollup regenerates too (seed 001's experiments/bets/SUMMARY.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..report import fmt
from ..report.doc import Bullets, Para, Section, Table, badge
from .catalogue import Catalogue, Entry


def judged(cat: Catalogue) -> list[Entry]:
    return [e for e in cat.entries if e.kind == "bet" and e.bet]


def bet_folders(cat: Catalogue) -> list[Path]:
    """The folders (other than the root) that hold bets exante judged."""
    folders = {(cat.root / e.plan_file).parent.resolve() for e in judged(cat)}
    return sorted(f for f in folders if f != cat.root.resolve())


def _runs_text(e: Entry) -> str:
    parts = []
    for r in e.bet["runs"]:
        sha = str(r.get("plan_sha256") or "")[:8]
        parts.append(f"{r['run_id']} ({sha}, {r.get('via') or '?'}): {r.get('verdict') or r['status']}")
    return "; ".join(parts) or "not run"


def _first_text(e: Entry) -> str:
    first = e.bet.get("first_outcome")
    if not first:
        return fmt.DASH
    if e.deviated:
        return f"{first.get('verdict') or first['status']} (before the amendment)"
    return first.get("verdict") or first["status"]


def _controls_text(e: Entry) -> str:
    controls = (e.bet.get("criteria") or {}).get("controls") or []
    if not controls:
        return fmt.DASH
    last = next((r for r in reversed(e.bet["runs"]) if r.get("controls") is not None), None)
    states = (last or {}).get("controls") or {}
    words = {True: "failed as registered", False: "PASSED (noise floor not cleared)",
             None: "not judged"}
    return "; ".join(f"{c['name']}: {words[states.get(c['name'])]}" for c in controls)


def _scope_text(e: Entry) -> str:
    return "; ".join(e.bet.get("not_claimed") or []) or fmt.DASH


def _verdict_cell(e: Entry) -> list:
    cell: list = [badge(e.display_verdict)]
    cell += [f" by {r['id']}" for r in e.retracted_by]
    cell += [f"; retracts {r['resolved']}" for r in e.retracts if r.get("resolved")]
    return cell


def bets_section(cat: Catalogue) -> Section | None:
    """The per-bet table, or None when no bet is judged by exante."""
    entries = judged(cat)
    if not entries:
        return None
    rows = [[e.id, _verdict_cell(e), _first_text(e), _runs_text(e), _controls_text(e),
             _scope_text(e)] for e in entries]
    notes = [Para("Verdicts computed by exante from the payloads recorded in each bet's ledger "
                  "under the criteria its lock read from the module, never from what a results "
                  "file says. Every run is listed; a rerun after an amendment is DEVIATED and "
                  "the first outcome stays.")]
    deviated = [f"{e.id}: rerun after an amendment; first outcome {_first_text(e)}"
                for e in entries if e.deviated]
    body: list[Any] = [*notes, Table(["Bet", "Verdict", "First outcome", "Runs",
                                      "Noise floor", "What we do not claim"], rows)]
    if deviated:
        body.append(Bullets(deviated))
    return Section("Bets", body)


def bets_json(cat: Catalogue) -> list[dict[str, Any]]:
    return [{"id": e.id, "verdict": e.display_verdict, "deviated": e.deviated,
             "first_outcome": e.bet.get("first_outcome"), "runs": e.bet["runs"],
             "not_claimed": e.bet.get("not_claimed") or [],
             "retracts": [r["id"] for r in e.retracts if r.get("resolved")],
             "retracted_by": [r["id"] for r in e.retracted_by]} for e in judged(cat)]
