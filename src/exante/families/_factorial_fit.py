"""The factorial model of a plan under its registered `analysis.model` (STATS.md section 5).

`factorial_data` lays the design's runs out as `stats.fit_model` wants them
(levels, values, seeds, one label per run); `fit` fits the registered model;
`verdicts` turns a fit into per-factor verdicts with the registered
multiplicity correction; `section` is the ``factorial`` block of result.json.

Multiplicity (the factorial family): an EFFECT claim rests on a factor-level
contrast (a level against the factor's reference); the family is every such
contrast of every factor, and `analysis.correction: holm` adjusts their p
values together. A NO_EFFECT claim needs every level's CI inside the margin:
an intersection-union test, valid without adjustment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

from ..design import ARM, BASELINE
from ..spec_analysis import model_explanation
from ..verdicts import Verdict

AVERAGED_TAG = "averaged over an interaction"


@dataclass(frozen=True)
class FactorialData:
    """One entry per run of the factorial cells: levels, value (NaN = failed), seed, label."""

    levels: dict[str, list]
    y: list[float]
    seeds: list
    runs: list[str]

    def without(self, drop: Sequence[bool]) -> "FactorialData":
        """The same data with the runs where ``drop`` is true left out (set to NaN)."""
        return replace(self, y=[math.nan if d else v for v, d in zip(self.y, drop)])


def factorial_data(plan, cells: list[dict]) -> FactorialData:
    levels: dict[str, list] = {f: [] for f in plan.design.factors}
    y, seeds, runs = [], [], []
    for cell in (c for c in cells if c["role"] in (BASELINE, ARM)):
        for seed, value in zip(cell["seeds"], cell["values"]):
            for factor in levels:
                levels[factor].append(cell["levels"][factor])
            y.append(math.nan if value is None else float(value))
            seeds.append(seed)
            runs.append(f"{cell['name']} seed {seed}")
    return FactorialData(levels, y, seeds, runs)


def fit(plan, data: FactorialData, *, sums_of_squares: bool = True):
    """`stats.fit_model` under the registered model; None when the model is not estimable."""
    import numpy as np

    from .. import stats
    from ..errors import InputError

    m = plan.analysis.model
    try:
        return stats.fit_model(data.levels, data.y, data.seeds, model=m.type,
                               whole_plot=m.whole_plot, block=m.block,
                               reference=dict(plan.design.baseline),
                               direction=plan.primary.direction, ci=plan.analysis.ci,
                               alpha=plan.analysis.alpha, sums_of_squares=sums_of_squares)
    except (InputError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None  # e.g. a leave-one-out refit whose mixed model is singular


def effects(plan, fit_) -> list[dict[str, Any]]:
    """Main effects as dicts, each level with its stratum, df, p and adjusted p."""
    from .. import stats

    out = [e.to_dict() for e in fit_.effects]
    contrasts = [lv for e in out for lv in e["levels"] if lv.get("p_value") is not None]
    raw = [lv["p_value"] for lv in contrasts]
    adjusted = stats.holm(raw) if plan.analysis.correction == "holm" else raw
    for lv, p in zip(contrasts, adjusted):
        lv["p_adjusted"] = p
    dfs = {s.name: s.df for s in fit_.strata}
    for e in out:
        e["error_df"] = dfs.get(e["error"])
        e["tag"] = AVERAGED_TAG if e.get("interactions") else None
    return out


def _signed(x: float) -> str:
    """Four decimals, one spelling of zero: '+0.0292', '+0.0000' (never '-1.882e-17')."""
    x = 0.0 if abs(x) < 5e-5 else x
    return f"{x:+.4f}"


def _p(p: float | None) -> str:
    return "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def factor_verdict(level_rows: list[dict], margin: float | None, alpha: float,
                   correction: str, tag: str | None = None) -> dict[str, str]:
    """EFFECT when a level's (adjusted) test rejects; NO_EFFECT when every CI is inside ±margin."""
    others = [lv for lv in level_rows if lv.get("ci_low") is not None]
    if not others:
        return {"verdict": Verdict.INCONCLUSIVE, "why": "no confidence interval (too few runs)"}
    holm = correction == "holm"
    shown = "; ".join(f"{lv['level']}: {_signed(lv['diff'])} [{_signed(lv['ci_low'])}, "
                      f"{_signed(lv['ci_high'])}]" + (f", Holm p {_p(lv['p_adjusted'])}" if holm
                                                      else "") for lv in others)
    if holm:
        excludes = [lv for lv in others if (lv.get("p_adjusted") or 1.0) < alpha]
        test = f"a level's Holm-adjusted p < {alpha:g}"
    else:
        excludes = [lv for lv in others if lv["ci_low"] > 0 or lv["ci_high"] < 0]
        test = "a level's CI excludes 0"
    if excludes:
        return {"verdict": Verdict.EFFECT, "why": f"{test}{f' ({tag})' if tag else ''}: {shown}"}
    if margin is not None and all(-margin < lv["ci_low"] and lv["ci_high"] < margin
                                  for lv in others):
        return {"verdict": Verdict.NO_EFFECT, "why": f"every CI lies within ±{margin:g}: {shown}"}
    why = ("no level's test rejects and the CIs are wider than the equivalence margin"
           if margin is not None else "no level's test rejects and no equivalence margin "
                                      "was registered")
    return {"verdict": Verdict.INCONCLUSIVE, "why": f"{why}: {shown}"}


def verdicts(plan, effect_rows: list[dict]) -> dict[str, dict[str, str]]:
    a = plan.analysis
    return {e["factor"]: factor_verdict(e["levels"], plan.decision.equivalence_margin, a.alpha,
                                        a.correction, e.get("tag")) for e in effect_rows}


def verdicts_of(plan, data: FactorialData) -> dict[str, str]:
    """Factor -> verdict on ``data`` (for the leave-one-out sensitivity): fit and decide only."""
    fit_ = fit(plan, data, sums_of_squares=False)
    if fit_ is None or not fit_.effects:
        return {f: Verdict.INCONCLUSIVE for f in plan.design.factors}
    return {f: str(v["verdict"]) for f, v in verdicts(plan, effects(plan, fit_)).items()}


def multiplicity(plan, effect_rows: list[dict]) -> dict[str, Any]:
    """Which claims an adjustment covers (result.json `factorial.multiplicity`)."""
    family = [f"{e['factor']}={lv['level']}" for e in effect_rows for lv in e["levels"]
              if lv.get("p_value") is not None]
    holm = plan.analysis.correction == "holm"
    return {"correction": plan.analysis.correction, "alpha": plan.analysis.alpha,
            "k": len(family), "family": family,
            "effect_claims": (f"Holm across all {len(family)} factor-level contrasts of the "
                              "factorial family (every level against its factor's reference)"
                              if holm else "none registered (correction: none): each "
                                           "contrast at the unadjusted level"),
            "equivalence_claims": "per factor, every level's CI inside the margin: an "
                                  "intersection-union test, no adjustment needed"}


def model_record(plan, fit_) -> dict[str, Any]:
    """Which model, which method, how df were taken, the strata (result `factorial.model`)."""
    d = fit_.to_dict()
    keep = ("block", "whole_plot", "method", "df_rule", "strata", "terms", "variance", "n",
            "n_failed", "n_blocks", "flags")
    return {"type": d["model"], **{k: d[k] for k in keep},
            "explanation": model_explanation(plan)}


def cell_means(data: FactorialData) -> list[dict[str, Any]]:
    groups: dict[tuple, list[float]] = {}
    names = list(data.levels)
    for i, v in enumerate(data.y):
        if math.isfinite(v):
            groups.setdefault(tuple(data.levels[n][i] for n in names), []).append(v)
    return [{"levels": dict(zip(names, k)), "n": len(vs), "mean": sum(vs) / len(vs)}
            for k, vs in groups.items()]
