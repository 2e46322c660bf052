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

    def familywise(self, plan, inputs: RateInputs, out) -> dict[str, Any]:
        """Holm across the factor-level contrasts controls the familywise rate at alpha."""
        if plan.design.factors and plan.analysis.correction == "holm" and "k" in out:
            return {"familywise_false_pass": plan.analysis.alpha,
                    "familywise_note": f"Holm across the {out['k']} factor-level contrasts: "
                                       "at most alpha"}
        return {}


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
    """Main-effect operating characteristics of the registered factorial model (closed form).

    A level's marginal mean averages m = N / L runs; the difference of two
    levels has SE = sigma * sqrt(2 / m), on the df of the factor's error stratum
    under the registered model (`model_dfs`). EFFECT is declared when the test
    rejects: at alpha, or under Holm across the k factor-level contrasts at
    worst alpha / k (the power shown uses alpha / k, a lower bound). NO_EFFECT
    when the CI lies inside +-margin (needs sigma in metric units). Under a
    blocked or split-plot model sigma is the within-block SD; how the variance
    splits between strata is not known before the data.
    """
    from scipy import stats as sps

    d, alpha = plan.decision, plan.analysis.alpha
    dfs = model_dfs(plan)
    if min(dfs.values()) < 1:
        return {"note": "no residual degrees of freedom: the factorial model cannot be tested"}
    k = sum(len(v) - 1 for v in plan.design.factors.values())
    holm = plan.analysis.correction == "holm"
    level = alpha / k if holm else alpha
    total = math.prod(len(v) for v in plan.design.factors.values()) * len(plan.design.seeds)
    per_factor = {}
    for factor, levels in plan.design.factors.items():
        df = dfs[factor]
        se = math.sqrt(2 / (total / len(levels)))  # in SD units
        ncp, tcrit = d.smallest_effect / se, float(sps.t.ppf(1 - level / 2, df))
        row = {"levels": len(levels), "runs_per_level": total // len(levels), "error_df": df,
               "power_at_smallest_effect": float(sps.nct.sf(tcrit, df, ncp)
                                                 + sps.nct.cdf(-tcrit, df, ncp))}
        if sigma is not None and d.equivalence_margin is not None:
            t_ci = float(sps.t.ppf(0.5 + plan.analysis.ci / 2, df))
            slack = (d.equivalence_margin - t_ci * se * sigma) / (se * sigma)
            row["p_no_effect_when_null"] = max(0.0, float(2 * sps.norm.cdf(slack) - 1))
        per_factor[factor] = row
    powers = [r["power_at_smallest_effect"] for r in per_factor.values()]
    return {"false_pass_rate": alpha, "power": min(powers), "k": k,
            "residual_df": dfs["__residual__"], "per_factor": per_factor,
            "note": "main effects: EFFECT at rate alpha per contrast under no effect"
                    + (f"; Holm across the {k} factor-level contrasts keeps the familywise "
                       f"rate at alpha, and power is shown at alpha / {k} (a lower bound)"
                       if holm else "") + "; power is the weakest factor's; "
                    "p_no_effect_when_null is the chance of an equivalence finding when the "
                    "factor truly does nothing"}


def model_dfs(plan) -> dict[str, int]:
    """Each factor's error df under the registered model, and the residual's (balanced)."""
    m = plan.analysis.model
    n_cells = math.prod(len(v) for v in plan.design.factors.values())
    seeds = len(plan.design.seeds)
    total = n_cells * seeds
    if m.type == "split_plot":
        wp_cells = math.prod(len(plan.design.factors[f]) for f in m.whole_plot)
        whole = wp_cells * (seeds - 1)
        resid = total - n_cells - whole
        out = {f: whole if f in m.whole_plot else resid for f in plan.design.factors}
    else:
        resid = total - n_cells - (seeds - 1 if m.type == "blocked" else 0)
        out = {f: resid for f in plan.design.factors}
    return {**out, "__residual__": resid}
