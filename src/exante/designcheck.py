"""Before anything runs: can the registered rules decide anything at all?

Two checks, both at lock time:

- `gates`: every registered rule (acceptance, tiers, kill rules, trap checks)
  is evaluated on synthetic statistics on both sides of its threshold; a rule
  whose value never changes cannot fail (or cannot pass) and is refused.
- `design_check`: the registered decision rule itself is simulated: its
  false-pass rate under no effect, its power at the registered smallest effect,
  the chance of at least one false pass across all cells, and the seeds
  needed for 80% power — with the measured baseline variance when it exists,
  else the σ the plan states.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterator

import numpy as np

from . import rules, stats
from .design import design_cells
from .errors import RuleError
from .spec import Plan

_BASES = (-1.0, 0.0, 0.05, 0.5, 1.0, 2.0, 100.0)
_RATIOS = (-2.0, 0.0, 0.5, 0.8, 0.85, 0.9, 0.99, 1.0, 1.01, 1.1, 1.2, 1.5, 2.0, 10.0)


def registered_rules(plan: Plan) -> list[tuple[str, str, str]]:
    """(YAML path, expression, kind) of every rule the plan registers."""
    out = []
    d = plan.decision
    if d.acceptance:
        out.append(("decision.acceptance", d.acceptance, "decision"))
    for name in ("strict", "lenient", "catastrophic"):
        if getattr(d.tiers, name):
            out.append((f"decision.{name}", getattr(d.tiers, name), "decision"))
    out += [(f"kill[{i}].when", k.when, "kill") for i, k in enumerate(plan.kill)]
    out += [(f"traps.{t.name}.check", t.check, "trap") for t in plan.traps if t.check]
    return out


def _view(name: str, mean: float, passed: bool) -> dict[str, Any]:
    sd = 0.05 * abs(mean) + 0.01
    return {"name": name, "mean": mean, "sd": sd, "sem": sd / math.sqrt(3), "median": mean,
            "min": mean - sd, "max": mean + sd, "n": 3, "n_failed": 0,
            "ci_low": mean - 2.5 * sd, "ci_high": mean + 2.5 * sd, "passed": passed}


def _synthetic_scopes(plan: Plan) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Scopes on a grid of baseline levels × relative levels × trap/tau outcomes."""
    n_arms = max(1, len(design_cells(plan)) - 1)
    for base, ratio, passed in itertools.product(_BASES, _RATIOS, (True, False)):
        other = base * ratio if base else ratio
        b = _view("baseline", base, passed)
        sd = b["sd"]
        arm = {**_view("arm", other, passed), "delta": other - base, "z": (other - base) / sd,
               "d": (other - base) / sd, "p": 0.01 if abs(other - base) > 2 * sd else 0.5}
        arm["p_holm"] = arm["p"]
        arms = [arm] * n_arms
        traps = {t.name: _view(f"trap:{t.name}", other, passed) for t in plan.traps}
        tau = {"value": other, "threshold": other * 1.1, "mean": other, "sd": sd,
               "beaten": passed, "margin": 0.1}
        scope = {"baseline": b, "arms": arms, "cells": [b, *arms], "experiment": arm,
                 "best": arm, "traps": traps, "tau": tau, "cell": traps[plan.traps[0].name]
                 if plan.traps else arm}
        yield scope, {"baseline_mean": base, "other_mean": other, "traps_passed": passed}


def gates(plan: Plan) -> list[dict[str, Any]]:
    """For each rule: an input where it holds and one where it does not. Raises if none flips."""
    out = []
    scopes = list(_synthetic_scopes(plan))
    for where, text, kind in registered_rules(plan):
        rule = rules.parse(text, where=where, file=str(plan.path))
        seen: dict[bool, dict] = {}
        for scope, inputs in scopes:
            if kind == "trap":
                scope = {**scope, "cell": next(iter(scope["traps"].values()), scope["cell"])}
            value = rule.evaluate(scope)
            if isinstance(value, bool) and value not in seen:
                seen[value] = inputs
            if len(seen) == 2:
                break
        if len(seen) < 2:
            stuck = "always true" if True in seen else "never true" if False in seen else "undecidable"
            raise RuleError(f"rule {text!r} cannot flip: it is {stuck} on every synthetic input "
                            f"(baseline means {list(_BASES)}, other cells at ratios "
                            f"{list(_RATIOS)}); a rule that cannot fail decides nothing",
                            file=str(plan.path), path=where)
        out.append({"rule": where, "expression": text, "flipped": True,
                    "holds_at": seen[True], "fails_at": seen[False]})
    return out


# ---------------------------------------------------------------- simulation


def _group_sizes(plan: Plan) -> tuple[int, int, int]:
    if plan.seed_protocol is not None:
        p = plan.seed_protocol
        return len(p.baseline_seeds), len(p.stage1), len(p.stage2)
    n = len(plan.design.seeds)
    return n, n, 0


def design_check(plan: Plan, *, sigma: float | None, sigma_source: str,
                 mean: float | None = None, reps: int = 20_000,
                 rng: np.random.Generator | None = None) -> dict[str, Any]:
    """Operating characteristics of the registered rule (see module docstring)."""
    rng = rng or np.random.default_rng(20261121)
    n_base, n_exp, n_ext = _group_sizes(plan)
    d = plan.decision
    k = max(1, len(design_cells(plan)) - 1)
    out: dict[str, Any] = {"rule": d.rule, "sigma": sigma, "sigma_source": sigma_source,
                           "smallest_effect": d.smallest_effect, "k": k, "n_base": n_base,
                           "n_exp": n_exp, "n_stage2": n_ext, "reps": reps,
                           "seeds_for_80_power": stats.seeds_for_power(d.smallest_effect,
                                                                      alpha=plan.analysis.alpha)}
    if n_base < 2 or n_exp < 2:
        out["note"] = "fewer than 2 seeds per group: no variance, no test, no verdict possible"
        return out
    if d.rule == "sigma":
        rule = "A" if d.sigma == "baseline" else "B"
        null = stats.simulate_sigma_protocol(d=0.0, n_base=n_base, n_stage1=n_exp,
                                             n_stage2=n_ext, rule=rule, threshold=d.threshold,
                                             reps=reps, rng=rng)
        alt = stats.simulate_sigma_protocol(d=d.smallest_effect, n_base=n_base, n_stage1=n_exp,
                                            n_stage2=n_ext, rule=rule, threshold=d.threshold,
                                            reps=reps, rng=rng)
        out.update(false_pass_rate=null.p_winner, power=alt.p_winner,
                   extension_rate_null=null.p_extension)
    elif d.rule == "factorial" and plan.design.factors:
        out.update(_factorial_rates(plan, sigma))
    else:
        rate0, rate1 = _welch_rates(plan, n_base, n_exp, reps, rng)
        out.update(false_pass_rate=rate0, power=rate1,
                   note="per-cell rates of the Welch test at the registered alpha (the "
                        "comparison every arm gets); threshold expressions are checked by gates")
    out["familywise_false_pass"] = stats.familywise_false_pass(out["false_pass_rate"],
                                                               out.get("k", k))
    if d.rule == "sigma" and k > 1:
        shared = stats.simulate_shared_baseline(k=k, d=0.0, n_base=n_base, n_stage1=n_exp,
                                                n_stage2=n_ext, rule=rule,
                                                threshold=d.threshold, reps=min(reps, 5000),
                                                rng=rng)
        out.update(familywise_false_pass=shared.p_any_winner,
                   familywise_independent=shared.p_any_independent,
                   familywise_holm_welch=shared.p_any_holm_welch)
    if sigma is not None:
        out["smallest_effect_units"] = d.smallest_effect * sigma
    return out


def _factorial_rates(plan: Plan, sigma: float | None) -> dict[str, Any]:
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


def _welch_rates(plan: Plan, n_base: int, n_exp: int, reps: int, rng) -> tuple[float, float]:
    alpha = plan.analysis.alpha
    def rate(effect: float) -> float:
        b = rng.standard_normal((reps, n_base))
        e = rng.standard_normal((reps, n_exp)) + effect
        return float(np.mean(stats.welch_pass(b, e, alpha=alpha)))
    return rate(0.0), rate(plan.decision.smallest_effect)


def lines(check: dict[str, Any], gate_rows: list[dict[str, Any]]) -> list[str]:
    """Human lines for `exante lock`."""
    out = [f"design check ({check['rule']} rule, {check['n_base']} baseline vs {check['n_exp']}"
           + (f"(+{check['n_stage2']})" if check.get("n_stage2") else "") + " seeds, "
           f"{check['k']} comparison(s); σ from {check['sigma_source']}):"]
    if "false_pass_rate" in check:
        out += [f"  false pass under no effect   {check['false_pass_rate']:.3f}",
                f"  power at d = {check['smallest_effect']:g}          {check['power']:.3f}",
                f"  P(≥1 false pass, {check['k']} comparisons)  {check['familywise_false_pass']:.3f}"]
    out.append(f"  seeds per group for 80% power at d = {check['smallest_effect']:g}: "
               f"{check['seeds_for_80_power']}")
    for factor, row in (check.get("per_factor") or {}).items():
        extra = (f", P(equivalence claimed | no effect) {row['p_no_effect_when_null']:.2f}"
                 if "p_no_effect_when_null" in row else "")
        out.append(f"  {factor}: {row['runs_per_level']} runs per level, power "
                   f"{row['power_at_smallest_effect']:.2f}{extra}")
    if check.get("note"):
        out.append(f"  note: {check['note']}")
    if gate_rows:
        out.append(f"  gates: {len(gate_rows)} registered rule(s) can flip "
                   f"({', '.join(g['rule'] for g in gate_rows)}); the inputs on each side are "
                   "in the ledger's DESIGN_CHECK record")
    return out
