"""`analysis.model` and the factorial checks that need the whole plan.

`analysis_model` parses ``analysis.model`` (a public contract: scripts write
these keys)::

    model: {type: independent}                                    # the default
    model: {type: blocked, block: seed}                           # seed = block, all cells
    model: {type: split_plot, block: seed, whole_plot: [depth]}   # seed within whole plots

`check_factorial` refuses a factorial plan whose model cannot be fitted (a
factor with one level). Both raise `PlanError` naming the YAML path.
"""

from __future__ import annotations

from typing import Any

from .errors import PlanError
from .spec import AnalysisModel, Design
from .spec_reader import Reader

MODEL_TYPES = ("independent", "blocked", "split_plot")
BLOCKS = ("seed",)  # the run keys a block can be; a seed is the only one every run has


def analysis_model(r: Reader, node: Any, design: Design) -> AnalysisModel:
    """The registered analysis model (default independent)."""
    if node is None:
        return AnalysisModel()
    if isinstance(node, str):
        node = {"type": node}
    m = r.mapping(node, "analysis.model", ("type", "block", "whole_plot"))
    kind = r.string(m.get("type"), "analysis.model.type", required=True, choices=MODEL_TYPES)
    if kind == "independent":
        for key in ("block", "whole_plot"):
            if m.get(key) is not None:
                raise PlanError(f"type independent has no {key}; register type blocked or "
                                "split_plot to model blocks", file=r.file,
                                path=f"analysis.model.{key}")
        return AnalysisModel()
    block = r.string(m.get("block"), "analysis.model.block", choices=BLOCKS) or "seed"
    if kind == "blocked":
        if m.get("whole_plot") is not None:
            raise PlanError("type blocked has no whole_plot; use type split_plot",
                            file=r.file, path="analysis.model.whole_plot")
        return AnalysisModel(kind, block)
    return AnalysisModel(kind, block, _whole_plot(r, m.get("whole_plot"), design))


def _whole_plot(r: Reader, node: Any, design: Design) -> tuple[str, ...]:
    path = "analysis.model.whole_plot"
    if node is None:
        raise PlanError("type split_plot needs whole_plot: the factors whose levels are fixed "
                        "for a whole block (e.g. [depth, activation])", file=r.file, path=path)
    if isinstance(node, str):
        node = [node]
    if not isinstance(node, list) or not node or not all(isinstance(x, str) for x in node):
        raise r.fail(path, "a non-empty list of factor names", node)
    factors = list(design.factors)
    for i, name in enumerate(node):
        if name not in factors:
            known = ", ".join(factors) if factors else "none (give design.factors)"
            raise PlanError(f"names no factor; design.factors are {known}", file=r.file,
                            path=f"{path}[{i}]")
    if len(set(node)) != len(node):
        raise PlanError("factors must be distinct", file=r.file, path=path)
    if set(node) == set(factors):
        raise PlanError("lists every factor: a split plot needs at least one factor that "
                        "varies within a block (the split-plot factors)", file=r.file, path=path)
    return tuple(node)


def check_factorial(plan: Any, r: Reader) -> None:
    """A factorial plan's factors each need two levels: one level has no effect to estimate."""
    if plan.decision.rule != "factorial":
        return
    for name, levels in plan.design.factors.items():
        if len(levels) < 2:
            raise PlanError(f"a factorial factor needs at least 2 levels, got {list(levels)}; "
                            f"move {name} to design.fixed or add a level", file=r.file,
                            path=f"design.factors.{name}")
    if plan.analysis.model.paired and not plan.design.seeds:
        raise PlanError(f"model {plan.analysis.model.type} blocks on the seed: list "
                        "design.seeds", file=r.file, path="analysis.model")


def model_explanation(plan: Any) -> str:
    """One line: the registered model and what it means for the error terms (lock, result)."""
    m = plan.analysis.model
    paired = (f"; every cell-vs-baseline comparison is paired by {m.block} (paired Δ, its CI, "
              "d_z)") if m.paired else ""
    if m.type == "blocked":
        return (f"blocked on {m.block}: runs sharing a {m.block} form a block across all "
                f"cells (y ~ cells + {m.block}); effects are tested against the residual "
                f"after the blocks{paired}")
    if m.type == "split_plot":
        wp = ", ".join(m.whole_plot)
        rest = ", ".join(f for f in plan.design.factors if f not in m.whole_plot)
        return (f"split plot: a block is one {m.block} within one combination of {wp}; "
                f"{wp} against the whole-plot error, {rest} and every interaction with them "
                f"against the split-plot (residual) error{paired}")
    return ("independent runs: every effect against the full model's residual; runs sharing "
            "a seed are assumed uncorrelated (SEEDS_CORRELATED checks it on the data)")
