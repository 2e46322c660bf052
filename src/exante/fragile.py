"""Leave-one-out sensitivity of the registered verdicts (STATS.md section 5, FRAGILE).

Each run and each seed is left out in turn and the registered verdicts are
decided again under the registered rule and model: the factor verdicts by
refitting the factorial model alone (`families._factorial_fit.verdicts_of`), the
study verdict by the caller's in-memory re-decision (no ledger read, no I/O).
Every (unit, verdict) pair that changes is kept; `caveats_model.fragile` words
them. result.json ``sensitivity``: {units, method, flips: [{kind, unit, target,
before, after}]}.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from . import stats
from .families import _factorial_fit as fit_

STUDY = "study verdict"

Runs = list[tuple[str, Any]]  # (cell, seed) of every terminal run


def sensitivity(plan, analysis, verdict: str,
                study_without: Callable[[Callable[[str, Any], bool]], str]) -> dict[str, Any]:
    """Flips of the study verdict and the factor verdicts, leaving out each run and seed."""
    runs = [(r["data"]["cell"], r["data"]["seed"]) for r in analysis["results"]]
    seeds = sorted({s for _, s in runs}, key=lambda s: (str(type(s)), s))
    units: list[tuple[str, Hashable]] = ([("run", f"{c} seed {s}") for c, s in runs]
                                          + [("seed", s) for s in seeds])
    base = {STUDY: str(verdict)}
    data = _data(plan, analysis)
    if data is not None:
        base.update({f: str(v["verdict"]) for f, v in
                     analysis["factorial"]["factor_verdicts"].items()})

    def drop(kind: str, unit: Hashable) -> Callable[[str, Any], bool]:
        if kind == "seed":
            return lambda cell, seed: seed == unit
        return lambda cell, seed: f"{cell} seed {seed}" == unit

    def verdicts_without(kind: str, unit: Hashable) -> dict[str, str]:
        out = {STUDY: str(study_without(drop(kind, unit)))}
        if data is not None:
            gone = drop(kind, unit)
            mask = [gone(label.rsplit(" seed ", 1)[0], s) for label, s in zip(data.runs,
                                                                               data.seeds)]
            out.update(fit_.verdicts_of(plan, data.without(mask)))
        return out

    flips = stats.leave_one_out(base, units, verdicts_without)
    return {"units": len(units), "method": "each run and each seed left out in turn; the "
            "registered rule and model decided again on the rest",
            "flips": [f.to_dict() for f in flips]}


def _data(plan, analysis):
    factorial = analysis["factorial"]
    if not plan.design.factors or not factorial or not factorial.get("main_effects"):
        return None
    return fit_.factorial_data(plan, analysis["cells"])
