"""The paper's results, negative results, discussion, threats to validity and
reproducibility statement. Every number is read from result.json or derived
from the ledger (`derived`); the mechanism is stated only as far as the
recorded secondary metrics show it.
"""

from __future__ import annotations


from . import derived, findings, fmt, view
from .doc import Bullets, Figure, Para, Section, Table, code
from .figures import FigureFile
from .paper_context import Ctx, and_list, cap, nice
from .units import Units, metric_words, units_for


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


# ---------------------------------------------------------------- after the results


def negative_results(ctx: Ctx) -> Section:
    items: list[str] = []
    if ctx.f is not None:
        for k in ctx.f["factor_verdicts"]:
            v = ctx.verdict(k)
            if v == "NO_EFFECT":
                items.append(findings.factor_sentence(ctx.r, ctx.u, k) + " This is a bounded "
                             f"null: it rules out effects larger than {ctx.margin_text()}, not "
                             "every effect.")
            elif v != "EFFECT":
                items.append(findings.factor_sentence(ctx.r, ctx.u, k) + " More seeds would be "
                             "needed to tell; the registered design could not.")
        for h, text in (ctx.r.get("hypotheses") or {}).items():
            null = any(w in str(text).lower() for w in ("equivalen", "less than", "no effect",
                                                         "same"))
            v = ctx.verdict(h)
            if v is None or v == ("NO_EFFECT" if null else "EFFECT"):
                continue
            items.append(f"The registered hypothesis for {nice(h)} (“{text.strip()}”) is not "
                         "supported" + (": equivalence was not shown." if null else ": no "
                                        "effect was detected."))
    else:
        for c in view.comparisons(ctx.r, "arm"):
            row = findings.arm_row(ctx.r, ctx.u, c)
            if row["verdict"].split()[0] not in ("WINNER", "difference"):
                items.append(findings.arm_sentence(ctx.r, ctx.u, c))
    for t in ctx.r.get("traps") or []:
        if t.get("passed") is not True:
            items.append(f"Trap {t['name']} did not behave as registered; the result cannot be "
                         "trusted until it is explained.")
    if not items:
        items.append("None: every registered comparison showed an effect. Their sizes are still "
                     "uncertain (see the intervals above).")
    return Section("6 Negative and null results", [
        Para("Reported with the same weight as the positive findings:"), Bullets(items)])


def mechanism_sentences(ctx: Ctx) -> list[str]:
    """What the recorded training metrics say about why an effect appears."""
    available = derived.recorded_metrics(ctx.runs)
    twin = derived.train_counterpart(view.metric_name(ctx.r), available)
    if ctx.f is None or twin is None:
        return []
    tu = units_for(ctx.r, twin, [r["metrics"][twin] for r in ctx.runs])
    tu = Units(tu.metric, ctx.u.scale if tu.scale == ctx.u.scale else tu.scale, ctx.u.decimals,
               tu.unit)
    out = []
    for factor in ctx.f["factor_verdicts"]:
        if ctx.verdict(factor) != "EFFECT":
            continue
        e = ctx.effect(factor)
        rows = {str(row[0]): row for m in derived.metric_by_level(ctx.runs, twin, ctx.levels)
                if m.factor == factor for row in m.rows}
        ref = rows.get(str(e["reference"]))
        for lv in e["levels"]:
            got = rows.get(str(lv["level"]))
            if got is None or ref is None or lv["level"] == e["reference"] or lv["ci_high"] is None:
                continue
            if lv["ci_high"] < 0:  # worse on the test set
                train_gap = got[1] - ref[1]
                what = (f"{cap(nice(factor))} = {lv['level']} reaches {metric_words(twin)} "
                        f"{tu.value(got[2])}–{tu.value(got[3])} across its cells against "
                        f"{tu.value(ref[1])} at {nice(factor)} = {e['reference']}")
                if train_gap < 0 and abs(train_gap) >= 0.5 * abs(lv["diff"]):
                    out.append(f"{what}: the deficit is already on the training set, so it is a "
                               "failure to fit (optimisation), not overfitting.")
                else:
                    out.append(f"{what}: it fits the training set as well, so the loss on "
                               "held-out data is a generalisation gap (overfitting).")
            elif lv["ci_low"] is not None and lv["ci_low"] > 0:
                better_fit = got[1] > ref[1]
                out.append(f"The gain at {nice(factor)} = {lv['level']} comes with "
                           f"{'a better' if better_fit else 'no better'} fit to the training set "
                           f"({metric_words(twin)} {tu.value(got[1])} against {tu.value(ref[1])}).")
    return sorted(out, key=lambda t: "gain" in t)  # a deficit's mechanism first


def discussion(ctx: Ctx) -> Section:
    blocks: list = []
    mech = mechanism_sentences(ctx)
    if mech:
        blocks.append(Para("Mechanism, from the recorded training metrics. " + " ".join(mech)))
    elif ctx.f is not None:
        blocks.append(Para("No training-set metric was recorded for every run, so the data "
                           "cannot separate a failure to fit from overfitting."))
    notes = ctx.plan.raw.get("notes") if ctx.plan.raw else None
    if isinstance(notes, str) and notes.strip():
        blocks.append(Para("The plan's registered notes, written before the runs, bear on the "
                           "interpretation: “" + " ".join(notes.split()) + "”"))
    eff = [k for k in (ctx.f or {}).get("factor_verdicts", {}) if ctx.verdict(k) == "EFFECT"]
    rest = [k for k in (ctx.f or {}).get("factor_verdicts", {}) if ctx.verdict(k) != "EFFECT"]
    if ctx.f is not None:
        take = (f"Take-home: {and_list([nice(k) for k in eff]) or 'no factor'} "
                f"{'matters' if len(eff) == 1 else 'matter'} at this scale"
                + (f"; {and_list([nice(k) for k in rest])} did not show an effect the design "
                   "could detect" if rest else "") + ". The estimates, not the verdicts, are "
                "what a follow-up should plan its sample size on.")
        blocks.append(Para(take))
    return Section("7 Discussion", blocks or [Para("See the results above.")])


PLAIN_CAVEATS = {
    "OPTIONAL_STOPPING": "Seeds added in a second stage",
    "ZERO_VARIANCE": "Cells with no spread",
    "SIGMA_DEFINITION": "Choice of SD",
    "FAILED_RUNS": "Failed runs",
    "SEEDS_CORRELATED": "Runs sharing a seed are correlated",
    "FRAGILE": "Fragile verdict",
    "UNTRAINED_RUNS": "Runs that did not train",
    "UNTESTABLE": "Claims the data could not decide",
}


def _threat(ctx: Ctx, code_: str, message: str) -> str | None:
    """One caveat in plain words; the computed message in full is in Appendix D."""
    dc = ctx.r.get("design_check") or {}
    n_seeds = len(ctx.plan.design.seeds or ())
    factorial = ctx.f is not None
    if code_ == "LOW_POWER":
        return (f"Few seeds: {n_seeds or 'few'} per cell. " +
                (f"The design's power at an effect of {dc.get('smallest_effect')} SD was "
                 f"{fmt.frac(dc.get('power'))}; " if dc.get("power") is not None else "") +
                _observed_power(ctx) +
                "a finding without a detected effect is weak evidence of absence.")
    if code_ == "WINNERS_CURSE":
        return ("Inflated winners: effects estimated from few seeds that cleared a threshold "
                "are biased upwards; read the intervals, not the points.")
    if code_ in ("MULTIPLICITY", "SHARED_BASELINE"):
        if code_ == "SHARED_BASELINE" and "MULTIPLICITY" in view.caveat_codes(ctx.r):
            return None
        return ("Many comparisons: the cell-by-cell tests (Appendix C) share one baseline and "
                "are Holm-adjusted" + ("; the findings above are the per-factor family the plan "
                                       "registered." if factorial else "."))
    if code_ == "OUTLIER_SENSITIVE":
        cells = message.split(":", 1)[-1].count("=") // max(1, len(ctx.levels) or 1)
        return (f"Single runs matter: leaving one run out changes the cell-vs-baseline verdict "
                f"of {cells or 'some'} cell(s) (Appendix D)" + (
                    "; the factor findings average over many cells." if factorial else "."))
    if code_ == "SEED_VARIANCE_ONLY":
        return ("What a seed varies: seeds are the only replicated source of variance; choices "
                f"the plan fixes (data split, hyperparameters) are not varied {ctx.cite.cite('bouthillier')}.")
    if code_ == "UNTESTABLE":
        said = untestable_lines(ctx)
        return f"{PLAIN_CAVEATS[code_]}: " + "; ".join(said) + "." if said else None
    if code_ in ("ZERO_VARIANCE", "SIGMA_DEFINITION") and factorial:
        return None  # about cell-vs-baseline z scores, which decide nothing in a factorial plan
    label = PLAIN_CAVEATS.get(code_, code_.replace("_", " ").lower().capitalize())
    return f"{label}: {message}"


def _observed_power(ctx: Ctx) -> str:
    seen = ctx.r.get("design_check_observed") or {}
    if seen.get("power") is None or not seen.get("sigma_observed"):
        return ""
    return (f"at the observed σ of {ctx.u.amount(seen['sigma_observed'])} (assumed "
            f"{ctx.u.amount(seen.get('sigma_assumed'))}) it was {fmt.frac(seen['power'])}; ")


def untestable_lines(ctx: Ctx) -> list[str]:
    """The claims the observed σ made impossible, in the metric's units (paper and deck)."""
    from .. import observed

    seen = ctx.r.get("design_check_observed") or {}
    return [s.replace("NO_EFFECT", "no-effect").replace("_", " ") for s in observed.lines(
        seen, ctx.plan, (ctx.r.get("factorial") or {}).get("factor_verdicts"),
        num=ctx.u.amount)] if seen else []


def threats(ctx: Ctx) -> Section:
    items = [t for t in (_threat(ctx, c.get("code", ""), str(c.get("message", "")))
                         for c in ctx.r.get("caveats") or []) if t]
    scope = (ctx.r.get("ladder") or {}).get("scope")
    fixed = ", ".join(f"{nice(k)} = {v}" for k, v in (ctx.plan.design.fixed or {}).items())
    items.append("External validity: one dataset and one metric" +
                 (f"; every run fixed {fixed}" if fixed else "") +
                 (f" (registered scope: {scope})" if scope else "") +
                 ", so nothing here speaks to other settings.")
    return Section("8 Threats to validity", [Bullets(items)])


def reproducibility(ctx: Ctx) -> Section:
    r, inputs = ctx.r, ctx.inputs
    prints = inputs.ledger.fingerprints  # the lock in force
    name = inputs.plan_path.name
    cmds = [f"exante verify {name}", f"exante run {name}", f"exante decide {name}",
            f"exante report {name} --paper --deck"]
    items: list = [["Plan sha256 ", code(r.get("plan_sha256") or "—")],
                   ["Ledger head ", code(inputs.ledger_head), f" ({len(inputs.records)} records, "
                    "hash-chained; verified when this paper was written)"]]
    for k, v in prints.items():
        kind, _, what = k.partition(":")
        what = what.rsplit("/", 1)[-1] if kind == "code" else what
        items.append([f"Fingerprint of {kind} ", code(what), ": ", code(fmt.short(v, 16))])
    items.append(["Commands: ", code(" → ".join(cmds)), ". A second ", code("exante run"),
                  " resumes and runs nothing twice; ", code("exante audit"), " traces every "
                  "result to its lock."])
    return Section("9 Reproducibility", [
        Para("Everything in this paper was generated from three saved files: the sealed plan, "
             "the ledger and result.json; no number was typed by hand."), Bullets(items)])
