"""The design check held against the data (result.json ``design_check_observed``).

At lock the design check assumed a σ (the plan's `sigma_guess`, a stored
baseline measurement or the pilots'). After the runs, `check` sets beside it:

- the observed σ: the pooled within-cell SD of the primary metric over the
  design's cells (and, when the registered model has error strata, each
  stratum's √MS: the σ its contrasts are tested against);
- per factor, from the fitted model itself: the CI half-width of each level's
  contrast (what an equivalence claim must fit inside ±margin), the power at
  the registered smallest effect (`smallest_effect` × assumed σ, in metric
  units) at the observed standard errors, and the seeds per cell that would
  make each claim testable (half-width < margin; 80% power);
- for arms against a baseline, the power of the two-sample test at the
  observed σ;
- `lines`: plain statements, one per claim that could not have succeeded at
  the observed σ, with the seed count that would make it testable.

Seed counts scale the standard errors as 1/√n and every error stratum's df as
(n − 1), which holds for the independent, blocked and split-plot designs alike.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from .design import ARM, BASELINE
from .spec import Plan
from .verdicts import Verdict

MAX_SEEDS = 200
TARGET_POWER = 0.8


def check(plan: Plan, cells: list[Mapping[str, Any]], factorial: Mapping[str, Any] | None,
          assumed: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The observed figures beside the assumed ones (None for a plan without a primary)."""
    if plan.primary is None:
        return None
    sigma, df = pooled_sigma(cells)
    sigma_a = (assumed or {}).get("sigma")
    out: dict[str, Any] = {
        "sigma_assumed": sigma_a, "sigma_source": (assumed or {}).get("sigma_source"),
        "sigma_observed": sigma, "sigma_observed_df": df,
        "sigma_observed_how": "pooled within-cell SD of the primary metric (baseline and arms)",
        "sigma_ratio": sigma / sigma_a if sigma and sigma_a else None,
        "strata": _strata(factorial), "seeds_per_cell": len(plan.design.seeds)}
    effect = plan.decision.smallest_effect * (sigma_a if sigma_a else (sigma or math.nan))
    out["smallest_effect_units"] = effect if math.isfinite(effect) else None
    out["effect_units_from"] = "assumed σ" if sigma_a else "observed σ (no σ was assumed)"
    out["factors"] = _factors(plan, factorial, out["smallest_effect_units"])
    out["arms"] = _arms(plan, cells, sigma, out["smallest_effect_units"]) \
        if not plan.design.factors else None
    out["power"] = _weakest(out)
    out["lines"] = lines(out, plan, (factorial or {}).get("factor_verdicts"))
    return out


def pooled_sigma(cells: list[Mapping[str, Any]]) -> tuple[float | None, int]:
    """Pooled within-cell SD of the analysed values of baseline and arm cells, and its df."""
    ss, df = 0.0, 0
    for c in cells:
        if c.get("role") not in (BASELINE, ARM):
            continue
        xs = [float(v) for v in c.get("values") or () if v is not None]
        if len(xs) >= 2:
            mean = sum(xs) / len(xs)
            ss += sum((x - mean) ** 2 for x in xs)
            df += len(xs) - 1
    return (math.sqrt(ss / df) if df else None), df


def _strata(factorial: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    model = (factorial or {}).get("model") or {}
    return [{"name": s["name"], "df": s["df"], "sigma": math.sqrt(s["ms"])}
            for s in model.get("strata") or () if s.get("ms") is not None and s["ms"] >= 0]


def _factors(plan: Plan, factorial: Mapping[str, Any] | None, effect: float | None
             ) -> dict[str, Any] | None:
    main = (factorial or {}).get("main_effects") or {}
    if not main.get("effects"):
        return None
    margin, level = plan.decision.equivalence_margin, plan.analysis.ci
    n = len(plan.design.seeds)
    out = {}
    for e in main["effects"]:
        rows = [_contrast(lv, main.get("df_resid"), level, margin, effect, n, plan.analysis.alpha)
                for lv in e.get("levels") or () if lv.get("se")]
        if rows:
            out[e["factor"]] = _factor_row(rows, margin)
    return out


def _contrast(lv: Mapping[str, Any], df_resid, level: float, margin: float | None,
              effect: float | None, n: int, alpha: float) -> dict[str, Any]:
    df = float(lv.get("df") or df_resid)
    se = float(lv["se"])
    half = _tq(level, df) * se
    row = {"level": lv.get("level"), "se": se, "df": df, "ci_half_width": half,
           "error": lv.get("error")}
    if margin is not None:
        row["equivalence_testable"] = half < margin
        row["p_equivalence_when_null"] = _p_equivalent(half, se, margin)
        row["seeds_to_test_equivalence"] = _seeds(n, lambda m: _tq(level, _df(df, n, m))
                                                  * se * math.sqrt(n / m) < margin)
        row["seeds_for_80_equivalence"] = _seeds(n, lambda m: _p_equivalent(
            _tq(level, _df(df, n, m)) * se * math.sqrt(n / m), se * math.sqrt(n / m),
            margin) >= TARGET_POWER)
    if effect is not None:
        row["power"] = _power(effect / se, df, alpha)
        row["seeds_for_80_power"] = _seeds(n, lambda m: _power(
            effect / (se * math.sqrt(n / m)), _df(df, n, m), alpha) >= TARGET_POWER)
    return row


def _factor_row(rows: list[dict[str, Any]], margin: float | None) -> dict[str, Any]:
    worst = max(rows, key=lambda r: r["ci_half_width"])
    out = {"levels": rows, "ci_half_width": worst["ci_half_width"], "margin": margin}
    if margin is not None:
        out["equivalence_testable"] = all(r["equivalence_testable"] for r in rows)
        out["p_equivalence_when_null"] = min(r["p_equivalence_when_null"] for r in rows)
        for key in ("seeds_to_test_equivalence", "seeds_for_80_equivalence"):
            out[key] = _max_or_none(r[key] for r in rows)
    if "power" in worst:
        out["power"] = min(r["power"] for r in rows)
        out["seeds_for_80_power"] = _max_or_none(r["seeds_for_80_power"] for r in rows)
    return out


def _arms(plan: Plan, cells: list[Mapping[str, Any]], sigma: float | None,
          effect: float | None) -> dict[str, Any] | None:
    """The two-sample test's power at the observed σ (pooled t, the arms' actual sizes)."""
    base = next((c for c in cells if c.get("role") == BASELINE), None)
    arms = [c for c in cells if c.get("role") == ARM]
    if base is None or not arms or not sigma or effect is None:
        return None
    nb = (base.get("stats") or {}).get("n") or 0
    ne = min((a.get("stats") or {}).get("n") or 0 for a in arms)
    if nb < 2 or ne < 2:
        return None
    se = sigma * math.sqrt(1 / nb + 1 / ne)
    power = _power(effect / se, nb + ne - 2, plan.analysis.alpha)
    need = _seeds(min(nb, ne), lambda m: _power(effect / (sigma * math.sqrt(2 / m)), 2 * m - 2,
                                                plan.analysis.alpha) >= TARGET_POWER)
    return {"n_base": nb, "n_exp": ne, "power": power, "seeds_for_80_power": need,
            "how": "two-sample t at the observed σ (Welch's test is close to it at these sizes)"}


def _weakest(out: Mapping[str, Any]) -> float | None:
    powers = [f["power"] for f in (out.get("factors") or {}).values() if "power" in f]
    if out.get("arms"):
        powers.append(out["arms"]["power"])
    return min(powers) if powers else None


def _plain(v: float) -> str:
    return f"{v:.4g}"


def lines(out: Mapping[str, Any], plan: Plan,
          verdicts: Mapping[str, Any] | None = None, *, num=_plain) -> list[str]:
    """Plain statements: every claim that could not have succeeded at the observed σ (a
    factor found to have an EFFECT is left out: no claim about it failed for want of seeds).
    `num` writes an amount in the metric's units (a report passes its own: '1.3 points')."""
    said = []
    for factor, row in (out.get("factors") or {}).items():
        if ((verdicts or {}).get(factor) or {}).get("verdict") == Verdict.EFFECT:
            continue
        if row.get("equivalence_testable") is False:
            said.append(_equivalence_line(factor, row, num))
        power = row.get("power")
        if power is not None and power < 0.5:
            said.append(f"{factor}: an EFFECT of the registered smallest size "
                        f"({num(out['smallest_effect_units'])}) would more likely be missed than "
                        f"found (power {power:.0%} at the observed σ); "
                        f"{_seeds_text(row.get('seeds_for_80_power'))} give 80% power")
    arms = out.get("arms")
    if arms and arms["power"] < 0.5:
        said.append(f"arms: an effect of the registered smallest size "
                    f"({num(out['smallest_effect_units'])}) would more likely be missed than found "
                    f"(power {arms['power']:.0%} at the observed σ); "
                    f"{_seeds_text(arms['seeds_for_80_power'])} give 80% power")
    return said


def _equivalence_line(factor: str, row: Mapping[str, Any], num=_plain) -> str:
    need, sure = row.get("seeds_to_test_equivalence"), row.get("seeds_for_80_equivalence")
    return (f"{factor}: a NO_EFFECT (equivalence) claim could not have succeeded: at the "
            f"observed σ its CI half-width is {num(row['ci_half_width'])}, wider than the "
            f"±{num(row['margin'])} margin; "
            + (f"{need} seeds per cell would make it testable, {_seeds_text(sure)} give an 80% "
               "chance of showing equivalence when the factor does nothing" if need else
               f"not even {MAX_SEEDS} seeds per cell would make it testable"))


def _p_equivalent(half: float, se: float, margin: float) -> float:
    """P(the CI lies inside ±margin) when the true difference is 0 (normal approximation)."""
    from scipy import stats as sps

    return max(0.0, float(2 * sps.norm.cdf((margin - half) / se) - 1)) if se else 0.0


def _seeds_text(n: int | None) -> str:
    return f"{n} seeds per cell" if n else f"more than {MAX_SEEDS} seeds per cell"


def _max_or_none(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else max(values)


def _df(df: float, n: int, m: int) -> float:
    """An error stratum's df with m seeds instead of n: proportional to (seeds − 1)."""
    return df * (m - 1) / (n - 1) if n > 1 else float(m - 1)


def _seeds(n: int, ok) -> int | None:
    """The fewest seeds per cell (from 2) for which `ok(m)` holds; None up to MAX_SEEDS."""
    return next((m for m in range(2, MAX_SEEDS + 1) if ok(m)), None) if n else None


def _tq(level: float, df: float) -> float:
    from scipy import stats as sps

    return float(sps.t.ppf(0.5 + level / 2, df))


def _power(ncp: float, df: float, alpha: float) -> float:
    from scipy import stats as sps

    t = float(sps.t.ppf(1 - alpha / 2, df))
    return float(sps.nct.sf(t, df, ncp) + sps.nct.cdf(-t, df, ncp))
