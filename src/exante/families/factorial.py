"""Seed 002's factorial family: per factor EFFECT / NO_EFFECT (equivalent within the
registered margin) / INCONCLUSIVE from the full-factorial model; the study verdict as
for threshold (traps behaved, tau beaten).

`analyse_factorial` is the model every plan with `design.factors` gets (whatever
its family); the analysis models of STATS.md section 5 extend it here.
"""

from __future__ import annotations

import math
from typing import Any

from ..design import ARM, BASELINE
from ..verdicts import Verdict
from . import _factorial_fit as fit_
from .base import Family, RateInputs, trap_problems, welch_rates
from .threshold import threshold_verdict


class FactorialFamily(Family):
    name = "factorial"
    verdicts = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE)

    def decide(self, plan, analysis):
        return threshold_verdict(plan, analysis, trap_problems(analysis["traps"]))

    def describe(self, decision) -> str:
        margin = (f", equivalence margin ±{decision.equivalence_margin:g}"
                  if decision.equivalence_margin else "")
        return f"factorial: per-factor EFFECT / NO_EFFECT / INCONCLUSIVE{margin}"

    def design_rates(self, plan, inputs: RateInputs) -> dict[str, Any]:
        if not plan.design.factors:
            return welch_rates(plan, inputs)
        return factorial_rates(plan, inputs.sigma)


def analyse_factorial(plan, cells: list[dict]) -> dict[str, Any] | None:
    """ANOVA, main effects and per-factor verdicts of a plan with `design.factors` (else None)."""
    if not plan.design.factors:
        return None
    rows = [c for c in cells if c["role"] in (BASELINE, ARM)]
    empty = [c["name"] for c in rows if not any(v is not None for v in c["values"])]
    finite = sum(v is not None for c in rows for v in c["values"])
    if empty or finite <= len(rows):
        why = (f"cells without any finished run: {', '.join(empty[:5])}"
               + (f" and {len(empty) - 5} more" if len(empty) > 5 else "") if empty else
               f"{finite} finished runs for {len(rows)} cells leave no residual degrees of freedom")
        return _not_estimable(plan, why)
    data = fit_.factorial_data(plan, cells)
    fitted = fit_.fit(plan, data)
    if fitted is None or not fitted.effects:
        why = "the registered model could not be fitted: " + ", ".join(
            map(str, fitted.flags if fitted is not None else ["a reference level has no runs"]))
        return _not_estimable(plan, why)
    return factorial_section(plan, data, fitted)


def _not_estimable(plan, why: str) -> dict[str, Any]:
    return {"anova": None, "main_effects": None, "equivalence_margin":
            plan.decision.equivalence_margin, "note": f"factorial model not estimable: {why}",
            "factor_verdicts": {f: {"verdict": Verdict.INCONCLUSIVE, "why": why}
                                for f in plan.design.factors}}


def factorial_section(plan, data, fitted) -> dict[str, Any]:
    """result.json's ``factorial``: the table, main effects, model, multiplicity, verdicts."""
    rows = fit_.effects(plan, fitted)
    residual = next(s for s in fitted.strata if s.name == "residual")
    flags = [str(getattr(f, "value", f)) for f in fitted.flags]
    if plan.analysis.model.type == "independent":
        anova = _stats().factorial_anova(data.levels, data.y).to_dict()
    else:  # each term against its own error stratum
        anova = {"formula": f"y ~ cells, error strata of the {fitted.model} model",
                 "terms": [t.to_dict() for t in fitted.terms], "df_resid": residual.df,
                 "ms_resid": residual.ms, "n": fitted.n, "n_failed": fitted.n_failed,
                 "flags": flags}
    main = {"direction": plan.primary.direction, "ci_level": plan.analysis.ci, "effects": rows,
            "cells": fit_.cell_means(data), "df_resid": residual.df, "ms_resid": residual.ms,
            "flags": flags}
    return {"anova": anova, "main_effects": main, "model": fit_.model_record(plan, fitted),
            "multiplicity": fit_.multiplicity(plan, rows),
            "factor_verdicts": fit_.verdicts(plan, rows),
            "equivalence_margin": plan.decision.equivalence_margin}


def _stats():
    from .. import stats

    return stats


def factorial_rates(plan, sigma: float | None) -> dict[str, Any]:
    """Main-effect operating characteristics of the full-factorial model (closed form).

    A level's marginal mean averages m = N / L runs; the difference of two
    levels has SE = sigma * sqrt(2 / m) with the model's residual df. EFFECT is
    declared when the 95% CI excludes 0 (rate alpha under no effect); NO_EFFECT
    when the CI lies inside +-margin (needs sigma in metric units).
    """
    from scipy import stats as sps

    d, alpha = plan.decision, plan.analysis.alpha
    n_cells = math.prod(len(v) for v in plan.design.factors.values())
    total = n_cells * len(plan.design.seeds)
    df = total - n_cells
    if df < 1:
        return {"note": "no residual degrees of freedom: the factorial model cannot be tested"}
    tcrit = float(sps.t.ppf(1 - alpha / 2, df))
    per_factor, comparisons = {}, 0
    for factor, levels in plan.design.factors.items():
        se = math.sqrt(2 / (total / len(levels)))  # in SD units
        ncp = d.smallest_effect / se
        power = float(sps.nct.sf(tcrit, df, ncp) + sps.nct.cdf(-tcrit, df, ncp))
        row = {"levels": len(levels), "runs_per_level": total // len(levels),
               "power_at_smallest_effect": power}
        if sigma is not None and d.equivalence_margin is not None:
            slack = (d.equivalence_margin - tcrit * se * sigma) / (se * sigma)
            row["p_no_effect_when_null"] = max(0.0, float(2 * sps.norm.cdf(slack) - 1))
        per_factor[factor] = row
        comparisons += len(levels) - 1
    powers = [r["power_at_smallest_effect"] for r in per_factor.values()]
    return {"false_pass_rate": alpha, "power": min(powers), "k": comparisons,
            "residual_df": df, "per_factor": per_factor,
            "note": "main effects: a level's CI excludes 0 (EFFECT) at rate alpha under no "
                    "effect; power is the weakest factor's; p_no_effect_when_null is the chance "
                    "of an equivalence finding when the factor truly does nothing"}
