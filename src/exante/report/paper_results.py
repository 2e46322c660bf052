"""The paper's results (section 5): main effects, interactions, every cell, the
controls and the secondary metrics, or the arms of a non-factorial plan. Every number
is read from result.json or derived from the ledger (`derived`). The sections after
it (6-9) are in `paper_discussion`; they stay importable from here.
"""

from __future__ import annotations


from . import derived, findings, fmt, view
from .doc import Bullets, Figure, Para, Section, Table
from .figures import FigureFile
from .paper_context import Ctx, and_list, cap, nice
from .paper_discussion import (PLAIN_CAVEATS, discussion, mechanism_sentences, negative_results,
                               reproducibility, threats, untestable_lines)
from .units import metric_words, units_for

# sections 6-9 moved to `paper_discussion`; paper and deck still import them from here
__all__ = ["fig", "fig_ref", "results", "secondary_metrics", "negative_results",
           "mechanism_sentences", "discussion", "PLAIN_CAVEATS", "untestable_lines", "threats",
           "reproducibility"]


def fig(ctx: Ctx, figures: dict[str, FigureFile], name: str) -> list[Figure]:
    f = figures.get(name)
    if f is None:
        return []
    n = ctx.numbers.fig(name)
    return [Figure(f.src, f"Figure {n}. {f.caption}", f.alt)]


def fig_ref(ctx: Ctx, figures: dict[str, FigureFile], name: str) -> str:
    return f"Figure {ctx.numbers.fig(name)}" if name in figures else ""


# ---------------------------------------------------------------- results


def results(ctx: Ctx, figures: dict[str, FigureFile], *,
            skip: frozenset[str] = frozenset()) -> list[Section]:
    """The results subsections; those named in `skip` (titles without their number) are not
    built, so they take no figure or table number in the body."""
    if ctx.f is None:
        return _arm_results(ctx, figures)
    u = ctx.u
    rows = []
    for e in ctx.f["main_effects"]:
        finding = findings.phrase(ctx.verdict(e["factor"]), ctx.margin_text())
        for lv in e["levels"]:
            ref = lv["level"] == e["reference"]
            rows.append([nice(e["factor"]), str(lv["level"]) + (" (ref.)" if ref else ""),
                         u.value(lv["marginal_mean"]), fmt.DASH if ref else u.diff(lv["diff"]),
                         fmt.DASH if ref else u.ci(lv["ci_low"], lv["ci_high"]),
                         finding if ref else ""])
    t_me = ctx.numbers.table("main_effects")
    main = Section("5.1 Main effects", [
        Para(f"{fig_ref(ctx, figures, 'main_effects')} and Table {t_me} give each factor's "
             f"effect as the difference of marginal means from its reference level, in "
             f"{u.diff_unit or 'metric units'}, with 95% CIs from the registered model. " +
             " ".join(_lead(ctx, k) for k in ctx.f["factor_verdicts"])),
        *fig(ctx, figures, "main_effects"),
        Table(["Factor", "Level", "Marginal mean", f"Δ ({u.diff_unit})" if u.diff_unit else "Δ",
               "95% CI", "Finding"], rows,
              caption=f"Table {t_me}. Main effects: unweighted marginal means over the other "
                      f"factors; {_n_runs(ctx)} runs."),
    ], level=3)
    rest = (("Interactions and simple effects", _interactions), ("Every cell", _cells),
            ("Controls: traps and τ", _controls), ("Secondary metrics", lambda c, _: _secondary(c)))
    return [main] + [make(ctx, figures) for name, make in rest if name not in skip]


def _lead(ctx: Ctx, factor: str) -> str:
    lv = findings.largest(ctx.r, factor)
    e = ctx.effect(factor) or {}
    what = findings.phrase(ctx.verdict(factor), ctx.margin_text())
    if lv is None:
        return f"{cap(nice(factor))}: {what}."
    return (f"{cap(nice(factor))}: {what} (largest difference {lv['level']} vs "
            f"{e.get('reference')}, {ctx.u.diff_u(lv['diff'])}).")


def _n_runs(ctx: Ctx) -> int:
    return sum(c.get("n") or 0 for c in (ctx.f or {}).get("cell_means", []))


def _anova_rows(ctx: Ctx) -> list[list[str]]:
    df_r = fmt.df(ctx.f["df_resid"]) if ctx.f else fmt.DASH
    return [[t["term"].replace("_", " ").replace(":", " × "),
             f"{fmt.df(t['df'])}, {fmt.df(t['error_df']) if t.get('error_df') else df_r}",
             fmt.num(t["F"], 2), fmt.pval(t["p"]),
             fmt.DASH if t["partial_eta2"] is None else f"{t['partial_eta2']:.3f}"]
            for t in (ctx.f or {}).get("anova", [])]


def _interactions(ctx: Ctx, figures) -> Section:
    sig = [t for t in derived.interaction_terms(ctx.r, ctx.alpha)
           if t.get("p") is not None and t["p"] < ctx.alpha]
    t_an = ctx.numbers.table("anova")
    blocks: list = []
    if sig:
        names = and_list([t["term"].replace("_", " ").replace(":", " × ") for t in sig])
        blocks.append(Para(f"One or more interactions are significant at α = {ctx.alpha:g} "
                           f"({names}; Table {t_an}), so the main effects above are averages "
                           f"over them. {fig_ref(ctx, figures, 'interactions')} shows the "
                           "two-way means; the simple effects below give the effect of one "
                           "factor at each level of the other."))
    else:
        blocks.append(Para(f"No interaction reaches α = {ctx.alpha:g} (Table {t_an}); "
                           f"{fig_ref(ctx, figures, 'interactions')} shows the two-way means."))
    blocks += fig(ctx, figures, "interactions")
    blocks.append(Table(["Term", "df", "F", "p", "partial η²"], _anova_rows(ctx),
                        caption=f"Table {t_an}. Analysis of variance of the full factorial "
                                "model; each term against the registered error term."))
    for t in sig[:1]:
        a, b = t["term"].split(":")
        factor, within = (a, b) if (ctx.verdict(a) == "EFFECT") or ctx.verdict(b) != "EFFECT" \
            else (b, a)
        eff = derived.simple_effects(ctx.r, factor, within, ctx.levels)
        rows = [[f"{nice(within)} = {s.at}", f"{nice(factor)} {s.level} vs {s.reference}",
                 ctx.u.diff(s.diff), ctx.u.ci(s.ci_low, s.ci_high)] for s in eff]
        n = ctx.numbers.table("simple")
        blocks.append(Table(["Within", "Contrast", f"Δ ({ctx.u.diff_unit})" if ctx.u.diff_unit
                             else "Δ", "95% CI"], rows,
                            caption=f"Table {n}. Simple effects of {nice(factor)} at each level "
                                    f"of {nice(within)}, with CIs from the model's residual mean "
                                    "square (not adjusted for multiplicity)."))
    return Section("5.2 Interactions and simple effects", blocks, level=3)


def _cells(ctx: Ctx, figures) -> Section:
    base = view.baseline(ctx.r)
    text = (f"{fig_ref(ctx, figures, 'cells')} shows every run. " if "cells" in figures else "")
    if base:
        text += (f"The baseline cell ({base['name']}) scored {ctx.u.value(base['stats'].get('mean'))}"
                 f" (95% CI {ctx.u.value_ci(base['stats'].get('ci_low'), base['stats'].get('ci_high'))}"
                 f", SD {ctx.u.sd(base['stats'].get('sd'))} over {base['stats'].get('n')} seeds).")
    arms = [c for c in view.cells(ctx.r, "arm") if (c.get("stats") or {}).get("mean") is not None]
    if arms:
        best = max(arms, key=lambda c: _oriented(ctx, c))
        worst = min(arms, key=lambda c: _oriented(ctx, c))
        text += (f" Cell means range from {ctx.u.value(worst['stats']['mean'])} ({worst['name']}) "
                 f"to {ctx.u.value(best['stats']['mean'])} ({best['name']}).")
    return Section("5.3 Every cell", [Para(text), *fig(ctx, figures, "cells")], level=3)


def _oriented(ctx: Ctx, c) -> float:
    m = c["stats"]["mean"]
    return -m if view.direction(ctx.r) == "lower" else m


def _controls(ctx: Ctx, figures) -> Section:
    items = []
    for t in ctx.r.get("traps") or []:
        s = t.get("stats") or {}
        items.append(f"Trap {t['name']}: {t.get('description') or ''} Mean "
                     f"{ctx.u.value(s.get('mean'))} over {s.get('n', 0)} runs (range "
                     f"{ctx.u.value(s.get('min'))} to {ctx.u.value(s.get('max'))}); registered "
                     f"check {t.get('check') or t.get('expect') or '—'}: "
                     f"{'behaved as registered' if t.get('passed') else 'did NOT behave as registered' if t.get('passed') is False else 'could not be judged'}.")
    tau = view.tau(ctx.r)
    if tau is not None:
        items.append(f"τ: the best of {len(tau['scores'])} untrained models scored "
                     f"{ctx.u.value(tau['tau'])} (mean {ctx.u.value(tau['mean'])}); the method "
                     f"({tau['method'] or '—'}) had to reach {ctx.u.value(tau['threshold'])} and "
                     f"averaged {ctx.u.value(tau['method_mean'])}, "
                     f"{fmt.frac(tau['fraction_beating'])} of its seeds above the line: "
                     f"{'beaten' if tau['passed'] else 'NOT beaten'}.")
    if not items:
        items.append("No trap cells and no τ baseline were registered: nothing checks that a "
                     "broken pipeline would have been caught.")
    return Section("5.4 Controls: traps and τ", [Bullets(items), *fig(ctx, figures, "controls")],
                   level=3)


def secondary_metrics(ctx: Ctx) -> list[str]:
    names = [m.name for m in ctx.plan.secondary]
    available = derived.recorded_metrics(ctx.runs)
    twin = derived.train_counterpart(view.metric_name(ctx.r), available)
    if twin and twin not in names:
        names.append(twin)
    return [n for n in names if n in available]


def _secondary(ctx: Ctx) -> Section:
    names = secondary_metrics(ctx)
    if not names or not ctx.levels:
        return Section("5.5 Secondary metrics", [Para(
            "No secondary metric was registered or recorded for every run.")], level=3)
    units = {n: units_for(ctx.r, n, [r["metrics"][n] for r in ctx.runs]) for n in names}
    tables = {n: {(m.factor, str(row[0])): row for m in derived.metric_by_level(
        ctx.runs, n, ctx.levels) for row in m.rows} for n in names}
    rows = []
    for factor, levels in ctx.levels.items():
        for lv in levels:
            row = [nice(factor), str(lv)]
            for n in names:
                got = tables[n].get((factor, str(lv)))
                row.append(fmt.DASH if got is None else
                           f"{units[n].value(got[1])} ({units[n].value(got[2])}–"
                           f"{units[n].value(got[3])})")
            rows.append(row)
    registered = [m.name for m in ctx.plan.secondary]
    extra = [n for n in names if n not in registered]
    tn = ctx.numbers.table("secondary")
    note = (f" {cap(and_list([metric_words(x) for x in extra]))} was recorded by the trial but not registered "
            "as a metric; it is reported as a description, not a test." if extra else "")
    return Section("5.5 Secondary metrics", [
        Para(f"Table {tn} reports the registered secondary metrics per factor level "
             f"(mean over cells, and the range of cell means); none enters a verdict.{note}"),
        Table(["Factor", "Level", *[metric_words(n) for n in names]], rows,
              caption=f"Table {tn}. Secondary metrics by factor level: mean of cell means "
                      f"(lowest–highest cell); {len(ctx.runs)} runs."),
    ], level=3)


def _arm_results(ctx: Ctx, figures) -> list[Section]:
    u = ctx.u
    comps = view.comparisons(ctx.r, "arm")
    rows = [[c["cell"], u.diff(c.get("mean_diff")), u.ci(c.get("ci_low"), c.get("ci_high")),
             fmt.pval(c.get("p_value")), fmt.pval(c.get("p_holm")), fmt.eff(c.get("cohens_d")),
             findings.arm_row(ctx.r, u, c)["verdict"]] for c in comps]
    tn = ctx.numbers.table("comparisons")
    return [
        Section("5.1 Comparisons with the baseline", [
            Para(" ".join(findings.arm_sentence(ctx.r, u, c) for c in comps) or
                 "No comparison could be made."),
            *fig(ctx, figures, "forest"),
            Table(["Cell", f"Δ ({u.diff_unit})" if u.diff_unit else "Δ", "95% CI", "p",
                   "Holm p", "Cohen's d", "Verdict"], rows,
                  caption=f"Table {tn}. Each cell minus the baseline (positive = better), "
                          "Welch interval and test."),
        ], level=3),
        _cells(ctx, figures), _controls(ctx, figures),
    ]
