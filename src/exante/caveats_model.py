"""Caveats about the registered analysis model and the verdict's sensitivity (STATS.md 5).

- SEEDS_CORRELATED: the plan registered independent runs, but runs sharing a
  seed move together (intra-block correlation whose CI excludes 0). The
  verdict stays the registered model's; the caveat says what a blocked model
  would have registered and what it would have given.
- FRAGILE: leaving out one run or one seed flips a registered verdict
  (computed by `exante.fragile` under the registered rule and model; this
  module only words it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .design import ARM, BASELINE
from .spec import AnalysisModel, Plan


def _c(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def candidate_blocks(plan: Plan) -> list[AnalysisModel]:
    """The blocked models a plan could have registered: seed blocks, and for a factorial
    each split plot whose runs differ in one factor only (the near-clones of a seed)."""
    out = [AnalysisModel("blocked", "seed")]
    factors = list(plan.design.factors)
    if len(factors) > 1:
        out += [AnalysisModel("split_plot", "seed", tuple(f for f in factors if f != g))
                for g in factors]
    return out


def _block_label(model: AnalysisModel, levels: dict, seed: Any) -> Any:
    return seed if model.type == "blocked" else (seed, *(levels[f] for f in model.whole_plot))


def block_correlations(plan: Plan, cells: list[dict]) -> list[dict[str, Any]]:
    """Intra-block correlation under each candidate blocking, Bonferroni over the candidates."""
    from . import stats

    rows = [(c, s, v) for c in cells if c["role"] in (BASELINE, ARM)
            for s, v in zip(c["seeds"], c["values"]) if v is not None]
    models = candidate_blocks(plan)
    level = 1 - (1 - plan.analysis.ci) / len(models)
    out = []
    for model in models:
        bc = stats.block_correlation([c["name"] for c, _, _ in rows], [v for _, _, v in rows],
                                     [_block_label(model, c["levels"], s) for c, s, _ in rows],
                                     ci=level)
        out.append({"model": model, "corr": bc})
    return out


def seeds_correlated(plan: Plan, analysis: Any) -> list[dict[str, Any]]:
    """SEEDS_CORRELATED when the plan registered independent runs and a blocking's CI > 0."""
    if plan.analysis.model.type != "independent" or len(plan.design.seeds) < 2:
        return []
    found = [r for r in block_correlations(plan, analysis["cells"])
             if r["corr"].ci_low is not None and r["corr"].ci_low > 0]
    if not found:
        return []
    best = max(found, key=lambda r: r["corr"].ci_low)
    shown = "; ".join(_corr_text(r) for r in found)
    return [_c("SEEDS_CORRELATED",
               f"runs sharing a seed are correlated although analysis.model registered "
               f"independent runs: {shown}. The design implies "
               f"analysis.model: {_yaml(best['model'])}{_would_give(plan, analysis, best)}; "
               "the verdicts above stay those of the registered model (choosing the model "
               "after seeing the data is a forking path)")]


def _corr_text(r: dict[str, Any]) -> str:
    bc, m = r["corr"], r["model"]
    where = "seed blocks" if m.type == "blocked" else \
        f"seed within {' × '.join(m.whole_plot)}"
    return (f"{where}: intra-block correlation {bc.rho:.2f} [{bc.ci_low:.2f}, {bc.ci_high:.2f}] "
            f"({bc.ci_level:.1%} CI, F = {bc.F:.2f} on {bc.df_block} and {bc.df_resid} df, "
            f"{bc.n_blocks} blocks of {bc.k:g} runs)")


def _yaml(m: AnalysisModel) -> str:
    wp = f", whole_plot: [{', '.join(m.whole_plot)}]" if m.whole_plot else ""
    return f"{{type: {m.type}, block: {m.block}{wp}}}"


def _would_give(plan: Plan, analysis: Any, best: dict[str, Any]) -> str:
    """The factor verdicts the blocked model would have given (named, not used)."""
    if not plan.design.factors or analysis["factorial"] is None:
        return ""
    from .families import _factorial_fit as fit_

    other = replace(plan, analysis=replace(plan.analysis, model=best["model"]))
    verdicts = fit_.verdicts_of(other, fit_.factorial_data(other, analysis["cells"]))
    return " (it would have given " + ", ".join(f"{k} {v}" for k, v in verdicts.items()) + ")"


def fragile(result: dict[str, Any]) -> list[dict[str, Any]]:
    """FRAGILE: every run or seed whose removal flips a registered verdict, named."""
    sens = result.get("sensitivity") or {}
    flips = sens.get("flips") or []
    if not flips:
        return []
    shown = "; ".join(f"leaving out {f['kind']} {f['unit']} turns {f['target']} "
                      f"{f['before']} into {f['after']}" for f in flips[:8])
    more = f" and {len(flips) - 8} more (result.json sensitivity)" if len(flips) > 8 else ""
    return [_c("FRAGILE", f"a registered verdict hangs on single runs or seeds "
                          f"(re-decided under the registered rule and model, "
                          f"{sens.get('units')} leave-one-out refits): {shown}{more}")]
