"""Each finding in one sentence, in the metric's units, with its interval.

Used by the paper's abstract and results, the deck's finding slides and the
catalogue, so the same finding reads the same everywhere. A sentence only says
what its registered verdict licenses: "effect detected"; "no effect detected"
only with its equivalence margin; "inconclusive" with why.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import fmt, view
from .units import Units
from ..verdicts import Verdict

Result = Mapping[str, Any]


def nice(name: Any) -> str:
    return str(name).replace("_", " ")


def phrase(verdict: str | None, margin_text: str | None) -> str:
    """The honest wording of a factor verdict: never 'no effect' without its margin."""
    if verdict == Verdict.EFFECT:
        return "effect detected"
    if verdict == Verdict.NO_EFFECT:
        return f"no effect detected: equivalent within {margin_text}" if margin_text else \
            "no effect detected"
    return "inconclusive"


def margin_text(result: Result, u: Units) -> str | None:
    m = (view.factorial(result) or {}).get("margin")
    if not m:
        return None
    return f"±{u.diff(m).lstrip('+')}" + (f" {u.diff_unit}" if u.diff_unit else "")


def _effect(result: Result, factor: str) -> Mapping[str, Any] | None:
    f = view.factorial(result) or {}
    return next((e for e in f.get("main_effects", []) if e["factor"] == factor), None)


def level_clauses(result: Result, u: Units, factor: str) -> list[str]:
    """'depth = 4: +3.0 points (95% CI +2.1 to +3.8)' for every non-reference level."""
    e = _effect(result, factor)
    if e is None:
        return []
    out = []
    for lv in e["levels"]:
        if lv["level"] == e["reference"] or lv.get("diff") is None:
            continue
        out.append(f"{nice(factor)} = {lv['level']}: {u.effect(lv['diff'], lv['ci_low'], lv['ci_high'])}")
    return out


def largest(result: Result, factor: str) -> Mapping[str, Any] | None:
    e = _effect(result, factor)
    rated = [lv for lv in (e or {}).get("levels", [])
             if lv["level"] != (e or {}).get("reference") and lv.get("diff") is not None]
    return max(rated, key=lambda lv: abs(lv["diff"])) if rated else None


def compact_sentence(result: Result, u: Units, factor: str) -> str:
    """The finding for one factor in one short sentence (abstract, slides):
    'Depth: effect detected — 4 vs 2: +3.0 points (95% CI +2.1 to +3.8); 8 vs 2: ...'."""
    f = view.factorial(result) or {}
    verdict = (f.get("factor_verdicts", {}).get(factor) or {}).get("verdict")
    e = _effect(result, factor) or {}
    head = f"{nice(factor).capitalize()}: {phrase(verdict, margin_text(result, u))}"
    parts = [f"{lv['level']} vs {e.get('reference')}: "
             f"{u.effect(lv['diff'], lv['ci_low'], lv['ci_high'])}"
             for lv in e.get("levels", []) if lv["level"] != e.get("reference")
             and lv.get("diff") is not None]
    if not parts:
        return head + "."
    tail = ""
    if verdict == Verdict.INCONCLUSIVE:
        tail = "; the intervals include zero and reach beyond the margin"
    return f"{head} — " + "; ".join(parts) + tail + "."


def factor_sentence(result: Result, u: Units, factor: str) -> str:
    """The finding for one factor: verdict phrase, each level's difference and CI, why."""
    f = view.factorial(result) or {}
    verdict = (f.get("factor_verdicts", {}).get(factor) or {}).get("verdict")
    e = _effect(result, factor) or {}
    head = f"{nice(factor).capitalize()}: {phrase(verdict, margin_text(result, u))}"
    clauses = level_clauses(result, u, factor)
    if not clauses:
        return head + " (no interval could be computed)."
    text = f"{head}; against {nice(factor)} = {e.get('reference')}, " + "; ".join(clauses)
    if verdict == Verdict.INCONCLUSIVE:
        text += (" — the intervals include zero but also differences larger than the margin, "
                 "so neither an effect nor its absence is shown")
    elif verdict == Verdict.NO_EFFECT:
        text += " — every interval lies inside the margin"
    inter = [t.replace(":", " × ") for t in e.get("interactions") or []]
    if inter:
        text += f" (averaged over an interaction: {', '.join(inter)})"
    return text + "."


def factor_row(result: Result, u: Units, factor: str) -> dict[str, str]:
    """One factor's finding as short fields (catalogue and deck tables)."""
    f = view.factorial(result) or {}
    verdict = (f.get("factor_verdicts", {}).get(factor) or {}).get("verdict") or "—"
    lv = largest(result, factor)
    e = _effect(result, factor) or {}
    return {"factor": nice(factor), "verdict": verdict,
            "finding": phrase(verdict, margin_text(result, u)),
            "contrast": f"{lv['level']} vs {e.get('reference')}" if lv else fmt.DASH,
            "effect": u.diff_u(lv["diff"]) if lv else fmt.DASH,
            "ci": u.ci(lv["ci_low"], lv["ci_high"]) if lv else fmt.DASH}


def arm_sentence(result: Result, u: Units, c: Mapping[str, Any]) -> str:
    """One experiment cell against the baseline, as its registered rule reads it."""
    delta = u.effect(c.get("mean_diff"), c.get("ci_low"), c.get("ci_high"))
    if result.get("rule") == "sigma":
        s = view.sigma_of(c)
        what = f"{s['verdict'] or '—'}" + (f" ({s['tier']})" if s["tier"] else "")
        return (f"{c['cell']}: {what}, z = {fmt.eff(s['z'])} SD; difference {delta}; "
                f"Cohen's d = {fmt.eff(c.get('cohens_d'))}.")
    p = fmt.get(c, "p_holm", "p_value")
    alpha = c.get("alpha", 0.05)
    what = ("difference detected" if p is not None and p < alpha else "no difference detected")
    label = "Holm-adjusted " if c.get("p_holm") is not None else ""
    return f"{c['cell']}: {what}; difference {delta}, {label}{fmt.p_eq(p)}."


def arm_row(result: Result, u: Units, c: Mapping[str, Any]) -> dict[str, str]:
    if result.get("rule") == "sigma":
        s = view.sigma_of(c)
        verdict = (s["verdict"] or "—") + (f" ({s['tier']})" if s["tier"] else "")
    else:
        p = fmt.get(c, "p_holm", "p_value")
        verdict = ("difference detected" if p is not None and p < c.get("alpha", 0.05)
                   else "no difference detected")
    return {"factor": str(c["cell"]), "verdict": verdict, "finding": verdict,
            "contrast": "vs baseline", "effect": u.diff_u(c.get("mean_diff")),
            "ci": u.ci(c.get("ci_low"), c.get("ci_high"))}


def finding_rows(result: Result, u: Units) -> list[dict[str, str]]:
    """Every finding of a result: one per factor, else one per experiment arm."""
    f = view.factorial(result)
    if f is not None:
        return [factor_row(result, u, k) for k in f["factor_verdicts"]]
    return [arm_row(result, u, c) for c in view.comparisons(result, "arm")]
