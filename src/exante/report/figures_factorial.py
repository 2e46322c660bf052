"""The factorial figures: every cell as small multiples, main effects, interactions.

All three share the conventions of `figures`: drawn at print width, fonts of
at least 8 pt, values in the metric's units, CIs on every estimate, and axes
shared across panels so that a reader compares like with like.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Mapping

from . import derived, fmt, view
from .figures import (MIN_PT, ROLE_COLOURS, FigureFile, _t, jitter, new_figure, runs_phrase,
                      save)
from .units import Units
from ..verdicts import Verdict

Result = Mapping[str, Any]
LINE_COLOURS = ("#1f5fbf", "#d35400", "#1e8449", "#7d3c98", "#b7950b", "#566573")


def factor_levels(result: Result) -> dict[str, list[Any]]:
    """Each factor's levels in the order result.json lists them (reference first)."""
    f = view.factorial(result) or {}
    return {e["factor"]: [lv["level"] for lv in e["levels"]] for e in f.get("main_effects", [])}


def nice(name: Any) -> str:
    return str(name).replace("_", " ")


def _label(factor: str, level: Any) -> str:
    return _t(f"{nice(factor)} {level}")


def _cell_at(cells, fixed: Mapping[str, Any]):
    return [c for c in cells
            if all(derived._same((c.get("levels") or {}).get(k), v) for k, v in fixed.items())]


def small_multiples(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """Every design cell's runs, one panel per combination of the first factors, the last
    factor on the x axis; y shared by every panel."""
    levels = factor_levels(result)
    cells = [c for c in view.cells(result, "baseline", "arm") if c.get("values")]
    if not levels or not cells:
        return None
    names = list(levels)
    x_factor = names[-1]
    col_f = names[0] if len(names) >= 2 else None
    row_f = names[1] if len(names) >= 3 else None
    cols = levels[col_f] if col_f else [None]
    rows = levels[row_f] if row_f else [None]
    fig, axes = new_figure(0.7 + 1.55 * len(rows), ncols=len(cols), nrows=len(rows),
                           sharey=True, sharex=True)
    xs = levels[x_factor]
    for (i, rl), (j, cl) in itertools.product(enumerate(rows), enumerate(cols)):
        ax = axes[i][j]
        fixed = {k: v for k, v in ((col_f, cl), (row_f, rl)) if k is not None}
        for x, xl in enumerate(xs):
            for c in _cell_at(cells, {**fixed, x_factor: xl}):
                colour = ROLE_COLOURS.get(c.get("role"), ROLE_COLOURS["arm"])
                vals = [u.x(v) for v in c["values"] if v is not None]
                ax.scatter([x + 0.6 * d for d in jitter(len(vals))], vals, s=10, color=colour,
                           alpha=0.6, zorder=3)
                s = c.get("stats") or {}
                if s.get("ci_low") is not None and s.get("ci_high") is not None:
                    ax.plot([x + 0.22] * 2, [u.x(s["ci_low"]), u.x(s["ci_high"])],
                            color="black", linewidth=1.4)
                if s.get("mean") is not None:
                    ax.plot([x + 0.22], [u.x(s["mean"])], marker="D", color="black",
                            markersize=3.5)
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels([_t(x) for x in xs])
        ax.set_xlim(-0.6, len(xs) - 0.4)
        ax.grid(axis="y", alpha=0.3)
        title = ", ".join(_label(k, v) for k, v in ((col_f, cl), (row_f, rl)) if k is not None)
        if title:
            ax.set_title(title)
    for ax in axes[-1]:
        ax.set_xlabel(_t(nice(x_factor)))
    for row in axes:
        row[0].set_ylabel(_t(u.axis))
    n = sum(len([v for v in c["values"] if v is not None]) for c in cells)
    base = view.baseline(result)
    return FigureFile(
        "cells", save(fig, folder, "cells"),
        f"Every run of the {len(cells)} design cells ({runs_phrase(n)}): dots are seeds (grey: "
        f"the baseline cell{' ' + base['name'] if base else ''}), diamonds the cell means with "
        "their 95% t-intervals; all panels share one y axis.", "every cell's runs by factor")


def main_effects_figure(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """Each factor's level-minus-reference differences in metric units with 95% CIs, one panel
    per factor on a shared axis, the registered equivalence margin shaded."""
    f = view.factorial(result)
    if f is None or not f["main_effects"]:
        return None
    effects = f["main_effects"]
    fig, axes = new_figure(2.5, ncols=len(effects), sharey=True,
                           gridspec_kw={"width_ratios": [len(e["levels"]) + 0.6
                                                         for e in effects]})
    for ax, e in zip(axes[0], effects):
        _effect_panel(ax, f, e, u)
    axes[0][0].set_ylabel(_t(f"{u.diff_axis} vs reference"))
    n = sum(c.get("n") or 0 for c in f["cell_means"])
    margin = f["margin"]
    band = (f" Shaded: the registered equivalence margin ±{u.diff(margin).lstrip('+')} "
            f"{u.diff_unit}." if margin else "")
    return FigureFile(
        "main_effects", save(fig, folder, "main_effects"),
        f"Main effects in {u.diff_unit or 'metric units'}: each level's marginal mean minus the "
        "reference level's (open circle), with its 95% CI from the registered model; "
        f"{runs_phrase(n, len(f['cell_means']))}.{band}", "main effects with 95% CIs")


def factor_figures(result: Result, folder: Path, u: Units) -> list[FigureFile]:
    """One main-effect panel per factor (a slide per finding), on the same y axis as the
    combined figure so that slides compare like with like."""
    f = view.factorial(result)
    if f is None:
        return []
    lows = [u.x(lv["ci_low"]) for e in f["main_effects"] for lv in e["levels"]
            if lv["ci_low"] is not None]
    highs = [u.x(lv["ci_high"]) for e in f["main_effects"] for lv in e["levels"]
             if lv["ci_high"] is not None]
    m = u.x(f["margin"]) or 0.0
    lim = (min(lows + [-m, 0.0]), max(highs + [m, 0.0]))
    pad = 0.08 * (lim[1] - lim[0] or 1.0)
    out = []
    n = sum(c.get("n") or 0 for c in f["cell_means"])
    for e in f["main_effects"]:
        fig, axes = new_figure(4.4)
        ax = axes[0][0]
        _effect_panel(ax, f, e, u)
        ax.set_ylim(lim[0] - pad, lim[1] + pad)
        ax.set_ylabel(_t(f"{u.diff_axis} vs reference"))
        ax.set_xlabel(_t(nice(e["factor"])))
        name = "factor-" + "".join(ch if ch.isalnum() else "_" for ch in str(e["factor"]))
        out.append(FigureFile(name, save(fig, folder, name),
                              f"{nice(e['factor'])}: each level minus the reference with its 95% "
                              f"CI; {n} runs.", f"main effect of {e['factor']}"))
    return out


def _effect_panel(ax, f: Mapping[str, Any], e: Mapping[str, Any], u: Units) -> None:
    margin = f["margin"]
    for x, lv in enumerate(e["levels"]):
        ref = derived._same(lv["level"], e["reference"])
        d = u.x(lv["diff"]) or 0.0
        if lv["ci_low"] is not None and lv["ci_high"] is not None:
            ax.plot([x, x], [u.x(lv["ci_low"]), u.x(lv["ci_high"])],
                    color=ROLE_COLOURS["arm"], linewidth=2)
        ax.plot([x], [d], marker="o", color=ROLE_COLOURS["arm"],
                markerfacecolor="white" if ref else ROLE_COLOURS["arm"])
        ax.annotate("ref." if ref else u.diff(lv["diff"]), (x, d), xytext=(5, 0),
                    textcoords="offset points", fontsize=MIN_PT, va="center")
    if margin:
        ax.axhspan(-u.x(margin), u.x(margin), color="#2ca02c", alpha=0.13, lw=0)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(e["levels"])))
    ax.set_xticklabels([_t(lv["level"]) for lv in e["levels"]])
    ax.set_xlim(-0.5, len(e["levels"]) - 0.3)
    verdict = f["factor_verdicts"].get(e["factor"], {}).get("verdict")
    ax.set_title(_t(f"{nice(e['factor'])}: {_short(verdict)}"))
    ax.grid(axis="y", alpha=0.3)


def _short(verdict: str | None) -> str:
    return {Verdict.EFFECT: "effect", Verdict.NO_EFFECT: "no effect (equivalent)",
            Verdict.INCONCLUSIVE: "inconclusive"}.get(verdict or "", "—")


def interaction_figure(result: Result, folder: Path, u: Units) -> FigureFile | None:
    """Two-way means with 95% CIs for up to three factor pairs, on one shared y axis."""
    f = view.factorial(result)
    levels = factor_levels(result)
    if f is None or len(levels) < 2:
        return None
    terms = {t["term"]: t for t in f["anova"]}
    pairs = sorted(itertools.combinations(levels, 2),
                   key=lambda p: (terms.get(f"{p[0]}:{p[1]}") or {}).get("p") or 1.0)[:3]
    fig, axes = new_figure(2.6, ncols=len(pairs), sharey=True)
    for ax, (a, b) in zip(axes[0], pairs):
        tw = derived.two_way(result, a, b, levels)
        nb = len(levels[b])
        for k, lb in enumerate(levels[b]):
            pts = [(i, row) for i, la in enumerate(levels[a]) for row in tw.rows
                   if derived._same(row[0], la) and derived._same(row[1], lb)]
            off = (k - (nb - 1) / 2) * 0.08
            colour = LINE_COLOURS[k % len(LINE_COLOURS)]
            ax.plot([i + off for i, _ in pts], [u.x(r[2]) for _, r in pts], marker="o",
                    color=colour, label=_t(lb), markersize=4)
            for i, r in pts:
                if r[3] is not None:
                    ax.plot([i + off] * 2, [u.x(r[3]), u.x(r[4])], color=colour, linewidth=1.2)
        ax.set_xticks(range(len(levels[a])))
        ax.set_xticklabels([_t(x) for x in levels[a]])
        ax.set_xlabel(_t(nice(a)))
        term = terms.get(f"{a}:{b}") or {}
        ax.set_title(_t(f"{nice(a)} × {nice(b)}\n{fmt.p_eq(term.get('p'))}"))
        ax.legend(title=_t(nice(b)), fontsize=MIN_PT, title_fontsize=MIN_PT, frameon=False)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(_t(u.axis))
    return FigureFile(
        "interactions", save(fig, folder, "interactions"),
        "Interactions: means of each pair of factors, averaged over the others, with 95% CIs "
        "from the registered model's error term; p is the interaction's ANOVA test. Parallel "
        f"lines mean no interaction; {sum(c.get('n') or 0 for c in f['cell_means'])} runs.",
        "interaction plots with 95% CIs")
