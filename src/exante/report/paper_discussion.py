"""The paper's sections after the results: 6 negative and null results, 7 discussion
(with the mechanism the recorded training metrics show), 8 threats to validity (each
caveat in plain words) and 9 the reproducibility statement. Every number is read from
result.json or derived from the ledger (`derived`).
"""

from __future__ import annotations

from . import derived, findings, fmt, view
from .doc import Bullets, Para, Section, code
from .paper_context import Ctx, and_list, cap, nice
from .units import Units, metric_words, units_for


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
