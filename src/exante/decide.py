"""From the ledger to a verdict, by the registered rules alone.

`analyse` reads a plan's ledger and computes every number the rules and the
report need; `verdict` applies the registered rule family; `decide` writes
result.json (plan hash, ledger head, verdict, every number used, caveats)
and records a DECIDED event. Nothing here runs a trial or prints.

Verdict families:
- threshold (seed 000): PASS only if the acceptance expression holds AND every
  trap behaved as registered AND tau is beaten by its margin; a misbehaving
  (or undecidable) trap makes it INCONCLUSIVE; a fired kill rule makes it KILL.
- tiers (seed 001): CATASTROPHIC, STRICT, LENIENT or FAIL, in that order.
- sigma (seed 003): WINNER / NEUTRAL (with its tier) / LOSER by the 2σ rule.
- factorial (seed 002): per factor EFFECT / NO_EFFECT (equivalent within the
  registered margin) / INCONCLUSIVE; the study verdict as for threshold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import ledger as L
from . import protocol, registration, rules, stats
from .caveats import caveats_for
from .design import ARM, BASELINE, TAU, TRAP, design_cells
from .errors import InputError
from .paths import experiment_dir, ledger_path
from .runner import terminal_records
from .scope import build_scope, cell_values, run_value
from .spec import Plan, load_plan

SCHEMA = 1


# ---------------------------------------------------------------- analysis


def _cells(plan: Plan, results: list[dict], reused: dict | None) -> list[dict[str, Any]]:
    """Every cell with its seeds, values, failures and summary statistics."""
    rows: dict[str, dict[str, Any]] = {}
    for cell in design_cells(plan):
        rows[cell.name] = {"name": cell.name, "role": cell.role, "levels": dict(cell.levels)}
    for trap in plan.traps:
        rows[f"trap:{trap.name}"] = {"name": f"trap:{trap.name}", "role": TRAP,
                                     "levels": dict(trap.params)}
    if plan.tau is not None:
        rows["tau"] = {"name": "tau", "role": TAU, "levels": dict(plan.tau.params)}
    for row in rows.values():
        row.update(seeds=[], values=[], failed=[], wall_s=[], load1=[])
    base_name = design_cells(plan)[0].name
    if reused is not None:
        for r in reused["runs"]:
            row = rows[base_name]
            row["seeds"].append(r["seed"])
            row["values"].append(float(r["value"]))
            row["wall_s"].append(r.get("wall_time"))
    for record in sorted(results, key=lambda r: (r["data"]["cell"], r["data"]["seed"])):
        d = record["data"]
        row = rows.setdefault(d["cell"], {"name": d["cell"], "role": d["role"], "levels": {},
                                          "seeds": [], "values": [], "failed": [], "wall_s": [],
                                          "load1": []})
        value = run_value(record, plan)
        row["seeds"].append(d["seed"])
        row["values"].append(value if math.isfinite(value) else None)
        row["wall_s"].append(d["metrics"].get("wall_time", d.get("wall_s")))
        row["load1"].append(d.get("load1"))
        if record["event"] == L.RUN_FAILED:
            row["failed"].append({"seed": d["seed"], "error_kind": d.get("error_kind"),
                                  "error": (d.get("error") or "")[:500]})
    for row in rows.values():
        row["stats"] = stats.describe(_floats(row["values"]), ci=plan.analysis.ci).to_dict()
    return list(rows.values())


def _floats(values: list) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _comparisons(plan: Plan, cells: list[dict]) -> list[dict[str, Any]]:
    """Each arm and trap against the baseline; Holm across the registered family (arms + traps)."""
    base = next(c for c in cells if c["role"] == BASELINE)
    direction = plan.primary.direction
    rule = "A" if plan.decision.sigma == "baseline" else "B"
    out = []
    for cell in cells:
        if cell["role"] not in (ARM, TRAP):
            continue
        b, e = _floats(base["values"]), _floats(cell["values"])
        comp = stats.compare(b, e, direction=direction, alpha=plan.analysis.alpha,
                             ci=plan.analysis.ci, rng=np.random.default_rng(0)).to_dict()
        sv = stats.sigma_verdict(b, e, direction=direction, rule=rule,
                                 threshold=plan.decision.threshold, alpha=plan.analysis.alpha)
        comp.update(cell=cell["name"], role=cell["role"], sigma_verdict=sv.verdict.value,
                    sigma_tier=sv.tier.value if sv.tier else None,
                    sigma=sv.to_dict())
        out.append(comp)
    adjusted = stats.holm([c.get("p_value") for c in out]) if plan.analysis.correction == "holm" \
        else [c.get("p_value") for c in out]
    for comp, p in zip(out, adjusted):
        comp["p_holm"] = p
    return out


def _tau(plan: Plan, cells: list[dict]) -> dict[str, Any] | None:
    if plan.tau is None:
        return None
    tau_cell = next((c for c in cells if c["role"] == TAU), None)
    method = _method_cell(plan, cells)
    if tau_cell is None or method is None or not tau_cell["values"]:
        return None
    summary = stats.tau_summary(_floats(tau_cell["values"]), _floats(method["values"]),
                                direction=plan.primary.direction, margin=plan.tau.margin)
    d = summary.to_dict()
    d.update(method_cell=method["name"], scores=tau_cell["values"])
    return d


def _method_cell(plan: Plan, cells: list[dict]) -> dict | None:
    """The cell judged against tau: the single arm, or the best arm by mean."""
    arms = [c for c in cells if c["role"] == ARM and c["stats"]["mean"] is not None]
    if not arms:
        return next((c for c in cells if c["role"] == BASELINE), None)
    sign = 1 if plan.primary.direction == "higher" else -1
    return max(arms, key=lambda c: sign * c["stats"]["mean"])


def _factorial(plan: Plan, cells: list[dict]) -> dict[str, Any] | None:
    if not plan.design.factors:
        return None
    rows = [c for c in cells if c["role"] in (BASELINE, ARM)]
    empty = [c["name"] for c in rows if not any(v is not None for v in c["values"])]
    finite = sum(v is not None for c in rows for v in c["values"])
    if empty or finite <= len(rows):
        why = (f"cells without any finished run: {', '.join(empty[:5])}"
               + (f" and {len(empty) - 5} more" if len(empty) > 5 else "") if empty else
               f"{finite} finished runs for {len(rows)} cells leave no residual degrees of freedom")
        return {"anova": None, "main_effects": None, "equivalence_margin":
                plan.decision.equivalence_margin, "note": f"factorial model not estimable: {why}",
                "factor_verdicts": {f: {"verdict": "INCONCLUSIVE", "why": why}
                                    for f in plan.design.factors}}
    levels: dict[str, list] = {f: [] for f in plan.design.factors}
    y: list[float] = []
    for cell in rows:
        for value in cell["values"]:
            for factor in levels:
                levels[factor].append(cell["levels"][factor])
            y.append(math.nan if value is None else value)
    table = stats.factorial_anova(levels, y)
    effects = stats.main_effects(levels, y, reference=dict(plan.design.baseline),
                                 direction=plan.primary.direction, ci=plan.analysis.ci,
                                 alpha=plan.analysis.alpha, anova=table)
    margin = plan.decision.equivalence_margin
    verdicts = {e.factor: _factor_verdict(e, margin, table, plan.analysis.alpha)
                for e in effects.effects}
    return {"anova": table.to_dict(), "main_effects": effects.to_dict(),
            "factor_verdicts": verdicts, "equivalence_margin": margin}


def _factor_verdict(effect, margin: float | None, table, alpha: float) -> dict[str, str]:
    """EFFECT when a level's CI excludes 0; NO_EFFECT when every CI lies within ±margin."""
    others = [lv for lv in effect.levels if lv.ci_low is not None]
    if not others:
        return {"verdict": "INCONCLUSIVE", "why": "no confidence interval (too few runs)"}
    shown = "; ".join(f"{lv.level}: {lv.diff:+.4g} [{lv.ci_low:+.4g}, {lv.ci_high:+.4g}]"
                      for lv in others)
    excludes = [lv for lv in others if lv.ci_low > 0 or lv.ci_high < 0]
    if excludes:
        tag = f" ({effect.tag})" if effect.tag else ""
        return {"verdict": "EFFECT", "why": f"a level's CI excludes 0{tag}: {shown}"}
    if margin is not None and all(-margin < lv.ci_low and lv.ci_high < margin for lv in others):
        return {"verdict": "NO_EFFECT", "why": f"every CI lies within ±{margin:g}: {shown}"}
    why = "CIs include 0 but are wider than the equivalence margin" if margin is not None \
        else "CIs include 0 and no equivalence margin was registered"
    return {"verdict": "INCONCLUSIVE", "why": f"{why}: {shown}"}


def _traps(plan: Plan, scope: dict, comparisons: list[dict]) -> list[dict[str, Any]]:
    by_cell = {c["cell"]: c for c in comparisons}
    out = []
    for trap in plan.traps:
        view = scope["traps"][trap.name]
        out.append({"name": trap.name, "expect": trap.expect, "check": trap.check,
                    "margin": trap.margin, "description": trap.description,
                    "expected_outcome": trap.expected_outcome, "passed": view.get("passed"),
                    "stats": {k: view.get(k) for k in ("n", "n_failed", "mean", "sd", "min",
                                                       "max")},
                    "comparison": by_cell.get(f"trap:{trap.name}")})
    return out


def analyse(plan_path: Path) -> dict[str, Any]:
    """Every number the verdict and the report need, from the ledger alone."""
    plan_path = Path(plan_path)
    plan = load_plan(plan_path)
    if plan.primary is None or plan.primary.direction is None:
        raise InputError(f"{plan_path}: cannot decide mechanically: " +
                         "; ".join(plan.missing_for_run()))
    records = L.Ledger(ledger_path(plan_path)).records()
    results = list(terminal_records(records).values())
    reused = protocol.reused_from_ledger(records)
    cells = _cells(plan, results, reused)
    comparisons = _comparisons(plan, cells)
    tau = _tau(plan, cells)
    extras = {c["cell"]: _rule_stats(c) for c in comparisons}
    scope = build_scope(plan, cell_values(plan, results, reused), extras, _tau_view(plan, tau))
    return {"plan": plan, "records": records, "results": results, "reused": reused,
            "cells": cells, "comparisons": comparisons, "tau": tau, "scope": scope,
            "factorial": _factorial(plan, cells), "traps": _traps(plan, scope, comparisons)}


def _rule_stats(comp: dict[str, Any]) -> dict[str, Any]:
    return {"delta": comp.get("mean_diff"), "z": comp.get("z_base_sigma"),
            "d": comp.get("cohens_d"), "p": comp.get("p_value"), "p_holm": comp.get("p_holm")}


def _tau_view(plan: Plan, tau: dict | None) -> dict[str, Any] | None:
    if tau is None:
        return None
    return {"value": tau.get("tau"), "threshold": tau.get("threshold"),
            "mean": tau.get("tau_mean"), "sd": tau.get("tau_sd"), "beaten": tau.get("passed"),
            "margin": plan.tau.margin}


# ---------------------------------------------------------------- verdicts


def verdict(plan: Plan, analysis: dict[str, Any], killed: dict | None) -> tuple[str, str | None,
                                                                                 list[str]]:
    """(verdict, tier, reasons) by the registered rule family."""
    if killed is not None:
        return "KILL", None, [f"kill rule {killed['rule']!r} fired: {killed['when']}"]
    rule = plan.decision.rule
    if rule == "sigma":
        return _sigma_verdict(analysis)
    trap_problems = _trap_problems(analysis["traps"])
    if rule == "tiers":
        return _tier_verdict(plan, analysis["scope"], trap_problems)
    return _threshold_verdict(plan, analysis, trap_problems)


def _trap_problems(traps: list[dict]) -> list[str]:
    problems = []
    for trap in traps:
        if trap["expect"] is None:
            continue  # prose only: documented, not judged
        if trap["passed"] is None:
            problems.append(f"trap {trap['name']} could not be judged (too few finished runs)")
        elif not trap["passed"]:
            problems.append(f"trap {trap['name']} did not behave as registered "
                            f"(expected {trap['expect']}{': ' + trap['check'] if trap['check'] else ''})")
    return problems


def _rule_value(plan: Plan, text: str | None, scope: dict, where: str) -> bool | None:
    if text is None:
        return None
    return rules.parse(text, where=where, file=str(plan.path)).evaluate(scope)


def _threshold_verdict(plan: Plan, analysis: dict, trap_problems: list[str]):
    scope = analysis["scope"]
    reasons = []
    acceptance = _rule_value(plan, plan.decision.acceptance, scope, "decision.acceptance")
    if trap_problems:
        return "INCONCLUSIVE", None, trap_problems
    tau_ok = True
    if plan.tau is not None and plan.tau.must_beat and plan.tau.params:
        tau = analysis["tau"]
        tau_ok = bool(tau and tau.get("passed"))
        reasons.append(f"tau: {'beaten' if tau_ok else 'NOT beaten'} by margin "
                       f"{plan.tau.margin:g}" + ("" if tau else " (no tau result)"))
    if plan.decision.acceptance is None:
        factorial = analysis["factorial"]
        if factorial is None:
            return "INCONCLUSIVE", None, reasons + ["no acceptance rule registered"]
        acceptance = True
        reasons.append("factorial study: traps behaved and tau was beaten; the findings are the "
                       "per-factor verdicts")
    if acceptance is None:
        return "INCONCLUSIVE", None, reasons + ["acceptance rule undecided (missing statistics)"]
    if plan.decision.acceptance is not None:
        reasons.insert(0, f"acceptance {plan.decision.acceptance!r}: {acceptance}")
    if acceptance and tau_ok:
        return "PASS", None, reasons
    return "FAIL", None, reasons


def _tier_verdict(plan: Plan, scope: dict, trap_problems: list[str]):
    t = plan.decision.tiers
    values = {name: _rule_value(plan, getattr(t, name), scope, f"decision.{name}")
              for name in ("catastrophic", "strict", "lenient")}
    reasons = [f"{name} {getattr(t, name)!r}: {v}" for name, v in values.items()
               if getattr(t, name)]
    if values["catastrophic"]:
        return "CATASTROPHIC", None, reasons
    if trap_problems:
        return "INCONCLUSIVE", None, trap_problems + reasons
    if values["strict"]:
        return "STRICT", None, reasons
    if values["lenient"]:
        return "LENIENT", None, reasons
    if any(v is None for n, v in values.items() if getattr(t, n)):
        return "INCONCLUSIVE", None, reasons + ["a tier rule is undecided (missing statistics)"]
    return "FAIL", None, reasons


def _sigma_verdict(analysis: dict):
    arm = next((c for c in analysis["comparisons"] if c["role"] == ARM), None)
    if arm is None:
        return "INCONCLUSIVE", None, ["no experiment arm has results"]
    sv = arm["sigma"]
    z = sv.get("z")
    reasons = [f"z = {z:+.3f} under rule {sv['rule']} (threshold {sv['threshold']:g})"
               if z is not None else "z undefined (zero or unknown baseline variance)"]
    verdict_ = arm["sigma_verdict"]
    if verdict_ not in ("WINNER", "NEUTRAL", "LOSER"):
        verdict_ = "INCONCLUSIVE"
    return verdict_, arm.get("sigma_tier"), reasons


# ---------------------------------------------------------------- result.json


def decide(plan_path: Path) -> dict[str, Any]:
    """Compute the verdict, write result.json next to the ledger, record DECIDED. Returns it."""
    plan_path = Path(plan_path)
    registration.verify_all(plan_path)
    analysis = analyse(plan_path)
    plan, records = analysis["plan"], analysis["records"]
    current = registration.state(plan_path)
    verdict_, tier, reasons = verdict(plan, analysis, current.killed)
    head = records[-1]["hash"] if records else L.GENESIS
    result = {
        "schema": SCHEMA, "experiment_id": plan.experiment_id,
        "plan_sha256": current.sealed_hash, "ledger_head": head,
        "hypothesis": plan.hypothesis, "hypotheses": dict(plan.hypotheses),
        "rule": plan.decision.rule, "verdict": verdict_, "tier": tier, "verdict_reasons": reasons,
        "primary": {"name": plan.primary.name, "direction": plan.primary.direction,
                    "unit": plan.primary.unit},
        "cells": analysis["cells"], "comparisons": analysis["comparisons"],
        "traps": analysis["traps"], "tau": analysis["tau"], "factorial": analysis["factorial"],
        "design_check": _last_design_check(records), "kill": current.killed,
        "amendments": [_amendment(a) for a in current.amendments], "deviated": current.deviated,
        "flow": _flow(plan_path, analysis), "wall_clock": _wall_clock(analysis["cells"]),
        "reused_baseline": ({"source": analysis["reused"].get("source"),
                             "store": analysis["reused"].get("store")}
                            if analysis["reused"] else None),
        "retracts": list(plan.retracts), "ladder": dict(plan.ladder),
    }
    result["caveats"] = caveats_for(plan, analysis, result)
    _label_retrospective(result, records)
    path = experiment_dir(plan_path) / "result.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False, default=str) + "\n",
                    encoding="utf-8")
    L.Ledger(ledger_path(plan_path)).append(L.DECIDED, {"verdict": verdict_, "tier": tier,
                                                        "plan_sha256": current.sealed_hash,
                                                        "ledger_head": head,
                                                        "caveats": [c["code"] for c in
                                                                    result["caveats"]]})
    return result


def _label_retrospective(result: dict[str, Any], records: list[dict]) -> None:
    """Runs imported after the lock: `retrospective` and a first caveat say so (interop.retro)."""
    from .interop.retro import LABEL, retrospective

    info = retrospective(records)
    result["retrospective"] = info
    if info is not None:
        result["caveats"].insert(0, {"code": LABEL, "message": info["message"]})


def _amendment(a: dict[str, Any]) -> dict[str, Any]:
    keys = ("parent_sha256", "plan_sha256", "reason", "seen", "after_runs", "changed_files")
    return {k: a.get(k) for k in keys}


def _last_design_check(records: list[dict]) -> dict[str, Any] | None:
    checks = [r["data"] for r in records if r["event"] == L.DESIGN_CHECK]
    return checks[-1] if checks else None


def _flow(plan_path: Path, analysis: dict) -> dict[str, Any]:
    from .runner import status

    st = status(plan_path, plan=analysis["plan"], records=analysis["records"])
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
