"""Bets (seed 001) in the catalogue and the audit.

A bet whose lock recorded a CRITERIA block is judged by exante: its verdict is
computed from the payloads its ledger recorded (`exante.bets.outcome`), never
taken from results/NN_*.json; every run stays listed, the first outcome too,
and a rerun after an amendment is DEVIATED. A bet without one (written before
exante judged bets) still shows the verdict its results file states, and the
audit checks that file's verdict against its own flags and plan hash.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .. import seal
from ..bets.outcome import BetOutcome, outcome
from ..bets.record import results_path
from ..errors import ExanteError, InputError
from ..families import bet as family
from ..history import History, as_history
from .catalogue import Catalogue, Entry, _finish, _rel
from .discover import BET_RE, Found, module_docstring
from ..verdicts import Verdict

_TIER_RE = re.compile(r"^\s*(strict|lenient|catastrophic)\s*:\s*(.+)$", re.IGNORECASE | re.M)
_RETRACT_RE = re.compile(r"^\s*retracts?\s*:\s*(\S+?)[,:]?\s*(?:[—:-]\s*)?(.*)$",
                         re.IGNORECASE | re.M)
JUDGED = "ledger (runs judged by exante)"


def bet_hypothesis(doc: str) -> str:
    m = re.search(r"^\s*hypothesis\s*:\s*(.+?)(?:\n\s*\n|\Z)", doc, re.IGNORECASE | re.M | re.S)
    if m:
        return " ".join(m.group(1).split())
    return " ".join(doc.strip().split("\n\n")[0].split())


def bet_verdict(payload: dict[str, Any]) -> str | None:
    """STRICT / LENIENT / CATASTROPHIC / FAIL as a bet's own result JSON states it."""
    for key in ("verdict", "tier", "outcome"):
        if isinstance(payload.get(key), str):
            return payload[key].upper()
    return flags_verdict(payload)


def flags_verdict(payload: dict[str, Any]) -> str | None:
    """The tier the result JSON's boolean flags imply (None: it has none)."""
    flags = {k.lower(): v for k, v in payload.items() if isinstance(v, bool)}

    def hit(word: str) -> bool | None:
        vals = [v for k, v in flags.items() if word in k]
        return any(vals) if vals else None
    if hit("catastrophic"):
        return Verdict.CATASTROPHIC
    if hit("strict"):
        return Verdict.STRICT
    if hit("lenient"):
        return Verdict.LENIENT
    if hit("strict") is False or hit("lenient") is False:
        return Verdict.FAIL
    return None


def bet_entry(found: Found, root: Path, cat: Catalogue, full: bool) -> Entry:
    module = found.path
    doc = module_docstring(module)
    entry = Entry(id=module.stem, kind="bet", folder=_rel(found.folder, root),
                  plan_file=_rel(module, root), hypothesis=bet_hypothesis(doc))
    entry.rules = [f"{m.group(1).lower()}: {m.group(2).strip()}" for m in _TIER_RE.finditer(doc)]
    entry.retracts = [{"id": m.group(1), "reason": m.group(2).strip() or "(no reason given)"}
                      for m in _RETRACT_RE.finditer(doc)]
    try:
        entry.plan_text = seal.read_text(module)
        entry.plan_sha256 = seal.inspect(module).stored
    except (ExanteError, InputError) as exc:
        entry.problems.append(f"bet module: {exc}")
    _finish(entry, found.folder, cat, full)
    result = outcome(cat.reads[entry.folder])
    if result.judged:
        _apply_outcome(entry, result)
    else:
        _apply_results_file(entry, module, root)
    return entry


def _apply_results_file(entry: Entry, module: Path, root: Path) -> None:
    found = _bet_result(module)
    if found is not None:
        path, payload = found
        verdict = bet_verdict(payload) if isinstance(payload, dict) else None
        if verdict:
            entry.verdict, entry.verdict_source = verdict, _rel(path, root)


def _apply_outcome(entry: Entry, result: BetOutcome) -> None:
    c = result.criteria
    entry.verdict, entry.tier = result.verdict, None
    entry.verdict_source, entry.verdict_reasons = JUDGED, list(result.reasons)
    entry.rules = [f"{t}: `{c.tiers[t]}` (reads {', '.join(c.reads[t])})" for t in c.tiers]
    declared = {r["id"] for r in c.retracts}  # CRITERIA first, then "Retracts:" docstring lines
    entry.retracts = [dict(r) for r in c.retracts] + [r for r in entry.retracts
                                                      if r["id"] not in declared]
    entry.traps = _controls_summary(result)
    entry.bet = {"judged_by": "exante", **result.to_dict(),
                 "not_claimed": list(c.not_claimed)}


def _controls_summary(result: BetOutcome) -> dict[str, Any] | None:
    """The noise-floor controls in the catalogue's trap form, from the runs under the lock."""
    names = [ctl.name for ctl in result.criteria.controls]
    if not names:
        return None
    seen: dict[str, bool | None] = {n: None for n in names}
    for run in result.current:
        for n, ok in (run.controls or {}).items():
            seen[n] = ok if seen.get(n) is None else (seen[n] and ok)
    return {"total": len(names), "judged": len(names),
            "behaved": sum(v is True for v in seen.values()),
            "misbehaved": [n for n, v in seen.items() if v is False],
            "undecided": [n for n, v in seen.items() if v is None]}


def _bet_result(module: Path) -> tuple[Path, Any] | None:
    number = BET_RE.match(module.name).group(1)
    folder = module.parent / "results"
    candidates = [results_path(module)] + sorted(folder.glob(f"{number}_*.json"))
    for path in candidates:
        if path.is_file():
            try:
                return path, json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return path, None
    return None


# ---------------------------------------------------------------- the audit's view


def results_findings(module: Path, records: list[dict[str, Any]]) -> tuple[str, str]:
    """(status, detail) of results/NN_*.json against the ledger: ok, FAIL, warn or skip."""
    found = _bet_result(module)
    if found is None:
        return "skip", "no results file yet"
    path, payload = found
    if not isinstance(payload, dict):
        return "FAIL", f"{path.name} is not a JSON object"
    history = as_history(records)
    if family.has_criteria(module) or history.lock() and history.lock().data.get("bet"):
        return _judged_findings(path, payload, history)
    return _legacy_findings(path, payload, history)


def _judged_findings(path: Path, payload: dict, history: History) -> tuple[str, str]:
    from ..bets.outcome import judge_record

    run_id = payload.get("run_id")
    record = history.terminal().get(run_id) if isinstance(run_id, str) else None
    if record is None or not record.ok:
        return "FAIL", (f"{path.name} names run {run_id!r}, which has no RUN_OK record in the "
                        "ledger; the results file was not written by a recorded run")
    if payload.get("plan_sha256") not in history.lock_hashes():
        return "FAIL", f"{path.name}'s plan_sha256 was never locked in this ledger"
    judged = judge_record(history, record)
    problems = _disagreements(path, payload, judged, record.data.get("payload"))
    if problems:
        return "FAIL", "; ".join(problems)
    state = "warn" if outcome(history).deviated else "ok"
    extra = " (DEVIATED: rerun after an amendment)" if state == "warn" else ""
    return state, (f"{path.name} agrees with the recorded payload of {run_id}: {judged.verdict} "
                   f"under {str(record.data.get('plan_sha256'))[:12]}…{extra}")


def _disagreements(path: Path, payload: dict, judged, recorded: Any) -> list[str]:
    out = []
    if payload.get("verdict") != judged.verdict:
        out.append(f"{path.name} says {payload.get('verdict')!r} but exante judges the payload "
                   f"recorded for {judged.run_id} as {judged.verdict}")
    for tier, value in (judged.values or {}).items():
        if tier in payload and payload[tier] != bool(value):
            out.append(f"{path.name} says {tier}: {payload[tier]!r}, the recorded payload gives "
                       f"{bool(value)}")
    if "payload" in payload and payload["payload"] != recorded:
        out.append(f"{path.name}'s payload differs from the one recorded for {judged.run_id}")
    return out


def _legacy_findings(path: Path, payload: dict, history: History) -> tuple[str, str]:
    stated, implied = payload.get("verdict"), flags_verdict(payload)
    if isinstance(stated, str) and implied and stated.upper() != implied:
        return "FAIL", (f"{path.name} says verdict {stated!r} but its own flags give {implied}; "
                        "the results file was edited or the bet judged itself inconsistently")
    digest = payload.get("plan_sha256")
    if digest is None:
        return "skip", (f"{path.name} names no plan hash and the bet registers no CRITERIA, so "
                        "exante did not judge it; git-order checks it")
    if digest not in history.lock_hashes():
        return "FAIL", f"{path.name}'s plan_sha256 {str(digest)[:12]}… was never locked here"
    return "ok", (f"{path.name} names plan {str(digest)[:12]}…, locked in this ledger (its verdict "
                  "is the bet's own: no CRITERIA block)")
