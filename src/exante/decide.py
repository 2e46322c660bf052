"""From the ledger to a verdict, by the registered rules alone.

`analyse` reads a plan's ledger and computes every number the rules and the
report need; `verdict` applies the registered rule family; `decide` writes
result.json (plan hash, ledger head, verdict, every number used, caveats)
and records a DECIDED event. Nothing here runs a trial or prints.

Verdict families are plug-ins (`exante.families`): threshold (seed 000), tiers
(seed 001), sigma (seed 003), factorial (seed 002), one module each; the
plan's `decision.rule` names the family that decides.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import decide_checks as checks
from . import families, observed, registration
from .analysis import Analysis, _study_without, analyse
from .caveats import caveats_for
from .design import ARM, BASELINE
from .errors import InputError
from .events import Event
from .experiment import Experiment, open_experiment
from .fragile import sensitivity
from .history import RETROSPECTIVE_LABEL, History
from .paths import write_atomic
from .spec import Plan
from .verdicts import Verdict


SCHEMA = 1

__all__ = ["Analysis", "SCHEMA", "analyse", "decide", "verdict"]


# ---------------------------------------------------------------- verdicts


def verdict(plan: Plan, analysis: Analysis, killed: dict | None
            ) -> tuple[str, str | None, list[str]]:
    """(verdict, tier, reasons) by the registered rule family (see `exante.families`)."""
    if killed is not None:
        return Verdict.KILL, None, [f"kill rule {killed['rule']!r} fired: {killed['when']}"]
    verdict_, tier, reasons = families.get(plan.decision.rule).decide(plan, analysis)
    return verdict_, tier, list(reasons) + _paired_reasons(plan, analysis)


def _paired_reasons(plan: Plan, analysis: Analysis) -> list[str]:
    """Under a registered blocking, each arm's paired comparison, said in the reasons."""
    if not plan.analysis.model.paired or plan.decision.rule == "factorial":
        return []  # a factorial study's findings are its factor verdicts, not the cells
    out = []
    for comp in (c for c in analysis["comparisons"] if c["role"] == ARM and c.get("paired")):
        p = comp["paired"]
        if p.get("ci_low") is None:
            out.append(f"{comp['cell']}: paired by {p['by']} ({p['n_pairs']} pairs): too few "
                       "pairs or no spread for a paired interval")
            continue
        out.append(f"{comp['cell']}: paired by {p['by']} ({plan.analysis.model.type} model, "
                   f"{p['n_pairs']} pairs): Δ = {p['delta']:+.4g} [{p['ci_low']:+.4g}, "
                   f"{p['ci_high']:+.4g}], d_z = {p['d_z']:+.2f}, paired p = {p['p_value']:.3g}")
    return out[:6]


# ---------------------------------------------------------------- result.json


def decide(plan_path: Path, *, interim: bool = False) -> dict[str, Any]:
    """Compute the verdict, write result.json next to the ledger, record DECIDED. Returns it.

    With pending runs it refuses, unless `interim` asks for a result labelled INTERIM (never
    while a test-split primary is still blind).
    """
    if Path(plan_path).suffix == ".py":
        raise InputError(f"{plan_path}: a bet module is decided when it runs: `exante run` "
                         "records each run and, once the registered runs are done, its DECIDED "
                         "verdict (see `exante log` and `exante rollup`)")
    exp = open_experiment(plan_path)  # the one read of the ledger, verified
    _, plan, current = registration.verify_all(exp.plan_path, exp.history, plan=exp.plan)
    blind = checks.check_blind(exp)  # a blind test metric refuses even an interim look
    pending = checks.pending_runs(exp, current, interim)
    checks.refuse_unsealed_code(exp)
    analysis = analyse(exp)
    plan, history = analysis["plan"], exp.history
    verdict_, tier, reasons = verdict(plan, analysis, current.killed)
    head = history.head
    result = {
        "schema": SCHEMA, "experiment_id": plan.experiment_id,
        "plan_sha256": current.sealed_hash, "ledger_head": head,
        "hypothesis": plan.hypothesis, "hypotheses": dict(plan.hypotheses),
        "rule": plan.decision.rule, "verdict": verdict_, "tier": tier, "verdict_reasons": reasons,
        "primary": {"name": plan.primary.name, "direction": plan.primary.direction,
                    "unit": plan.primary.unit},
        "cells": analysis["cells"], "comparisons": analysis["comparisons"],
        "traps": analysis["traps"], "tau": analysis["tau"], "factorial": analysis["factorial"],
        "design_check": history.design_check(), "kill": current.killed,
        "amendments": [_amendment(a) for a in current.amendments], "deviated": current.deviated,
        "flow": _flow(exp, analysis), "wall_clock": _wall_clock(analysis["cells"]),
        "reused_baseline": ({"source": analysis["reused"].get("source"),
                             "store": analysis["reused"].get("store")}
                            if analysis["reused"] else None),
        "retracts": list(plan.retracts), "ladder": dict(plan.ladder),
        "untrained": analysis.untrained,
    }
    result["design_check_observed"] = observed.check(plan, analysis.cells, analysis.factorial,
                                                     result["design_check"])
    result["sensitivity"] = (None if current.killed else
                             sensitivity(plan, analysis, verdict_,
                                         lambda gone: _study_without(analysis, gone)))
    result["caveats"] = caveats_for(plan, analysis, result)
    _label_retrospective(result, history)
    result["unblinded"] = checks.unblind(exp, blind)
    checks.label_after_kill(result, history)
    if pending:
        checks.label_interim(result, pending)
    text = json.dumps(result, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(exp.result_path, text)  # a full disk leaves the old result.json, not half one
    exp.append(Event.DECIDED, {"verdict": result["verdict"], "tier": result["tier"],
                               "result_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                               "plan_sha256": current.sealed_hash, "ledger_head": head,
                               "caveats": [c["code"] for c in result["caveats"]]})
    return result


def _label_retrospective(result: dict[str, Any], history: History) -> None:
    """Runs imported after the lock: `retrospective` and a first caveat say so."""
    info = history.retrospective()
    result["retrospective"] = info
    if info is not None:
        result["caveats"].insert(0, {"code": RETROSPECTIVE_LABEL, "message": info["message"]})


def _amendment(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("parent_sha256", "plan_sha256", "reason", "seen", "after_runs", "changed_files")
    return {k: a.get(k) for k in keys}


def _flow(exp: Experiment, analysis: Analysis) -> dict[str, Any]:
    from .status import status

    st = status(exp.plan_path, experiment=exp)
    reasons = []
    for cell in analysis["cells"]:
        for f in cell["failed"]:
            reasons.append(f"{cell['name']} seed {f['seed']}: {f['error_kind']}")
    analysed = sum(sum(v is not None for v in c["values"]) for c in analysis["cells"])
    reused = len(analysis["reused"]["runs"]) if analysis["reused"] else 0
    return {"planned": st["planned"] + reused, "run": st["completed"] + st["failed"],
            "ok": st["completed"], "failed": st["failed"], "reused": reused,
            "analysed": analysed, "not_run": st["pending"], "reasons": reasons}


def _wall_clock(cells: list[dict]) -> dict[str, Any] | None:
    base = next((c for c in cells if c["role"] == BASELINE), None)
    arms = [c for c in cells if c["role"] == ARM]
    if base is None or len(arms) != 1:
        return None
    def mean(xs):
        xs = [x for x in xs if isinstance(x, (int, float))]
        return float(np.mean(xs)) if xs else None
    b, e = mean(base["wall_s"]), mean(arms[0]["wall_s"])
    delta = None if not b or e is None else 100.0 * (e - b) / b
    return {"baseline_mean_s": b, "experiment_mean_s": e, "delta_pct": delta}


def _callable() -> None:  # `exante.decide(ID)` calls exante.api.decide (see exante.api)
    from .api import make_callable

    make_callable(__name__)


_callable()
