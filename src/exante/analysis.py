"""The numbers a verdict rests on: every cell, comparison, tau and trap, from the ledger once.

`analyse` reads an experiment's terminal runs (through its `History`) and
computes what the registered rule family and the report need, as an
`Analysis`: the registered model's comparisons (paired when the design
blocks), Holm across the registered family, the tau baseline, the traps,
the runs the registered untrained rule marks. Nothing here runs a trial,
writes a file or prints; `decide` turns an Analysis into result.json.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import families, stats, untrained
from .design import ARM, BASELINE, TAU, TRAP, design_cells
from .errors import InputError
from .events import Event
from .experiment import Experiment, open_experiment
from .families.factorial import analyse_factorial
from .history import History
from .scope import build_scope, cell_values, run_value
from .spec import Plan


@dataclass(frozen=True)
class Analysis:
    """Every number the verdict family and the report need, computed from the ledger once.

    `cells` and `comparisons` are the dicts result.json stores (see `exante.results` for
    their typed reading); `scope` is what registered rules evaluate. Read by attribute, or
    by key (``analysis["traps"]``) as families written against the older dict do.
    """

    plan: Plan
    history: History
    experiment: Experiment
    records: list
    results: list
    reused: dict[str, Any] | None
    cells: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    tau: dict[str, Any] | None
    scope: dict[str, Any]
    factorial: dict[str, Any] | None
    traps: list[dict[str, Any]]
    untrained: list[dict[str, Any]] = field(default_factory=list)  # runs the rule marked
    extra: dict[str, Any] = field(default_factory=dict)  # what a plug-in adds

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """The numbers, as JSON values (the context, plan and runs, stays with the experiment:
        `from_dict` re-attaches it). NaN stays NaN, as result.json writes it."""
        return json.loads(json.dumps({k: getattr(self, k) for k in NUMBERS}, default=_plain))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], experiment: Experiment) -> "Analysis":
        """An Analysis from `to_dict`'s numbers and the experiment they were computed from
        (its plan, its History's terminal runs). The runs are not re-analysed."""
        missing = [k for k in NUMBERS if k not in d]
        if missing:
            raise InputError(f"an analysis needs {', '.join(missing)}; got {sorted(d)}")
        history = experiment.history
        return cls(plan=experiment.plan, history=history, experiment=experiment,
                   records=list(history.records), results=list(history.terminal().values()),
                   **{k: d[k] for k in NUMBERS})


# what Analysis.to_dict keeps: everything computed, nothing that points back at the files
NUMBERS = ("reused", "cells", "comparisons", "tau", "scope", "factorial", "traps", "untrained",
           "extra")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, tuples and sets, as JSON has them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, set, frozenset)):
        return list(value.tolist() if isinstance(value, np.ndarray) else sorted(value, key=str))
    return str(value)

# ---------------------------------------------------------------- analysis


def _cells(plan: Plan, results: list[dict], reused: dict | None,
           marked: list[dict] = ()) -> list[dict[str, Any]]:
    """Every cell with its seeds, values, failures, untrained runs and summary statistics."""
    rows: dict[str, dict[str, Any]] = {}
    for cell in design_cells(plan):
        rows[cell.name] = {"name": cell.name, "role": cell.role, "levels": dict(cell.levels)}
    for trap in plan.traps:
        rows[f"trap:{trap.name}"] = {"name": f"trap:{trap.name}", "role": TRAP,
                                     "levels": dict(trap.params)}
    if plan.tau is not None:
        rows["tau"] = {"name": "tau", "role": TAU, "levels": dict(plan.tau.params)}
    for row in rows.values():
        row.update(seeds=[], values=[], failed=[], wall_s=[], load1=[], untrained=[])
    base_name = design_cells(plan)[0].name
    override = untrained.overrides(plan, marked)
    for m in marked:
        rows[m["cell"]]["untrained"].append({"seed": m["seed"], "why": m["why"]})
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
                                          "load1": [], "untrained": []})
        value = override.get(d["run_id"], run_value(record, plan))
        row["seeds"].append(d["seed"])
        row["values"].append(value if math.isfinite(value) else None)
        row["wall_s"].append(d["metrics"].get("wall_time", d.get("wall_s")))
        row["load1"].append(d.get("load1"))
        if record.event == Event.RUN_FAILED:
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
    a = plan.analysis
    settings = (plan.primary.direction, "A" if plan.decision.sigma == "baseline" else "B",
                plan.decision.threshold, a.alpha, a.ci)
    out = []
    for cell in cells:
        if cell["role"] not in (ARM, TRAP):
            continue
        comp = json.loads(_compared(settings, tuple(_floats(base["values"])),
                                    tuple(_floats(cell["values"]))))
        comp.update(cell=cell["name"], role=cell["role"])
        out.append(comp)
    if plan.analysis.model.paired:
        for comp in out:
            _pair(plan, comp, base, next(c for c in cells if c["name"] == comp["cell"]))
    tested = [c.get("p_test", c.get("p_value")) for c in out]
    adjusted = stats.holm(tested) if plan.analysis.correction == "holm" else tested
    for comp, p in zip(out, adjusted):
        comp["p_holm"] = p
    return out


@functools.lru_cache(maxsize=4096)
def _compared(settings: tuple, b: tuple[float, ...], e: tuple[float, ...]) -> str:
    """Welch numbers and the 2σ verdict of one comparison (JSON; cached: the leave-one-out
    sensitivity re-decides with most comparisons unchanged)."""
    direction, rule, threshold, alpha, ci = settings
    comp = stats.compare(list(b), list(e), direction=direction, alpha=alpha, ci=ci,
                         rng=np.random.default_rng(0)).to_dict()
    sv = stats.sigma_verdict(list(b), list(e), direction=direction, rule=rule,
                             threshold=threshold, alpha=alpha)
    comp.update(sigma_verdict=sv.verdict.value, sigma_tier=sv.tier.value if sv.tier else None,
                sigma=sv.to_dict())
    return json.dumps(comp)


def _pair(plan: Plan, comp: dict[str, Any], base: dict, cell: dict) -> None:
    """Registered blocking: the comparison is paired by seed (paired Δ, its CI, d_z), and its
    paired p is the one Holm adjusts and rules read as `p`."""
    b = dict(zip(base["seeds"], base["values"]))
    e = dict(zip(cell["seeds"], cell["values"]))
    seeds = [s for s in b if s in e]
    paired = stats.paired_compare(_floats([b[s] for s in seeds]), _floats([e[s] for s in seeds]),
                                  direction=plan.primary.direction, ci=plan.analysis.ci)
    comp["paired"] = {**paired.to_dict(), "by": plan.analysis.model.block, "seeds": seeds,
                      "model": plan.analysis.model.type}
    comp["test"] = f"paired t by {plan.analysis.model.block}"
    comp["p_test"] = paired.p_value


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


def analyse(plan_path: Path | Experiment) -> Analysis:
    """Every number the verdict and the report need, from the ledger alone.

    Pass an open `Experiment` to reuse its plan and history (no second read).
    """
    exp = plan_path if isinstance(plan_path, Experiment) else open_experiment(plan_path)
    plan, history = exp.plan, exp.history
    if plan.primary is None or plan.primary.direction is None:
        raise InputError(f"{exp.plan_path}: cannot decide mechanically: " +
                         "; ".join(plan.missing_for_run()))
    results = list(history.terminal().values())
    reused = history.reused_baseline()
    marked = untrained.mark(plan, results)
    parts = _numbers(plan, results, reused, marked)
    return Analysis(plan=plan, history=history, experiment=exp, records=list(history.records),
                    results=results, reused=reused, factorial=analyse_factorial(plan,
                                                                                parts["cells"]),
                    untrained=marked, **parts)


def _numbers(plan: Plan, results: list, reused: dict | None, marked: list) -> dict[str, Any]:
    """Cells, comparisons, tau, scope and traps of these runs (in memory, no ledger read);
    the runs the registered untrained rule `marked` count as the plan says."""
    cells = _cells(plan, results, reused, marked)
    comparisons = _comparisons(plan, cells)
    tau = _tau(plan, cells)
    extras = {c["cell"]: _rule_stats(c) for c in comparisons}
    values = cell_values(plan, results, reused, untrained.overrides(plan, marked))
    scope = build_scope(plan, values, extras, _tau_view(plan, tau))
    return {"cells": cells, "comparisons": comparisons, "tau": tau, "scope": scope,
            "traps": _traps(plan, scope, comparisons)}


def _study_without(analysis: Analysis, gone) -> str:
    """The study verdict re-decided without the runs `gone(cell, seed)` marks (FRAGILE); the
    registered untrained rule is applied again to the runs that remain."""
    plan = analysis.plan
    results = [r for r in analysis.results if not gone(r["data"]["cell"], r["data"]["seed"])]
    marked = untrained.mark(plan, results)
    again = replace(analysis, results=results, untrained=marked,
                    **_numbers(plan, results, analysis.reused, marked))
    return families.get(plan.decision.rule).decide(plan, again)[0]


def _rule_stats(comp: dict[str, Any]) -> dict[str, Any]:
    return {"delta": comp.get("mean_diff"), "z": comp.get("z_base_sigma"),
            "d": comp.get("cohens_d"), "p": comp.get("p_test", comp.get("p_value")),
            "p_holm": comp.get("p_holm")}


def _tau_view(plan: Plan, tau: dict | None) -> dict[str, Any] | None:
    if tau is None:
        return None
    return {"value": tau.get("tau"), "threshold": tau.get("threshold"),
            "mean": tau.get("tau_mean"), "sd": tau.get("tau_sd"), "beaten": tau.get("passed"),
            "margin": plan.tau.margin}
