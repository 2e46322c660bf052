"""Expanding a plan into run keys: cells × seeds × roles, with stages; what each run costs.

Run ids are deterministic and readable (``arm__depth-4_activation-gelu__s42``)
so a resumed sweep finds what already ran, and each run folder says what it is.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import PlanError
from .spec import Plan, cost_rule

BASELINE, ARM, TRAP, TAU = "baseline", "arm", "trap", "tau"
MAIN, VARIANCE, STAGE1, STAGE2 = "main", "baseline_variance", "stage1", "stage2"
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


@dataclass(frozen=True)
class Cell:
    """One configuration: a name, a role and the parameters it overrides on top of `fixed`."""

    name: str
    role: str
    levels: Mapping[str, Any]  # the factor levels / arm overrides that define the cell

    def params(self, fixed: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict:
        return {**fixed, **self.levels, **(extra or {})}


@dataclass(frozen=True)
class RunKey:
    run_id: str
    cell: str
    role: str
    stage: str
    seed: int
    params: Mapping[str, Any]


def cell_name(levels: Mapping[str, Any]) -> str:
    """'depth=4, activation=gelu' — the human name of a cell."""
    return ", ".join(f"{k}={v}" for k, v in levels.items()) or "baseline"


def _slug(text: str) -> str:
    slug = _UNSAFE.sub("_", text.replace("=", "-").replace(", ", "_")).strip("_")
    if len(slug) > 80 or slug != text.replace("=", "-").replace(", ", "_"):
        slug = f"{slug[:60]}_{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return slug or "cell"


def run_id(role: str, cell: str, seed: int) -> str:
    return f"{role}__{_slug(cell)}__s{seed}"


def design_cells(plan: Plan) -> list[Cell]:
    """The design's cells, baseline first. Factorial: every level combination."""
    d = plan.design
    if d.factors:
        names = list(d.factors)
        cells = []
        for combo in itertools.product(*(d.factors[n] for n in names)):
            levels = dict(zip(names, combo))
            role = BASELINE if levels == dict(d.baseline) else ARM
            cells.append(Cell(cell_name(levels), role, levels))
        return sorted(cells, key=lambda c: c.role != BASELINE)
    cells = [Cell("baseline", BASELINE, dict(d.baseline))]
    cells += [Cell(name, ARM, dict(levels)) for name, levels in d.arms.items()]
    return cells


def baseline_cell(plan: Plan) -> Cell:
    return design_cells(plan)[0]


def expand(plan: Plan, *, include_stage2: bool = True) -> list[RunKey]:
    """Every run the plan registers, in execution order (baseline, traps, arms, tau).

    With a seed protocol the arm's stage-2 seeds are listed only when
    `include_stage2` (the runner asks for them once the rule says so).
    """
    fixed = plan.design.fixed
    cells = design_cells(plan)
    base = cells[0]
    keys: list[RunKey] = []
    proto = plan.seed_protocol

    def add(cell: Cell, role: str, stage: str, seeds: Iterable[int], extra=None, name=None):
        name = name or cell.name
        prefix, params = run_id(role, name, 0)[:-1], cell.params(fixed, extra)  # once a cell
        for seed in seeds:
            keys.append(RunKey(f"{prefix}{seed}", name, role, stage, seed, dict(params)))

    if proto is None:
        add(base, BASELINE, MAIN, plan.design.seeds)
    else:
        add(base, BASELINE, VARIANCE, proto.baseline_seeds)
    trap_seeds = proto.stage1 if proto else plan.design.seeds
    for trap in plan.traps:
        add(base, TRAP, MAIN, trap_seeds, trap.params, f"trap:{trap.name}")
    for cell in cells[1:]:
        if proto is None:
            add(cell, ARM, MAIN, plan.design.seeds)
        else:
            add(cell, ARM, STAGE1, proto.stage1)
            if include_stage2:
                add(cell, ARM, STAGE2, proto.stage2)
    if plan.tau is not None and plan.tau.params:
        seeds = range(plan.tau.seed_start, plan.tau.seed_start + plan.tau.samples)
        add(base, TAU, MAIN, seeds, plan.tau.params, "tau")
    _check_unique(keys)
    return keys


def _check_unique(keys: list[RunKey]) -> None:
    seen: dict[str, RunKey] = {}
    for key in keys:
        if key.run_id in seen:
            raise ValueError(f"two runs share the id {key.run_id!r}: {seen[key.run_id]} and {key}")
        seen[key.run_id] = key


def registered_cost(plan: Plan) -> Callable[[Mapping[str, Any]], float] | None:
    """The plan's `trial.cost` as a function of a run's params, or None when it has none.

    The value must be a finite number >= 0 (True and False count as 1 and 0); anything
    else is a PlanError naming trial.cost and the params it was evaluated on.
    """
    rule = cost_rule(plan, file=str(plan.path))
    if rule is None:
        return None

    def cost(params: Mapping[str, Any]) -> float:
        value = rule.evaluate(params)
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise PlanError(f"`{rule.source}` must give a number >= 0 for every run; it gives "
                            f"{value!r} for the params {dict(params)}", file=rule.file,
                            path="trial.cost")
        return float(value)

    return cost


def check_costs(plan: Plan) -> None:
    """Evaluate `trial.cost` on every run of the plan (at lock, before anything is sealed)."""
    cost = registered_cost(plan)
    if cost is not None:
        for key in expand(plan, include_stage2=True):
            cost(key.params)
