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

from . import families, rules, stats
from .families import RateInputs
from .design import design_cells
from .errors import RuleError
from .spec import Plan
from .spec_analysis import model_explanation

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
    out["analysis_model"] = model_explanation(plan)
    if n_base < 2 or n_exp < 2:
        out["note"] = "fewer than 2 seeds per group: no variance, no test, no verdict possible"
        return out
    family = families.get(d.rule)
    inputs = RateInputs(n_base, n_exp, n_ext, k, sigma, reps, rng)
    out.update(family.design_rates(plan, inputs))
    out["familywise_false_pass"] = stats.familywise_false_pass(out["false_pass_rate"],
                                                               out.get("k", k))
    out.update(family.familywise(plan, inputs, out))
    if sigma is not None:
        out["smallest_effect_units"] = d.smallest_effect * sigma
    return out


def lines(check: dict[str, Any], gate_rows: list[dict[str, Any]]) -> list[str]:
    """Human lines for `exante lock`."""
    out = [f"design check ({check['rule']} rule, {check['n_base']} baseline vs {check['n_exp']}"
           + (f"(+{check['n_stage2']})" if check.get("n_stage2") else "") + " seeds, "
           f"{check['k']} comparison(s); σ from {check['sigma_source']}):"]
    if "false_pass_rate" in check:
        out += [f"  false pass under no effect   {check['false_pass_rate']:.3f}",
                f"  power at d = {check['smallest_effect']:g}          {check['power']:.3f}",
                f"  P(≥1 false pass, {check['k']} comparisons)  {check['familywise_false_pass']:.3f}"]
    if check.get("analysis_model"):
        out.append(f"  analysis model: {check['analysis_model']}")
    out.append(f"  seeds per group for 80% power at d = {check['smallest_effect']:g}: "
               f"{check['seeds_for_80_power']}")
    for factor, row in (check.get("per_factor") or {}).items():
        extra = (f", P(equivalence claimed | no effect) {row['p_no_effect_when_null']:.2f}"
                 if "p_no_effect_when_null" in row else "")
        df = f", error df {row['error_df']}" if "error_df" in row else ""
        out.append(f"  {factor}: {row['runs_per_level']} runs per level{df}, power "
                   f"{row['power_at_smallest_effect']:.2f}{extra}")
    if check.get("note"):
        out.append(f"  note: {check['note']}")
    pilot = check.get("pilot")
    if pilot:
        stated = check.get("sigma_stated")
        out.append(f"  σ = {pilot['sigma']:.4g} was measured by {pilot['runs']} pilot run(s) on "
                   f"{pilot['metric']} (seeds {pilot['seeds']}), not assumed"
                   + (f"; the plan's sigma_guess {stated:g} is not used" if stated is not None
                      else ""))
    if gate_rows:
        out.append(f"  gates: {len(gate_rows)} registered rule(s) can flip "
                   f"({', '.join(g['rule'] for g in gate_rows)}); the inputs on each side are "
                   "in the ledger's DESIGN_CHECK record")
    return out
