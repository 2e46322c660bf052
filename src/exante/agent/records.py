"""The machine-readable record of every verb: what ``exante VERB --json`` prints and what the
MCP tool of the same name returns, built in one place so the two never drift apart.

Every record is a JSON object whose first key is ``"schema": "exante.<verb>/1"``; the JSON
Schema of each lives in ``exante/agent/schemas/<verb>.json`` and docs/json-schemas.md explains
the fields. A version number changes only when a field is removed or changes meaning; new
fields may appear in a version. Non-finite floats are written as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (as in the ledger), so every record is strict JSON.

These functions do the verb's work (through the library) and return the record; they never
print or exit. Errors are `ExanteError`s with the CLI's exit codes (2 input, 1 refusal).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

VERSION = 1


def envelope(verb: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` under the envelope: ``{"schema": "exante.<verb>/1", ...data}``, strict-JSON values."""
    body = {k: v for k, v in data.items() if k != "schema"}
    return jsonable({"schema": f"exante.{verb}/{VERSION}", **body})


def jsonable(obj: Any) -> Any:
    """Plain JSON values: paths and other objects as strings, non-finite floats as strings."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalars and arrays
        return jsonable(obj.tolist())
    return str(obj)


def dumps(record: dict[str, Any]) -> str:
    """The text `--json` prints: the record as indented strict JSON, key order kept."""
    return json.dumps(record, indent=2, allow_nan=False, ensure_ascii=False)


def schema_names() -> list[str]:
    """The verbs that have a documented JSON Schema."""
    folder = resources.files("exante.agent").joinpath("schemas")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_schema(verb: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `verb`'s record, with ``{"$ref": "other.json"}``
    replaced by that schema, so it validates on its own (MCP clients resolve no references)."""
    text = resources.files("exante.agent").joinpath("schemas", f"{verb}.json").read_text("utf-8")
    return _inline(json.loads(text))


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.endswith(".json") and "/" not in ref:
            inner = load_schema(ref[:-5])
            return {k: v for k, v in inner.items() if k not in ("$schema", "$id")}
        return {k: _inline(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v) for v in node]
    return node


# ---------------------------------------------------------------- sealing


def init(name: str, template: str, root: Path) -> dict[str, Any]:
    from ..templates import write_template

    path = write_template(name, template, root)
    return envelope("init", {"experiment_id": name, "template": template, "path": str(path),
                             "sealed": False,
                             "next": f"edit the plan (and write its trial), then: exante lock {path}"})


def lock(path: Path) -> dict[str, Any]:
    from .. import registration

    digest, data = registration.lock(path)
    already = bool(data.get("already"))
    return envelope("lock", {"path": str(path), "plan_sha256": digest, "already_locked": already,
                             "experiment_id": data.get("experiment_id"),
                             "fingerprints": data.get("fingerprints", {}),
                             "design_check": data.get("design_check"),
                             "warnings": data.get("warnings", [])})


def verify(path: Path) -> dict[str, Any]:
    from .. import registration, seal
    from ..paths import ledger_path

    from ..history import History

    digest = seal.verify(path)
    checked = ["seal"]
    history = History.read(ledger_path(path)) if ledger_path(path).exists() else None
    if history is not None and history.sealed_hash:
        registration.verify_all(path, history)
        checked += ["lock_record", "code_fingerprints", "data_fingerprints"]
    return envelope("verify", {"path": str(path), "ok": True, "plan_sha256": digest,
                               "checked": checked})


def amend(path: Path, reason: str, seen: str) -> dict[str, Any]:
    from .. import registration

    data = registration.amend(path, reason=reason, seen=seen)
    keys = ("parent_sha256", "plan_sha256", "reason", "seen", "after_runs", "after_kill",
            "changed_files", "text_changed")
    return envelope("amend", {"path": str(path), **{k: data.get(k) for k in keys},
                              "deviation": bool(data.get("after_runs"))})


# ---------------------------------------------------------------- running


def sweep(report: Any, path: Path) -> dict[str, Any]:
    """The record of one `run` call (a runner.SweepReport)."""
    return envelope("run", {"path": str(path), "planned": report.planned,
                            "skipped": report.skipped, "ran": report.ran, "ok": report.ok,
                            "failed": report.failed, "killed": report.killed,
                            "stage2": report.stage2, "reused_baseline": report.reused_baseline,
                            "interrupted": report.interrupted, "remaining": report.remaining,
                            "stopped": report.stopped,
                            "messages": list(report.messages)})


def bet(path: Path, outcome: Any, run_id: str | None, *,
        error: str | None = None) -> dict[str, Any]:
    """The record of `exante run NN_name.py` (a bets.BetOutcome after the call).

    ran: the run this call recorded (None: the bet raised before recording one)."""
    from ..bets import results_path
    from ..experiment import open_experiment

    module = Path(path).resolve()
    results = results_path(module)
    ran = next((r for r in reversed(outcome.runs) if r.run_id == run_id), None)
    return envelope("bet", {"path": str(path), "bet": module.stem,
                            "ledger": str(open_experiment(module).ledger.path),
                            "results_path": str(results) if results.is_file() else None,
                            "ran": ran.to_dict() if ran else None, **outcome.to_dict(),
                            "error": error})


def pilot(report: Any, path: Path, seeds: list[int]) -> dict[str, Any]:
    """The record of one `pilot` call (a pilot_run.PilotReport)."""
    return envelope("pilot", {"path": str(path), "metric": report.metric, "seeds": list(seeds),
                              "cells": list(report.cells), "planned": report.planned,
                              "skipped": report.skipped, "ok": report.ok,
                              "failed": report.failed, "sigma": report.sigma})


def sweep_state(path: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Is a sweep running on this experiment now? The last SWEEP_STARTED without a
    SWEEP_FINISHED after it, whose process is still alive."""
    from ..events import Event
    from ..executors.gpus import process_alive
    from ..history import History

    pid = None
    for record in records if isinstance(records, History) else History(records):
        if record.event == Event.SWEEP_STARTED:
            pid = record.data.get("pid")
        elif record.event in (Event.SWEEP_FINISHED, Event.SWEEP_INTERRUPTED):
            pid = None
    running = pid is not None and process_alive(int(pid))
    return {"running": running, "pid": pid if running else None}


def status(path: Path) -> dict[str, Any]:
    from ..experiment import open_experiment
    from ..status import status as run_status

    exp = open_experiment(path)  # plan and ledger read once
    data = run_status(path, experiment=exp)
    return envelope("status", {**data, "sweep": sweep_state(path, exp.history)})


def decide(path: Path, *, interim: bool = False) -> dict[str, Any]:
    from ..decide import decide as decide_
    from ..paths import experiment_dir

    result = decide_(path, interim=interim)
    return envelope("decide", {"experiment_id": result["experiment_id"],
                               "verdict": result["verdict"], "tier": result.get("tier"),
                               "result_path": str(experiment_dir(path) / "result.json"),
                               "result": result})


def log(path: Path) -> dict[str, Any]:
    """Every ledger record; a test-split metric's values masked while it is blind."""
    from .. import blinding
    from .. import ledger as L
    from ..paths import ledger_path

    records = L.Ledger(ledger_path(path)).records()  # verifies the chain or raises
    blind = _blind_state(path, records)
    shown = [blinding.masked(blind, r) for r in records] if blind is not None else records
    extra = {"blind": blind.to_dict()} if blind is not None and blind.active else {}
    return envelope("log", {"path": str(ledger_path(path)), "chain_ok": True,
                            "count": len(records),
                            "head": records[-1]["hash"] if records else L.GENESIS,
                            "records": shown, **extra})


def _blind_state(path: Path, records: list[dict[str, Any]]):
    """The plan's blind state (None without test-split metrics or for a bet module)."""
    from .. import blinding

    return blinding.of_records(path, records)


# ---------------------------------------------------------------- the record


def report(plan: Path, *, paper: bool = False, pdf: bool = True, deck: bool = False,
           research_note: Path | None = None) -> dict[str, Any]:
    from ..report import load_inputs, render_deck, render_paper, render_report, write_sigma_note

    path, plan = plan, load_inputs(plan)  # plan, ledger and result read once for every output
    written = {"report": [str(p) for p in render_report(plan)]}
    note = write_sigma_note(plan, research_note)
    if note is not None:
        written["research_note"] = [str(note)]
    if paper:
        html_path, pdf_path = render_paper(plan, pdf=pdf)
        written["paper"] = [str(p) for p in (html_path, pdf_path) if p is not None]
    if deck:
        written["deck"] = [str(render_deck(plan))]
    return envelope("report", {"path": str(path), "written": written})


def postmortem(experiment_id: str, root: Path) -> dict[str, Any]:
    from ..registry import MARKER, write_postmortem

    path = write_postmortem(experiment_id, root)
    return envelope("postmortem", {"experiment_id": experiment_id, "path": str(path),
                                   "marker": MARKER})


def rollup(root: Path) -> tuple[dict[str, Any], Any]:
    """The rollup record and the catalogue it was built from (the CLI prints from both)."""
    from ..registry import build_catalogue
    from ..registry import rollup as do_rollup

    cat = build_catalogue(root)
    paths = do_rollup(root, catalogue=cat)
    return envelope("rollup", {"root": str(root), "written": [str(p) for p in paths],
                               "experiments": len(cat.entries), "counts": cat.counts(),
                               "killed_without_postmortem":
                                   [e.id for e in cat.killed_without_postmortem]}), cat


def audit(root: Path, strict: bool = False) -> tuple[dict[str, Any], list[Any]]:
    """The audit record and its rows (the CLI prints the table from the rows)."""
    from ..registry import audit as do_audit
    from ..registry import audit_failed

    rows = do_audit(root)
    failed = audit_failed(rows, strict=strict)
    return envelope("audit", {"root": str(root), "ok": not failed, "strict": strict,
                              "failures": sum(r.status == "FAIL" for r in rows),
                              "warnings": sum(r.status == "warn" for r in rows),
                              "rows": [r.to_dict() for r in rows]}), rows
