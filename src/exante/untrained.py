"""Runs that ran but did not train, marked by the plan's registered rule.

`failures.untrained_if` is a run rule (`rules.parse_run_rule`) such as
``train_acc < 0.5 * cell.median(train_acc)``: judged on each finished run of
the design's cells (baseline and arms; traps and τ are controls with their own
registered checks), with ``cell.median(...)`` taken over the finished runs of
the same cell, the run itself included. `failures.untrained` registers what a
marked run counts as, before any run exists:

- ``exclude``: left out of every statistic (its value is None in result.json);
- ``keep``: analysed as it is (named, but its value stands);
- ``count_as_worst``: scored as `failures.worst`.

Every marked run is named, with the numbers that marked it, in result.json
(``untrained``), in the caveat ``UNTRAINED_RUNS`` and in every report: nothing
is dropped silently. A run whose metrics the rule cannot read (a metric it
names is missing) is not marked; the rule is then undecided for it. The rule is applied
when deciding (every statistic, rule and caveat of result.json); kill rules evaluated during
the sweep see the runs as recorded, since a cell's median is not known until it has finished.
"""

from __future__ import annotations

import ast
import itertools
import math
import statistics
from typing import Any, Iterable, Mapping

from . import rules
from .design import ARM, BASELINE
from .errors import RuleError
from .history import as_record
from .spec import Plan

_GRID = (-1.0, 0.0, 0.05, 0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 2.0, 100.0)
STATS = {"median": statistics.median, "mean": statistics.fmean, "min": min, "max": max,
         "sd": lambda xs: statistics.stdev(xs) if len(xs) >= 2 else None}


def rule_of(plan: Plan) -> rules.Rule | None:
    """The registered run rule, parsed (None when the plan registers none)."""
    when = plan.failures.untrained_if
    if when is None:
        return None
    return rules.parse_run_rule(when, where="failures.untrained_if", file=str(plan.path),
                                metrics=tuple(m.name for m in plan.metrics))


def mark(plan: Plan, results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every finished design run the registered rule marks, in (cell, seed) order."""
    rule = rule_of(plan)
    if rule is None:
        return []
    refs = _references(rule)
    out = []
    for cell, records in sorted(_by_cell(results).items()):
        table = _cell_table(records, refs)
        for record in sorted(records, key=lambda r: r["data"]["seed"]):
            scope = {**_run_metrics(record, rule), "cell": table}
            if rule.evaluate(scope) is True:
                out.append(_marked(plan, record, _why(rule, scope, refs)))
    return out


def gates(plan: Plan) -> list[dict[str, Any]]:
    """The lock's gate for the rule: some run must be marked and some not, on synthetic
    inputs (a run's metrics at one value, its cell's statistics at another); else refused."""
    rule = rule_of(plan)
    if rule is None:
        return []
    refs = _references(rule)
    seen: dict[bool, dict[str, float]] = {}
    for run, cell in itertools.product(_GRID, _GRID):
        scope = {name: run for name in rule.names if name != "cell"}
        table: dict[str, dict[str, float]] = {}
        for stat, metric in refs:
            table.setdefault(metric, {})[stat] = cell
        value = rule.evaluate({**scope, "cell": table})
        if isinstance(value, bool):
            seen.setdefault(value, {"run_metrics": run, "cell_statistics": cell})
        if len(seen) == 2:
            return [{"rule": "failures.untrained_if", "expression": rule.source, "flipped": True,
                     "holds_at": seen[True], "fails_at": seen[False]}]
    stuck = "marks every run" if True in seen else "marks no run" if False in seen else \
        "is undecidable"
    raise RuleError(f"rule {rule.source!r} cannot flip: it {stuck} on every synthetic input "
                    f"(run metrics and cell statistics at {list(_GRID)}); a rule that cannot "
                    "fail decides nothing", file=str(plan.path), path="failures.untrained_if")


def overrides(plan: Plan, marked: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """run id -> the value the analysis uses instead of the run's metric (per the policy)."""
    policy = plan.failures.untrained
    if policy == "exclude":
        return {m["run_id"]: math.nan for m in marked}
    if policy == "count_as_worst":
        return {m["run_id"]: float(plan.failures.worst) for m in marked}
    return {}


def _by_cell(results: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for record in map(as_record, results):
        data = record.data
        if record.ok and data.get("role") in (BASELINE, ARM):
            out.setdefault(data["cell"], []).append(record)
    return out


def _references(rule: rules.Rule) -> list[tuple[str, str]]:
    """(statistic, metric) of every `cell.stat(metric)` the rule reads."""
    found = {(n.func.attr, n.args[0].id) for n in ast.walk(rule.tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    return sorted(found)


def _finite(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _cell_table(records: list[Mapping[str, Any]], refs: list[tuple[str, str]]
                ) -> dict[str, dict[str, float | None]]:
    table: dict[str, dict[str, float | None]] = {}
    for stat, metric in refs:
        xs = [x for x in (_finite(r["data"]["metrics"].get(metric)) for r in records)
              if x is not None]
        table.setdefault(metric, {})[stat] = STATS[stat](xs) if xs else None
    return table


def _run_metrics(record: Mapping[str, Any], rule: rules.Rule) -> dict[str, float | None]:
    metrics = record["data"]["metrics"]
    return {name: _finite(metrics.get(name)) for name in rule.names if name != "cell"}


def _why(rule: rules.Rule, scope: Mapping[str, Any], refs: list[tuple[str, str]]) -> str:
    shown = [f"{k} = {_g(v)}" for k, v in sorted(scope.items()) if k != "cell"]
    shown += [f"cell.{stat}({metric}) = {_g(scope['cell'][metric][stat])}"
              for stat, metric in refs]
    return f"{rule.source}: {', '.join(shown)}"


def _g(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def _marked(plan: Plan, record: Mapping[str, Any], why: str) -> dict[str, Any]:
    d = record["data"]
    return {"run_id": d["run_id"], "cell": d["cell"], "seed": d["seed"], "why": why,
            "policy": plan.failures.untrained,
            "value": _finite(d["metrics"].get(plan.primary.name)) if plan.primary else None}
