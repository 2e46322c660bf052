"""From ledger records to the named statistics that registered rules read.

`cell_values` groups each run's primary metric by cell (a failed run is NaN,
or the registered worst value under `failures: count_as_worst`), and
`build_scope` turns them into the names a rule may use (see `rules`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from . import rules
from .design import ARM, BASELINE, TAU, TRAP, design_cells
from .history import Record, as_record
from .spec import Plan
from .stats import describe


def run_value(record: Record | Mapping[str, Any], plan: Plan) -> float:
    """The primary metric of one terminal record; failures per the registered policy."""
    record = as_record(record)
    if record.ok:
        value = record.data["metrics"].get(plan.primary.name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    if plan.failures.policy == "count_as_worst":
        return float(plan.failures.worst)
    return math.nan


def cell_values(plan: Plan, results: list[Mapping[str, Any]],
                reused: Mapping[str, Any] | None = None,
                override: Mapping[str, float] | None = None) -> dict[str, list[float]]:
    """cell name -> values in seed order; the baseline includes a reused measurement.

    `override`: run id -> the value to use instead (untrained runs, see `exante.untrained`)."""
    by_cell: dict[str, list[tuple[int, float]]] = {}
    override = override or {}
    for record in results:
        data = record["data"]
        rid = data["run_id"]
        value = override[rid] if rid in override else run_value(record, plan)
        by_cell.setdefault(data["cell"], []).append((data["seed"], value))
    if reused is not None:
        base = design_cells(plan)[0].name
        by_cell[base] = [(r["seed"], float(r["value"])) for r in reused["runs"]] + [
            sv for sv in by_cell.get(base, [])]
    return {cell: [v for _, v in sorted(pairs)] for cell, pairs in by_cell.items()}


def cell_view(name: str, values: list[float], ci: float = 0.95, **extra: Any) -> dict[str, Any]:
    """A cell as rules see it: summary statistics (None while unknown) plus `extra`."""
    s = describe(values, ci=ci) if values else None
    view = {"name": name, "n": s.n if s else 0, "n_failed": s.n_failed if s else 0}
    for attr in ("mean", "sd", "sem", "median", "min", "max", "ci_low", "ci_high"):
        view[attr] = getattr(s, attr) if s else None
    view.update(extra)
    return view


def build_scope(plan: Plan, values: Mapping[str, list[float]],
                extras: Mapping[str, Mapping[str, Any]] | None = None,
                tau: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The names a rule can use, from per-cell values and per-cell extra statistics."""
    extras = extras or {}
    ci = plan.analysis.ci
    cells = design_cells(plan)
    views = {c.name: cell_view(c.name, values.get(c.name, []), ci, **extras.get(c.name, {}))
             for c in cells}
    base = views[cells[0].name]
    arms = [views[c.name] for c in cells[1:]]
    sign = 1 if plan.primary.direction == "higher" else -1
    known = [a for a in arms if a["mean"] is not None]
    best = max(known, key=lambda a: sign * a["mean"]) if known else None
    traps = {}
    for t in plan.traps:
        tv = values.get(f"trap:{t.name}", [])
        view = cell_view(f"trap:{t.name}", tv, ci, **extras.get(f"trap:{t.name}", {}))
        if "passed" not in view:
            view["passed"] = trap_passed(plan, t, values.get(cells[0].name, []), tv, base, view)
        traps[t.name] = view
    return {"baseline": base, "arms": arms, "cells": [base, *arms], "traps": traps,
            "experiment": arms[0] if len(arms) == 1 else best, "best": best,
            "tau": dict(tau) if tau else None}


def trap_passed(plan: Plan, trap, base_values: list[float], trap_values: list[float],
                base_view: Mapping[str, Any], trap_view: Mapping[str, Any]) -> bool | None:
    """Did the trap behave as registered? None while it cannot be told (too few runs).

    worse: one-sided Welch p < alpha in the worse direction (STATS.md section 6);
    no_effect: TOST with the registered margin; check: the registered expression
    over `cell` (the trap) and `baseline`.
    """
    from .stats import compare, tost

    if trap.expect == "check":
        rule = rules.parse(trap.check, where=f"traps.{trap.name}.check", file=str(plan.path))
        return rule.evaluate({"cell": trap_view, "baseline": base_view})
    finite_b = [v for v in base_values if math.isfinite(v)]
    finite_t = [v for v in trap_values if math.isfinite(v)]
    if trap.expect is None or len(finite_b) < 2 or len(finite_t) < 2:
        return None
    direction = plan.primary.direction
    if trap.expect == "worse":
        c = compare(base_values, trap_values, direction=direction, alpha=plan.analysis.alpha)
        if c.p_value is None:
            return c.mean_diff is not None and c.mean_diff < 0
        one_sided = c.p_value / 2 if c.mean_diff < 0 else 1 - c.p_value / 2
        return one_sided < plan.analysis.alpha
    eq = tost(base_values, trap_values, trap.margin, alpha=plan.analysis.alpha,
              direction=direction)
    return bool(eq.equivalent)


def evaluate_kill(plan: Plan, results: list[Mapping[str, Any]],
                  reused: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The first registered kill rule that holds now, with the numbers it saw; else None."""
    values = cell_values(plan, results, reused)
    scope = build_scope(plan, values)
    for i, kill in enumerate(plan.kill):
        rule = rules.parse(kill.when, where=f"kill[{i}].when", file=str(plan.path))
        if rule.evaluate(scope) is True:
            return {"rule": kill.name, "when": kill.when, "why": kill.why,
                    "numbers": _numbers(scope, rule.names),
                    "runs_recorded": len(results)}
    return None


def _numbers(scope: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The statistics a fired rule looked at, for the KILLED record."""
    keep = ("mean", "sd", "n", "n_failed", "min", "max")
    def slim(view):
        return {k: view[k] for k in ("name", *keep) if k in view} if view else None
    out: dict[str, Any] = {}
    for name in names:
        value = scope.get(name)
        if isinstance(value, list):
            out[name] = [slim(v) for v in value]
        elif name == "traps":
            out[name] = {k: slim(v) for k, v in value.items()}
        elif isinstance(value, Mapping) and name != "tau":
            out[name] = slim(value)
        else:
            out[name] = value
    return out
