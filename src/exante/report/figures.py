"""Figures for the reports, drawn with matplotlib's object API into SVG files.

Each figure is a pure function of result.json. Every figure is drawn at the
width it is printed at (the paper's text width, 7 in), so the font sizes set
here are the sizes on paper: nothing is smaller than 8 pt. Values are in the
metric's own units (`units.Units`: accuracy in percent, differences in
points). SVGs are written with a fixed hash salt and no date, so the same
result gives the same bytes. Labels come from user strings (cell names), so
`$` is escaped: matplotlib would otherwise read it as mathtext.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from . import view
from .units import Units, units_for

Result = Mapping[str, Any]
FIG_DIR = "figures"
WIDTH_IN = 7.0  # the paper's text width: figures print at 100%, so pt sizes are print sizes
MIN_PT = 8.0
# the paper's page fitting draws its figures taller or shorter; widths and fonts never change
HEIGHT_SCALE: ContextVar[float] = ContextVar("HEIGHT_SCALE", default=1.0)
PREFIX: ContextVar[str] = ContextVar("PREFIX", default="")
ROLE_COLOURS = {"baseline": "#4d4d4d", "arm": "#1f5fbf", "trap": "#c0392b", "tau": "#7d3c98"}
RC = {"font.size": 8.5, "axes.titlesize": 9.0, "axes.labelsize": 8.5, "xtick.labelsize": 8.0,
      "ytick.labelsize": 8.0, "legend.fontsize": 8.0, "figure.titlesize": 9.0,
      "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "exante",
      "svg.fonttype": "none", "font.family": "DejaVu Sans"}


@dataclass(frozen=True)
class FigureFile:
    """One written figure: `src` is relative to the experiment folder."""

    name: str
    src: str
    caption: str
    alt: str


def _t(text: Any) -> str:
    return str(text).replace("$", r"\$")


@contextmanager
def style():
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def new_figure(height: float, ncols: int = 1, nrows: int = 1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height * HEIGHT_SCALE.get()), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig, folder: Path, name: str) -> str:
    (folder / FIG_DIR).mkdir(parents=True, exist_ok=True)
    name = PREFIX.get() + name
    path = folder / FIG_DIR / f"{name}.svg"
    fig.savefig(path, format="svg", metadata={"Date": None})
    return f"{FIG_DIR}/{name}.svg"


def jitter(n: int) -> list[float]:
    # deterministic spread so seeds with equal values stay visible
    return [((i * 7) % 11 - 5) / 40.0 for i in range(n)]


def runs_phrase(n: int, cells: int | None = None) -> str:
    return f"{n} runs" + (f" in {cells} cells" if cells else "")


def _n_runs(cells: list[Mapping[str, Any]]) -> int:
    return sum(len([v for v in c.get("values") or [] if v is not None]) for c in cells)


# ---------------------------------------------------------------- every cell (non-factorial)


def cells_figure(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """The design cells' seeds as dots, with the mean and its CI, one row per cell."""
    cells = [c for c in view.cells(result, "baseline", "arm") if c.get("values")]
    if not cells:
        return None
    fig, axes = new_figure(1.0 + 0.32 * len(cells))
    ax = axes[0][0]
    for y, cell in enumerate(reversed(cells)):
        colour = ROLE_COLOURS.get(cell.get("role"), ROLE_COLOURS["arm"])
        values = [u.x(v) for v in cell["values"] if v is not None]
        ax.scatter(values, [y + j for j in jitter(len(values))], s=14, color=colour, alpha=0.7,
                   zorder=3)
        s = cell.get("stats") or {}
        if s.get("mean") is not None:
            if s.get("ci_low") is not None and s.get("ci_high") is not None:
                ax.plot([u.x(s["ci_low"]), u.x(s["ci_high"])], [y, y], color=colour,
                        linewidth=2, zorder=2)
            ax.plot([u.x(s["mean"])], [y], marker="D", color="black", markersize=4, zorder=4)
    ax.set_yticks(range(len(cells)))
    ax.set_yticklabels([_t(c["name"]) for c in reversed(cells)])
    ax.set_xlabel(_t(f"{u.axis}, {view.direction(result)} is better"))
    ax.grid(axis="x", alpha=0.3)
    return FigureFile("cells", save(fig, folder, "cells"),
                      f"Every run of the baseline and of each experiment cell (dots; "
                      f"{runs_phrase(_n_runs(cells), len(cells))}), the cell mean (diamond) and "
                      "the 95% t-interval of the mean (bar).", "seeds per cell with mean and CI")


# ---------------------------------------------------------------- forest, in metric units


def forest_figure(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """Each experiment cell minus the baseline, in metric units, with its Welch 95% CI."""
    comps = [c for c in view.comparisons(result, "arm") if c.get("mean_diff") is not None]
    if not comps:
        return None
    fig, axes = new_figure(0.9 + 0.3 * len(comps))
    ax = axes[0][0]
    for y, c in enumerate(reversed(comps)):
        lo, hi = c.get("ci_low"), c.get("ci_high")
        if lo is not None and hi is not None:
            ax.plot([u.x(lo), u.x(hi)], [y, y], color=ROLE_COLOURS["arm"], linewidth=2)
        ax.plot([u.x(c["mean_diff"])], [y], marker="s", color=ROLE_COLOURS["arm"],
                markersize=5)
    ax.axvline(0.0, color="black", linewidth=0.8)
    margin = (result.get("factorial") or {}).get("equivalence_margin")
    if margin:
        ax.axvspan(-u.x(margin), u.x(margin), color="#2ca02c", alpha=0.12, lw=0)
    ax.set_yticks(range(len(comps)))
    ax.set_yticklabels([_t(c["cell"]) for c in reversed(comps)])
    ax.set_xlabel(_t(f"{u.diff_axis}: cell − baseline, positive = better; 95% Welch CI"))
    ax.grid(axis="x", alpha=0.3)
    n = sum((c.get("n_exp") or 0) for c in comps) + (comps[0].get("n_base") or 0)
    return FigureFile("forest", save(fig, folder, "forest"),
                      f"Each experiment cell minus the baseline in {u.diff_unit or 'metric units'}"
                      f" (square) with its 95% Welch interval (bar); {len(comps)} comparisons, "
                      f"{n} runs." + (" Shaded: the registered equivalence margin."
                                      if margin else ""), "differences from the baseline")


# ---------------------------------------------------------------- controls: traps and tau


_CHECK = re.compile(r"^\s*cell\.(mean|min|max)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def check_line(check: str | None) -> float | None:
    """The number in a simple registered check such as 'cell.mean <= 0.15' (else None)."""
    m = _CHECK.match(check or "")
    return float(m.group(3)) if m else None


def controls_figure(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """Traps and τ on their own panel, in the metric's units: each control's runs, its
    registered line, and the baseline for scale."""
    rows: list[tuple[str, list[float], float | None, str]] = []
    base = view.baseline(result)
    if base and base.get("values"):
        rows.append((f"baseline ({base['name']})" if len(base["name"]) < 40 else "baseline",
                     [v for v in base["values"] if v is not None], None, "baseline"))
    for t in result.get("traps") or []:
        cell = next((c for c in view.cells(result) if c["name"] == f"trap:{t['name']}"), None)
        values = [v for v in (cell or {}).get("values") or [] if v is not None]
        rows.append((f"trap {t['name']}", values, check_line(t.get("check")), "trap"))
    tau = view.tau(result)
    if tau and tau["scores"]:
        rows.append(("τ: untrained draws", [s for s in tau["scores"] if s is not None],
                     tau["threshold"], "tau"))
    if len(rows) <= 1:
        return None
    fig, axes = new_figure(0.9 + 0.42 * len(rows))
    ax = axes[0][0]
    for y, (label, values, line, role) in enumerate(reversed(rows)):
        colour = ROLE_COLOURS[role]
        ax.scatter([u.x(v) for v in values], [y + j for j in jitter(len(values))], s=16,
                   color=colour, alpha=0.75, zorder=3)
        if line is not None:
            ax.plot([u.x(line)] * 2, [y - 0.35, y + 0.35], color=colour, linestyle="--",
                    linewidth=1.2)
            ax.annotate(_t("threshold" if role == "tau" else "registered check"),
                        (u.x(line), y + 0.36), fontsize=MIN_PT, color=colour, ha="center",
                        va="bottom")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_t(r[0]) for r in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.2)
    ax.set_xlabel(_t(u.axis))
    ax.grid(axis="x", alpha=0.3)
    n = sum(len(r[1]) for r in rows)
    return FigureFile("controls", save(fig, folder, "controls"),
                      "Controls on their own scale: every run of each registered trap and the τ "
                      "draws (untrained models), with the line each had to respect (dashed), "
                      f"and the baseline's runs for comparison; {n} runs.",
                      "traps and tau against their registered lines")


# ---------------------------------------------------------------- drawing and caching


FIGURES_VERSION = 3  # bump when a figure changes, to invalidate the drawn files
MANIFEST = ".figures.json"


def _fingerprint(result: Result, scale: float) -> str:
    import hashlib
    import json

    text = json.dumps({"v": FIGURES_VERSION, "scale": scale, "result": result}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cached(folder: Path, key: str, manifest_name: str) -> list[FigureFile] | None:
    import json

    try:
        manifest = json.loads((folder / FIG_DIR / manifest_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key:
        return None
    figures = [FigureFile(**f) for f in manifest.get("figures", [])]
    return figures if all((folder / f.src).is_file() for f in figures) else None


def write_figures(result: Result, folder: Path, *, scale: float = 1.0,
                  prefix: str = "") -> list[FigureFile]:
    """Draw every figure that applies to this result into `folder/figures/`.

    The figures are a pure function of the result, so a manifest keyed by the result's
    hash lets the report, the paper and the deck share one drawing. `scale` multiplies
    every figure's height (the paper's page fitting); `prefix` names such a drawing apart.
    """
    import json
    from dataclasses import asdict

    from .figures_factorial import (factor_figures, interaction_figure, main_effects_figure,
                                    small_multiples)

    folder = Path(folder)
    key = _fingerprint(result, scale)
    manifest = f".{prefix}figures.json" if prefix else MANIFEST
    cached = _cached(folder, key, manifest)
    if cached is not None:
        return cached
    u = units_for(result)
    factorial = view.factorial(result) is not None
    makers = ((small_multiples, main_effects_figure, interaction_figure, controls_figure,
               forest_figure) if factorial else (cells_figure, forest_figure, controls_figure))
    tokens = (HEIGHT_SCALE.set(scale), PREFIX.set(prefix))
    try:
        with style():
            out = [f for f in (make(result, folder, u) for make in makers) if f is not None]
            if factorial and not prefix:  # the deck's one-finding-per-slide panels
                out += factor_figures(result, folder, u)
    finally:
        HEIGHT_SCALE.reset(tokens[0])
        PREFIX.reset(tokens[1])
    (folder / FIG_DIR).mkdir(parents=True, exist_ok=True)
    (folder / FIG_DIR / manifest).write_text(json.dumps(
        {"key": key, "figures": [asdict(f) for f in out]}, indent=1), encoding="utf-8")
    return out
