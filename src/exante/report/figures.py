"""Figures for the reports, drawn with matplotlib's object API into SVG files.

Each figure is a pure function of result.json. SVGs are written with a fixed
hash salt and no date, so the same result gives the same bytes. Labels come
from user strings (cell names), so `$` is escaped: matplotlib would otherwise
read it as mathtext.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import view

Result = Mapping[str, Any]
FIG_DIR = "figures"
ROLE_COLOURS = {"baseline": "#4d4d4d", "arm": "#1f77b4", "trap": "#d62728", "tau": "#9467bd"}


@dataclass(frozen=True)
class FigureFile:
    """One written figure: `src` is relative to the experiment folder."""

    name: str
    src: str
    caption: str
    alt: str


def _t(text: Any) -> str:
    return str(text).replace("$", r"\$")


def _new(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.subplots()


def _save(fig, folder: Path, name: str) -> str:
    import matplotlib

    (folder / FIG_DIR).mkdir(parents=True, exist_ok=True)
    path = folder / FIG_DIR / f"{name}.svg"
    # fonttype "none" keeps text as <text> (XML-escaped by matplotlib): small files, fast
    with matplotlib.rc_context({"svg.hashsalt": "exante", "svg.fonttype": "none"}):
        fig.savefig(path, format="svg", metadata={"Date": None})
    return f"{FIG_DIR}/{name}.svg"


def _jitter(n: int) -> list[float]:
    # deterministic spread so seeds with equal values stay visible
    return [((i * 7) % 11 - 5) / 40.0 for i in range(n)]


def cells_figure(result: Result, folder: Path) -> FigureFile | None:
    """The design cells' seeds as dots, with the mean and its CI (traps and τ, on other
    scales, have their own table and figure)."""
    cells = [c for c in view.cells(result, "baseline", "arm") if c.get("values")]
    if not cells:
        return None
    fig, ax = _new(7.0, 1.8 + 0.34 * len(cells))
    for y, cell in enumerate(reversed(cells)):
        colour = ROLE_COLOURS.get(cell.get("role"), "#1f77b4")
        values = [v for v in cell["values"] if v is not None]
        ax.scatter(values, [y + j for j in _jitter(len(values))], s=14, color=colour, alpha=0.7,
                   zorder=3)
        s = cell.get("stats") or {}
        if s.get("mean") is not None:
            lo, hi = s.get("ci_low"), s.get("ci_high")
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [y, y], color=colour, linewidth=2, zorder=2)
            ax.plot([s["mean"]], [y], marker="D", color="black", markersize=5, zorder=4)
    ax.set_yticks(range(len(cells)))
    ax.set_yticklabels([_t(c["name"]) for c in reversed(cells)], fontsize=8)
    ax.set_xlabel(_t(f"{view.metric_name(result)} ({view.direction(result)} is better)"))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Seeds per cell: dots; mean ◆ and 95% CI", fontsize=9)
    return FigureFile("cells", _save(fig, folder, "cells"),
                      "Every seed of the baseline and of every experiment cell (dots), the cell "
                      "mean (diamond) and the 95% t-interval of the mean (bar).",
                      "seeds per cell with mean and CI")


def _threshold_lines(result: Result) -> list[tuple[float, str]]:
    if result.get("rule") == "sigma":
        comps = view.comparisons(result, "arm")
        th = view.sigma_of(comps[0])["threshold"] if comps else 2.0
        return [(th, f"{th:g}σ threshold"), (-th, f"−{th:g}σ")]
    dc = result.get("design_check") or {}
    se = dc.get("smallest_effect")
    return [(float(se), f"smallest effect d = {se:g}")] if se else []


def forest_figure(result: Result, folder: Path) -> FigureFile | None:
    """Effect sizes d_s with their CIs, one row per comparison, against the decision threshold."""
    comps = [c for c in view.comparisons(result, None) if c.get("cohens_d_pooled") is not None]
    if not comps:
        return None
    fig, ax = _new(7.0, 1.8 + 0.34 * len(comps))
    for y, c in enumerate(reversed(comps)):
        role = c.get("role") or "arm"
        colour = ROLE_COLOURS.get(role, "#1f77b4")
        lo, hi = c.get("d_ci_low"), c.get("d_ci_high")
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=colour, linewidth=2)
        ax.plot([c["cohens_d_pooled"]], [y], marker="s", color=colour, markersize=6)
    ax.axvline(0.0, color="black", linewidth=0.8)
    for x, label in _threshold_lines(result):
        ax.axvline(x, color="#ff7f0e", linestyle="--", linewidth=1)
        ax.text(x, 1.01, _t(label), fontsize=7, color="#ff7f0e", ha="center", va="bottom",
                transform=ax.get_xaxis_transform(), in_layout=False, clip_on=False)
    ax.set_yticks(range(len(comps)))
    ax.set_yticklabels([_t(c["cell"]) for c in reversed(comps)], fontsize=8)
    ax.set_xlabel("effect size d_s (positive = better), 95% CI")
    ax.grid(axis="x", alpha=0.3)
    return FigureFile("forest", _save(fig, folder, "forest"),
                      "Forest plot: each comparison's effect size d_s (square) with its 95% CI "
                      "(noncentral t), against zero and the decision threshold (dashed).",
                      "forest plot of effect sizes")


def tau_figure(result: Result, folder: Path) -> FigureFile | None:
    """τ's random-instantiation scores against the threshold and the method's seeds."""
    t = view.tau(result)
    if t is None or not t["scores"]:
        return None
    fig, ax = _new(7.0, 2.4)
    scores = [s for s in t["scores"] if s is not None]
    ax.scatter(scores, [0.0 + j for j in _jitter(len(scores))], color=ROLE_COLOURS["tau"],
               s=16, label="τ scores (random)")
    method = next((c for c in view.cells(result) if c["name"] == t["method"]), None)
    if method:
        vals = [v for v in method["values"] if v is not None]
        ax.scatter(vals, [1.0 + j for j in _jitter(len(vals))], color=ROLE_COLOURS["arm"], s=16,
                   label=_t(f"method seeds ({t['method']})"))
    for x, style, label in ((t["tau"], "-", "τ"), (t["threshold"], "--", "threshold"),
                            (t["method_mean"], ":", "method mean")):
        if x is not None:
            ax.axvline(x, linestyle=style, color="black", linewidth=1, label=label)
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["τ", "method"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel(_t(view.metric_name(result)))
    ax.legend(fontsize=7, loc="best")
    return FigureFile("tau", _save(fig, folder, "tau"),
                      "τ: the scores of the random instantiations against the threshold the "
                      "method had to beat, and the method's own seeds.", "tau distribution")


def main_effects_figure(result: Result, folder: Path) -> FigureFile | None:
    f = view.factorial(result)
    if f is None or not f["main_effects"]:
        return None
    effects = f["main_effects"]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.6 * len(effects) + 0.6, 2.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(effects), sharey=True, squeeze=False)[0]
    for ax, e in zip(axes, effects):
        xs = list(range(len(e["levels"])))
        for x, lv in zip(xs, e["levels"]):
            if lv["ci_low"] is not None and lv["ci_high"] is not None:
                ax.plot([x, x], [lv["ci_low"], lv["ci_high"]], color="#1f77b4", linewidth=2)
            ax.plot([x], [lv["diff"] or 0.0], marker="o", color="#1f77b4")
        if f["margin"]:
            ax.axhspan(-f["margin"], f["margin"], color="#2ca02c", alpha=0.12)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(xs)
        ax.set_xticklabels([_t(lv["level"]) for lv in e["levels"]], fontsize=8)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_title(_t(e["factor"]), fontsize=9)
    axes[0].set_ylabel("Δ vs reference level (95% CI)", fontsize=8)
    return FigureFile("main_effects", _save(fig, folder, "main_effects"),
                      "Main effects: each level's marginal-mean difference from the reference "
                      "level with its 95% CI; the shaded band is the registered equivalence "
                      "margin.", "main effects with confidence intervals")


def interaction_figure(result: Result, folder: Path) -> FigureFile | None:
    f = view.factorial(result)
    if f is None or len(f["main_effects"]) < 2:
        return None
    cells = [c for c in view.cells(result, "baseline", "arm") if c["stats"].get("mean") is not None]
    factors = [e["factor"] for e in f["main_effects"]]
    pairs = list(itertools.combinations(factors, 2))[:3]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.4 * len(pairs) + 0.6, 3.0), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (a, b) in zip(axes, pairs):
        a_levels = [lv["level"] for lv in _effect(f, a)["levels"]]
        for b_level in [lv["level"] for lv in _effect(f, b)["levels"]]:
            ys = [_mean_at(cells, {a: x, b: b_level}) for x in a_levels]
            ax.plot(range(len(a_levels)), ys, marker="o", label=_t(f"{b}={b_level}"))
        ax.set_xticks(range(len(a_levels)))
        ax.set_xticklabels([_t(x) for x in a_levels], fontsize=8)
        ax.set_xlabel(_t(a), fontsize=8)
        ax.legend(fontsize=6)
    axes[0].set_ylabel(_t(view.metric_name(result)), fontsize=8)
    return FigureFile("interactions", _save(fig, folder, "interactions"),
                      "Interaction plots: cell means averaged over the remaining factors; "
                      "parallel lines mean no interaction.", "interaction plots")


def _effect(f: Mapping[str, Any], factor: str) -> Mapping[str, Any]:
    return next(e for e in f["main_effects"] if e["factor"] == factor)


def _mean_at(cells: list[Mapping[str, Any]], fixed: Mapping[str, Any]) -> float:
    means = [c["stats"]["mean"] for c in cells
             if all(c.get("levels", {}).get(k) == v for k, v in fixed.items())]
    return sum(means) / len(means) if means else float("nan")


FIGURES_VERSION = 1  # bump when a figure changes, to invalidate the drawn files
MANIFEST = ".figures.json"


def _fingerprint(result: Result) -> str:
    import hashlib
    import json

    text = json.dumps({"v": FIGURES_VERSION, "result": result}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cached(folder: Path, key: str) -> list[FigureFile] | None:
    import json

    try:
        manifest = json.loads((folder / FIG_DIR / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key:
        return None
    figures = [FigureFile(**f) for f in manifest.get("figures", [])]
    return figures if all((folder / f.src).is_file() for f in figures) else None


def write_figures(result: Result, folder: Path) -> list[FigureFile]:
    """Draw every figure that applies to this result into `folder/figures/`.

    The figures are a pure function of the result, so a manifest keyed by the result's
    hash lets the report, the paper and the deck share one drawing.
    """
    import json
    from dataclasses import asdict

    folder = Path(folder)
    key = _fingerprint(result)
    cached = _cached(folder, key)
    if cached is not None:
        return cached
    makers = (cells_figure, forest_figure, tau_figure, main_effects_figure, interaction_figure)
    out = [fig for fig in (make(result, folder) for make in makers) if fig is not None]
    (folder / FIG_DIR).mkdir(parents=True, exist_ok=True)
    (folder / FIG_DIR / MANIFEST).write_text(json.dumps(
        {"key": key, "figures": [asdict(f) for f in out]}, indent=1), encoding="utf-8")
    return out
