"""Caveats computed from the data (STATS.md section 4), never typed in by hand.

Each caveat is `{"code", "message"}`; the message carries the numbers that
triggered it so a reader can judge it without opening result.json.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import caveats_model, stats
from .design import ARM, BASELINE
from .history import History
from .spec import Plan
from .verdicts import Verdict

PER_CELL_NULL_RATE = 0.031  # rule A as published, 5 vs 3(+2) seeds (STATS.md table)


def _c(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def caveats_for(plan: Plan, analysis: dict[str, Any], result: dict[str, Any]) -> list[dict]:
    """All caveats that apply to this result, in a stable order."""
    cells, comps = analysis["cells"], analysis["comparisons"]
    arms = [c for c in comps if c["role"] == ARM]
    out: list[dict[str, str]] = []
    out += _low_power(plan, cells, result.get("design_check"), result.get("design_check_observed"))
    out += _untestable(result.get("design_check_observed"))
    out += _optional_stopping(analysis)
    out += _winners_curse(result, [a for a in arms if _wins(plan, a)], cells)
    out += _multiplicity(plan, comps)
    out += _shared_baseline(arms, [a for a in arms if _wins(plan, a)])
    out += _outliers(plan, cells, arms)
    out += caveats_model.seeds_correlated(plan, analysis)
    out += caveats_model.fragile(result)
    out += _zero_variance(cells)
    out += _failed(plan, cells)
    out += _untrained(plan, analysis)
    if result.get("deviated"):
        out.append(_c("DEVIATED", "the plan was amended after runs had started; see the "
                                  "amendments: the result is not what was pre-registered"))
    out.append(_c("SEED_VARIANCE_ONLY", "seeds should randomise data order, splits and "
                                        "augmentation too, not only initialisation "
                                        "(Bouthillier et al. 2021); check what the trial's seed "
                                        "controls"))
    out += _wall_clock_confound(cells, result)
    out += _sigma_definition(arms) if plan.decision.rule == "sigma" else []
    out += _test_disagree(arms, plan)
    return out


def _low_power(plan: Plan, cells: list[dict], check: dict | None,
               seen: dict | None = None) -> list[dict]:
    ns = [c["stats"]["n"] for c in cells if c["role"] in (BASELINE, ARM)]
    if not ns or min(ns) > 5:
        return []
    need = stats.seeds_for_power(1.0, alpha=plan.analysis.alpha)
    power = (f"this design's power at d = {check['smallest_effect']:g} is "
             f"{check['power']:.0%} (design check)" if check and check.get("power") is not None
             else "the seed-003 rule's power at d = 1 is about 22%")
    if seen and seen.get("power") is not None and seen.get("sigma_observed"):
        power = _observed_power(check, seen)
    runs = "1 run" if min(ns) == 1 else f"{min(ns)} runs"
    return [_c("LOW_POWER", f"only {runs} per cell at the least: a NEUTRAL or non-significant "
                            f"result is not evidence of no effect ({power}); {need} seeds per "
                            f"group give 80% power at d = 1")]


def _observed_power(check: dict | None, seen: dict) -> str:
    """LOW_POWER's figures from the data: the power at the observed σ beside the assumed one."""
    assumed = (f"{check['power']:.0%} at the assumed σ {_g(seen.get('sigma_assumed'))} (design "
               "check at lock)" if check and check.get("power") is not None else "not checked")
    return (f"power at the registered smallest effect ({_g(seen.get('smallest_effect_units'))}) "
            f"is {seen['power']:.0%} at the observed σ {_g(seen['sigma_observed'])}, "
            f"against {assumed}")


def _g(x: Any) -> str:
    return "—" if x is None else f"{x:.3g}"


def _untestable(seen: dict | None) -> list[dict]:
    """Claims the data could not have decided, said plainly (`observed.lines`)."""
    said = (seen or {}).get("lines") or []
    if not said:
        return []
    return [_c("UNTESTABLE", "at the observed σ: " + "; ".join(said))]


def _optional_stopping(analysis: dict) -> list[dict]:
    history = analysis.get("history")
    extended = history.stage2_decided() if history is not None else \
        History(analysis["records"]).stage2_decided()
    if not extended:
        return []
    return [_c("OPTIONAL_STOPPING", "the registered stage 2 ran (2 more seeds because stage 1 was "
                                    "within 2σ); under no effect this raises the false-WINNER "
                                    "rate from about 2.6% to 3.1% (rule A)")]


def _wins(plan: Plan, arm: dict) -> bool:
    """An arm that wins by the registered rule: the 2σ WINNER under sigma, else the registered
    test (paired under a blocked model, else Welch) significant in the better direction."""
    if plan.decision.rule == "sigma":
        return arm.get("sigma_verdict") == Verdict.WINNER
    p = arm.get("p_test", arm.get("p_value"))
    return p is not None and p < plan.analysis.alpha and (arm.get("mean_diff") or 0) > 0


def _winners_curse(result: dict, winners: list[dict], cells: list[dict]) -> list[dict]:
    small = [a for a in winners if (a.get("n_exp") or 0) <= 5]
    if not small:
        return []
    shown = ", ".join(f"{a['cell']} (g = {_f(a.get('hedges_g'))}, CI of d "
                      f"[{_f(a.get('d_ci_low'))}, {_f(a.get('d_ci_high'))}])" for a in small[:4])
    return [_c("WINNERS_CURSE", f"winning effects estimated from ≤ 5 seeds are inflated (true "
                                f"d = 0.5 showed a mean winning Δ of 1.52σ, 3× too large): "
                                f"{shown}")]


def _multiplicity(plan: Plan, comps: list[dict]) -> list[dict]:
    k = len(comps)
    if k <= 1:
        return []
    test = "paired" if plan.analysis.model.paired else "Welch"
    how = ("Holm-adjusted across this family" if plan.analysis.correction == "holm" else
           "NOT adjusted (the plan registered correction: none)")
    if plan.decision.rule == "sigma":
        expected = stats.expected_false_passes(PER_CELL_NULL_RATE, k)
        rate = f"expected false WINNERs under no effect ≈ {k} × 0.031 = {expected:.2f}"
    else:
        alpha = plan.analysis.alpha
        rate = (f"expected chance rejections at α = {alpha:g} unadjusted ≈ {k} × {alpha:g} = "
                f"{k * alpha:.2f}")
    return [_c("MULTIPLICITY", f"{k} comparisons against the baseline (arms and traps): {test} "
                               f"p values are {how}; {rate}")]


def _shared_baseline(arms: list[dict], wins: list[dict]) -> list[dict]:
    if len(arms) < 2:
        return []
    msg = (f"{len(arms)} cells share one baseline: false wins cluster on an unlucky baseline "
           f"draw (18 null cells gave P(≥1 false WINNER) = 17.8% unadjusted, 1.3% Holm-Welch)")
    if len(wins) >= max(2, len(arms) // 2):
        msg += f"; {len(wins)} of {len(arms)} cells 'win' together — suspect the baseline draw"
    return [_c("SHARED_BASELINE", msg)]


def _outliers(plan: Plan, cells: list[dict], arms: list[dict]) -> list[dict]:
    """Per-cell 2σ verdicts that one run flips: only where the 2σ rule is the registered
    rule (sigma); under any other rule FRAGILE re-decides the registered verdicts."""
    base = next((c for c in cells if c["role"] == BASELINE), None)
    if base is None or plan.decision.rule != "sigma":
        return []
    rule = "A" if plan.decision.sigma == "baseline" else "B"
    flagged = []
    for arm in arms:
        cell = next(c for c in cells if c["name"] == arm["cell"])
        b = np.array([np.nan if v is None else v for v in base["values"]], dtype=float)
        e = np.array([np.nan if v is None else v for v in cell["values"]], dtype=float)
        b, e = b[np.isfinite(b)], e[np.isfinite(e)]
        if len(b) < 3 or len(e) < 3:
            continue

        def fn(bb, ee):
            return stats.sigma_verdict(bb, ee, direction=plan.primary.direction, rule=rule,
                                       threshold=plan.decision.threshold).verdict

        if stats.outlier_sensitive(b, e, fn):
            flagged.append(arm["cell"])
    if not flagged:
        return []
    return [_c("OUTLIER_SENSITIVE", f"leaving out a single run changes the verdict for: "
                                    f"{', '.join(flagged[:6])}")]


def _zero_variance(cells: list[dict]) -> list[dict]:
    zero = [c["name"] for c in cells if "ZERO_VARIANCE" in (c["stats"].get("flags") or [])]
    if not zero:
        return []
    return [_c("ZERO_VARIANCE", f"no spread across seeds in {', '.join(zero[:6])}: no d or p is "
                                "computed there and no WINNER is emitted from it")]


def _failed(plan: Plan, cells: list[dict]) -> list[dict]:
    n = sum(len(c["failed"]) for c in cells)
    if n == 0:
        return []
    how = (f"scored as the registered worst value {plan.failures.worst:g}"
           if plan.failures.policy == "count_as_worst" else "excluded from the statistics")
    kinds = sorted({f["error_kind"] or "?" for c in cells for f in c["failed"]})
    return [_c("FAILED_RUNS", f"{n} run(s) failed ({', '.join(kinds)}); per the plan they are "
                              f"{how}, and every one is listed in the ledger")]


def _untrained(plan: Plan, analysis: dict[str, Any]) -> list[dict]:
    marked = analysis.get("untrained") or []
    if not marked:
        return []
    how = {"exclude": "excluded from every statistic", "keep": "kept in the analysis as they are",
           "count_as_worst": f"scored as the registered worst value {plan.failures.worst}"
           }[plan.failures.untrained]
    shown = "; ".join(f"{m['cell']} seed {m['seed']} ({m['why'].split(': ', 1)[-1]})"
                      for m in marked[:6]) + (f"; and {len(marked) - 6} more"
                                              if len(marked) > 6 else "")
    return [_c("UNTRAINED_RUNS", f"{len(marked)} run(s) ran but did not train by the registered "
                                 f"rule failures.untrained_if `{plan.failures.untrained_if}`; "
                                 f"per the plan they are {how}: {shown}")]


def _wall_clock_confound(cells: list[dict], result: dict) -> list[dict]:
    """Wall-clock deltas mean little when the compared runs did not share conditions."""
    wall = result.get("wall_clock")
    if not wall or wall.get("delta_pct") is None:
        return []
    if result.get("reused_baseline"):
        return [_c("WALL_CLOCK_CONFOUNDED", f"the baseline's wall times were measured by "
                                            f"{result['reused_baseline']['source']} at another "
                                            "time, possibly under other load: the wall-clock "
                                            "delta is indicative only")]
    def load(role):
        xs = [x for c in cells if c["role"] == role for x in c.get("load1", [])
              if isinstance(x, (int, float))]
        return sum(xs) / len(xs) if xs else None
    b, e = load(BASELINE), load(ARM)
    if b is None or e is None or abs(b - e) < 0.5 or max(b, e) / max(min(b, e), 0.1) < 1.25:
        return []
    return [_c("WALL_CLOCK_CONFOUNDED", f"baseline runs finished at a mean load average of "
                                        f"{b:.1f}, experiment runs at {e:.1f}: the "
                                        f"{wall['delta_pct']:+.1f}% wall-clock delta mixes the "
                                        "change with the machine's other work")]


def _sigma_definition(arms: list[dict]) -> list[dict]:
    differ = [a["cell"] for a in arms if a.get("sigma") and
              a["sigma"].get("verdict_rule_a") != a["sigma"].get("verdict_rule_b")]
    if not differ:
        return []
    return [_c("SIGMA_DEFINITION", f"rule A (baseline SD) and rule B (pooled SD) disagree for "
                                   f"{', '.join(differ[:6])}; the registered rule decides")]


def _test_disagree(arms: list[dict], plan: Plan) -> list[dict]:
    bad = []
    for a in arms:
        p, verdict_ = a.get("p_value"), a.get("sigma_verdict")
        if p is None or verdict_ is None:
            continue
        significant = p < plan.analysis.alpha
        if (verdict_ in (Verdict.WINNER, Verdict.LOSER)) != significant:
            bad.append(f"{a['cell']} ({verdict_}, Welch p = {p:.3g})")
    if not bad or plan.decision.rule != "sigma":
        return []
    return [_c("VERDICT_TEST_DISAGREE", f"the 2σ verdict and Welch's test disagree: "
                                        f"{'; '.join(bad[:4])}")]


def _f(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"
