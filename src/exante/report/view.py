"""Read result.json in one place, whatever spelling its producer used.

`exante decide` stores statistics records as their `to_dict()` (``p_value``,
``partial_eta_sq``, ``frac_beyond_threshold`` …) while the reports issue
names some of them differently (``p``, ``partial_eta2``, ``fraction_beating``).
These helpers accept either and hand the renderers one normalised shape.
"""

from __future__ import annotations

from typing import Any, Mapping

from .fmt import get
from ..verdicts import Verdict

Result = Mapping[str, Any]


def cells(result: Result, *roles: str) -> list[dict[str, Any]]:
    return [c for c in result.get("cells") or [] if not roles or c.get("role") in roles]


def baseline(result: Result) -> dict[str, Any] | None:
    found = cells(result, "baseline")
    return found[0] if found else None


def comparisons(result: Result, role: str | None = "arm") -> list[dict[str, Any]]:
    """Comparisons of one role (arm / trap); a comparison without a role counts as an arm
    unless its cell is a trap cell."""
    out = []
    for c in result.get("comparisons") or []:
        r = c.get("role") or ("trap" if str(c.get("cell", "")).startswith("trap:") else "arm")
        if role is None or r == role:
            out.append(c)
    return out


def comparison_for(result: Result, cell: str) -> dict[str, Any] | None:
    return next((c for c in result.get("comparisons") or [] if c.get("cell") == cell), None)


def wall_times(cell: Mapping[str, Any] | None) -> list[float]:
    """Per-seed wall times (s) of a cell's finished runs, when decide stored them."""
    if not cell:
        return []
    values = cell.get("values") or []
    walls = cell.get("wall_s") or []
    return [float(w) for v, w in zip(values, walls)
            if v is not None and isinstance(w, (int, float))]


def metric_name(result: Result) -> str:
    return (result.get("primary") or {}).get("name") or "metric"


def direction(result: Result) -> str:
    return (result.get("primary") or {}).get("direction") or "higher"


def tau(result: Result) -> dict[str, Any] | None:
    t = result.get("tau")
    if not t:
        return None
    return {
        "tau": get(t, "tau", "value"), "threshold": t.get("threshold"),
        "margin": t.get("margin"), "scores": list(t.get("scores") or []),
        "mean": get(t, "mean", "tau_mean"), "sd": get(t, "sd", "tau_sd"),
        "method": get(t, "method_cell", "method"), "method_mean": t.get("method_mean"),
        "fraction_beating": get(t, "fraction_beating", "frac_beyond_threshold"),
        "t_p": get(t, "t_p", "p_value"), "null_probability": get(t, "null_probability",
                                                                  "rank_null_p"),
        "passed": t.get("passed"), "refused": bool(t.get("refused")),
        "flags": list(t.get("flags") or []),
    }


def factorial(result: Result) -> dict[str, Any] | None:
    f = result.get("factorial")
    if not f:
        return None
    anova = f.get("anova") or []
    df_resid = f.get("df_resid")
    if isinstance(anova, Mapping):  # an AnovaTable.to_dict()
        df_resid = anova.get("df_resid", df_resid)
        anova = anova.get("terms") or []
    me = f.get("main_effects") or []
    cell_means = f.get("cell_means") or []
    if isinstance(me, Mapping):  # a MainEffects.to_dict()
        cell_means = cell_means or me.get("cells") or []
        me = me.get("effects") or []
    return {
        "anova": [{"term": t.get("term"), "df": t.get("df"), "F": t.get("F"),
                   "p": get(t, "p", "p_value"),
                   "partial_eta2": get(t, "partial_eta2", "partial_eta_sq"),
                   "error_df": t.get("error_df")} for t in anova],
        "df_resid": df_resid,
        "main_effects": [{"factor": e.get("factor"), "reference": e.get("reference"),
                          "tag": e.get("tag"),
                          "levels": [{"level": lv.get("level"),
                                      "marginal_mean": get(lv, "marginal_mean", "mean"),
                                      "diff": lv.get("diff"), "ci_low": lv.get("ci_low"),
                                      "ci_high": lv.get("ci_high")}
                                     for lv in e.get("levels") or []]} for e in me],
        "factor_verdicts": dict(f.get("factor_verdicts") or {}),
        "cell_means": [{"levels": dict(c.get("levels") or {}), "mean": c.get("mean"),
                        "n": c.get("n")} for c in cell_means],
        "margin": f.get("equivalence_margin"),
        "model": dict(f.get("model") or {}),
        "multiplicity": dict(f.get("multiplicity") or {}),
    }


def sigma_of(comp: Mapping[str, Any]) -> dict[str, Any]:
    """The 2σ-rule numbers of one comparison (z under both rules, verdicts, extension)."""
    s = dict(comp.get("sigma") or {})
    return {
        "verdict": get(comp, "sigma_verdict", default=s.get("verdict")),
        "tier": get(comp, "sigma_tier", default=s.get("tier")),
        "rule": s.get("rule"), "threshold": s.get("threshold", 2.0),
        "z": s.get("z"), "z_a": get(s, "z_rule_a", default=comp.get("z_base_sigma")),
        "z_b": get(s, "z_rule_b", default=comp.get("z_pooled_sigma")),
        "verdict_a": s.get("verdict_rule_a"), "verdict_b": s.get("verdict_rule_b"),
        "extended": bool(s.get("extended")),
    }


def caveat_codes(result: Result) -> set[str]:
    return {c.get("code") for c in result.get("caveats") or []}


def killed(result: Result) -> bool:
    return result.get("verdict") == Verdict.KILL or bool(result.get("kill"))
