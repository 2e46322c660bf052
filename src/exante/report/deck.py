"""A self-contained HTML slide deck for a 25-minute lab readout (seed 002).

One file, no external URL: styles and script are inline, figures are embedded
as data: URIs. Every slide is a fixed 1280×720 frame; arrow keys, Page
Up/Down, Space, Home and End move between slides; P opens the presenter view
(the slide, its speaker notes, the next slide's title and a timer against the
slide's time budget). Every slide carries speaker notes and a budget in
minutes; the budgets sum to `READOUT_MINUTES`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import derived, findings, fmt, html, view
from .doc import Block, Bullets, Figure, Para, Quote, Table, b, code
from .experiment import write_text
from .figures import FigureFile, write_figures
from .inputs import ReportInputs, inputs_of
from .paper_context import Ctx, and_list, build, cap, nice
from ..verdicts import Verdict

Result = Mapping[str, Any]
READOUT_MINUTES = 25


@dataclass(frozen=True)
class Slide:
    title: str
    blocks: Sequence[Block]
    kind: str = ""
    notes: str = ""
    weight: float = 1.0  # relative share of the talk, turned into `minutes`
    minutes: float = 0.0


def _fig(figures: Mapping[str, FigureFile], folder: Path, name: str) -> list[Block]:
    f = figures.get(name)
    return [Figure(html.data_uri(folder / f.src), f.caption, f.alt)] if f else []


def budget(slides: list[Slide], total: float = READOUT_MINUTES) -> list[Slide]:
    """Give each slide minutes in half-minute steps, proportional to its weight, summing to
    exactly `total`."""
    weights = sum(s.weight for s in slides) or 1.0
    mins = [max(0.5, round(2 * total * s.weight / weights) / 2) for s in slides]
    order = sorted(range(len(slides)), key=lambda i: -slides[i].weight)
    k = 0
    while abs(sum(mins) - total) > 1e-9:
        i = order[k % len(order)]
        step = 0.5 if sum(mins) < total else -0.5
        if mins[i] + step >= 0.5:
            mins[i] += step
        k += 1
    return [replace(s, minutes=m) for s, m in zip(slides, mins)]


def _title_slide(ctx: Ctx, title: str) -> Slide:
    r = ctx.r
    rows = findings.finding_rows(r, ctx.u)
    return Slide(title, [
        Para(["Lab readout · pre-registered study · verdict ", b(r.get("verdict") or "—")],
             kind="verdict"),
        Bullets([f"{cap(x['factor'])}: {x['finding']}" for x in rows][:5]),
        Para(f"{READOUT_MINUTES}-minute readout · press P for the presenter view", kind="note"),
        Para(["Sealed plan sha256 ", code(fmt.short(r.get("plan_sha256"), 16))], kind="note")],
        "title", notes=("Open with the question and the answer in one breath: what was varied, "
                        "what was found for each factor, and that every rule was fixed before "
                        "any run. Then say how the talk goes: setup, one slide per finding, the "
                        "negatives, limits."), weight=0.8)


def _setup_slide(ctx: Ctx) -> Slide:
    d, comp = ctx.plan.design, ctx.compute
    items = []
    ds = ctx.plan.raw.get("datasets") if ctx.plan.raw else None
    if isinstance(ds, str) and ds.strip():
        items.append("Data: " + ds.strip().split(". ")[0].rstrip(".") + ".")
    if d.factors:
        items.append("Varied: " + "; ".join(f"{nice(k)} ∈ {{{', '.join(map(str, v))}}}"
                                            for k, v in d.factors.items()))
    if d.fixed:
        items.append("Fixed: " + ", ".join(f"{nice(k)} = {v}" for k, v in list(d.fixed.items())[:6]))
    items.append(f"Seeds {fmt.seeds(d.seeds)} per cell · {ctx.metric} ({view.direction(ctx.r)} "
                 "is better)")
    items.append(f"Compute: {comp.runs} runs on {and_list(list(comp.cpus)) or '—'}, run time "
                 f"{derived.duration(comp.run_seconds)}, wall {derived.duration(comp.elapsed_seconds)}")
    return Slide("Setup", [Bullets(items)], notes=(
        "Walk through the data and the model, then what was varied and what was held fixed. "
        "Mention the compute so the audience can judge the cost of a replication."), weight=1.6)


def _plan_slide(ctx: Ctx) -> Slide:
    from .paper_front import _plain_rule
    from .narrative import _rule_text

    r, plan = ctx.r, ctx.plan
    dc = r.get("design_check") or {}
    rows = [["Decision rule", _plain_rule(ctx, _rule_text(plan))],
            ["Analysis", f"α = {plan.analysis.alpha:g}, 95% intervals, {plan.analysis.correction}"],
            ["Controls", f"{len(r.get('traps') or [])} trap(s)"
             + ("; τ: best of untrained models" if r.get("tau") else "")],
            ["Stop rules", str(len(plan.kill))],
            ["Power (design check)", f"{fmt.frac(dc.get('power'))} at {dc.get('smallest_effect', '—')}"
             " SD" if dc.get("power") is not None else "—"],
            ["Deviations", str(len(r.get("amendments") or [])) + " amendment(s)"]]
    return Slide("The plan, sealed before any run", [Table(["Registered", "Value"], rows)],
                 notes=("Stress that every line here was fixed and hashed before the first run; "
                        "the design check says what this design could and could not detect."),
                 weight=1.6)


def _design_slide(ctx: Ctx) -> Slide:
    dc = ctx.r.get("design_check") or {}
    rows = [["False positives per comparison (no true effect)", fmt.frac(dc.get("false_pass_rate"))],
            [f"Power at an effect of {dc.get('smallest_effect', '—')} SD", fmt.frac(dc.get("power"))],
            ["Seeds per group for 80% power", fmt.integer(dc.get("seeds_for_80_power"))]]
    for factor, row in list((dc.get("per_factor") or {}).items())[:3]:
        rows.append([f"{nice(factor)}: {row.get('runs_per_level')} runs per level",
                     f"power {fmt.frac(row.get('power_at_smallest_effect'))}"])
    seen = ctx.r.get("design_check_observed") or {}
    if seen.get("sigma_observed"):
        rows += [["σ assumed at lock / observed", f"{ctx.u.amount(seen.get('sigma_assumed'))} / "
                                                  f"{ctx.u.amount(seen['sigma_observed'])}"],
                 ["Power at the observed σ", fmt.frac(seen.get("power"))]]
    return Slide("Could the design decide?", [Table(["Operating characteristic", "Value"], rows)],
                 notes=("Simulated at lock time, before any data: how often this design would "
                        "find an effect that is there, and how often one that is not. A null "
                        "finding is only as strong as this power."), weight=1.2)


def _numbers_slide(ctx: Ctx) -> list[Slide]:
    if ctx.f is not None:
        return []
    rows = []
    for c in view.comparisons(ctx.r, "arm")[:6]:
        s = view.sigma_of(c)
        rows.append([str(c["cell"]), ctx.u.diff(c.get("mean_diff")),
                     ctx.u.ci(c.get("ci_low"), c.get("ci_high")), fmt.eff(c.get("cohens_d")),
                     fmt.pval(c.get("p_value")), fmt.eff(s["z"])])
    return [Slide("The numbers behind each verdict", [Table(
        ["Cell", f"Δ ({ctx.u.diff_unit})" if ctx.u.diff_unit else "Δ", "95% CI", "Cohen's d",
         "Welch p", "z (SD)"], rows)], notes=(
        "Each comparison in full: the difference in the metric's units with its interval, the "
        "standardised size, the test, and the z the seed protocol reads."), weight=1.4)]


def _flow_slide(ctx: Ctx) -> Slide:
    f = ctx.r.get("flow") or {}
    from .paper_front import controls_sentence

    items = [f"Registered {f.get('planned', '—')} runs → ran {f.get('run', '—')} → finished "
             f"{f.get('ok', '—')} → analysed {f.get('analysed', '—')}",
             f"Failed: {f.get('failed', 0)}; not run: {f.get('not_run', 0)}"]
    marked = ctx.r.get("untrained") or []
    if marked:
        items.append(f"Did not train (registered rule): {len(marked)} run(s), "
                     f"{marked[0].get('policy')}: " + ", ".join(
                         f"{m.get('cell')} seed {m.get('seed')}" for m in marked[:4]))
    controls = controls_sentence(ctx)
    if controls:
        items.append(controls)
    return Slide("What ran", [Bullets(items)], notes=(
        "Account for every registered run, CONSORT-style: nothing was dropped or added. The "
        "controls behaved, so the measurements can be trusted."), weight=1.0)


def _finding_slides(ctx: Ctx, figs, folder: Path) -> list[Slide]:
    out = []
    for factor in (ctx.f or {}).get("factor_verdicts", {}):
        e = ctx.effect(factor) or {"levels": [], "reference": None}
        rows = [[str(lv["level"]), ctx.u.value(lv["marginal_mean"]), ctx.u.diff(lv["diff"]),
                 ctx.u.ci(lv["ci_low"], lv["ci_high"])] for lv in e["levels"]
                if lv["level"] != e["reference"]]
        name = "factor-" + "".join(ch if ch.isalnum() else "_" for ch in str(factor))
        term = ctx.term(factor) or {}
        notes = (findings.factor_sentence(ctx.r, ctx.u, factor) + f" ANOVA: F = "
                 f"{fmt.num(term.get('F'), 2)}, {fmt.p_eq(term.get('p'))}. Say what the verdict "
                 "licenses and what it does not.")
        out.append(Slide(f"{cap(nice(factor))}: {findings.phrase(ctx.verdict(factor), ctx.margin_text())}",
                         [*_fig(figs, folder, name),
                          Table([nice(factor), "mean", f"Δ ({ctx.u.diff_unit})", "95% CI"], rows,
                                caption=f"reference: {nice(factor)} = {e['reference']}")],
                         "finding", notes=notes, weight=2.4))
    if ctx.f is None:
        for c in view.comparisons(ctx.r, "arm")[:6]:
            row = findings.arm_row(ctx.r, ctx.u, c)
            out.append(Slide(f"{c['cell']}: {row['verdict']}",
                             [Para(findings.arm_sentence(ctx.r, ctx.u, c)),
                              *_fig(figs, folder, "forest")], "figure",
                             notes=findings.arm_sentence(ctx.r, ctx.u, c) + " Say what the "
                             "verdict licenses at this number of seeds.", weight=2.4))
    return out


def _interaction_slide(ctx: Ctx, figs, folder) -> list[Slide]:
    if "interactions" not in figs:
        return []
    sig = [t for t in derived.interaction_terms(ctx.r, ctx.alpha)
           if t.get("p") is not None and t["p"] < ctx.alpha]
    text = ("Significant: " + and_list([f"{t['term'].replace(':', ' × ').replace('_', ' ')} "
                                        f"({fmt.p_eq(t['p'])})" for t in sig])
            if sig else f"No interaction reaches α = {ctx.alpha:g}.")
    return [Slide("Interactions", [Para(text), *_fig(figs, folder, "interactions")], "figure",
                  notes=("Show where one factor's effect depends on another; the main effects "
                         "are averages over these lines. " + text), weight=1.8)]


def _mechanism_slide(ctx: Ctx) -> list[Slide]:
    from .paper_results import mechanism_sentences

    mech = mechanism_sentences(ctx)
    if not mech:
        return []
    return [Slide("Why: what the training metrics show", [Bullets(mech)], notes=(
        "The secondary metrics were registered (or recorded) before the analysis; they explain "
        "the effect rather than decide it. " + " ".join(mech)), weight=1.8)]


def _negative_slide(ctx: Ctx) -> Slide:
    from .paper_results import negative_results

    full = list(negative_results(ctx).blocks[-1].items)
    if ctx.f is not None:
        items = [findings.compact_sentence(ctx.r, ctx.u, k) for k in ctx.f["factor_verdicts"]
                 if ctx.verdict(k) != Verdict.EFFECT]
        items += [i.split(" (“")[0] + ": " + i.rsplit(": ", 1)[-1] for i in full
                  if i.startswith("The registered hypothesis")]
    else:
        items = full
    items = items or ["None: every registered comparison showed an effect."]
    return Slide("Negative and null results", [Bullets(items[:4])], notes=(
        "Give the nulls the same weight as the positives: say which are bounded nulls "
        "(equivalence inside the margin) and which are simply inconclusive. " + " ".join(full)),
        weight=2.0)


def _limits_slide(ctx: Ctx) -> Slide:
    from .paper_results import threats

    items = list(threats(ctx).blocks[0].items)
    short = [i.split(":", 1)[0] + ":" + i.split(":", 1)[1].split(";")[0].split(". ")[0]
             if ":" in i else i for i in items][:5]
    return Slide("What this does not show", [Bullets(short)], notes=(
        "The limits, in order of how much they matter here. " + " ".join(items)), weight=1.8)


def _takehome_slide(ctx: Ctx) -> Slide:
    from .paper_results import discussion

    rows = findings.finding_rows(ctx.r, ctx.u)
    items = [f"{cap(x['factor'])}: {x['finding']} (largest: {x['contrast']}, {x['effect']} "
             f"{x['ci']})" for x in rows][:5]
    take = [str(p.text).replace("Take-home: ", "", 1) for p in discussion(ctx).blocks
            if isinstance(p, Para) and str(p.text).startswith("Take-home")]
    return Slide("Take-home", [Bullets(items), *([Para(take[0])] if take else []),
                               Para("Files: prereg.yaml · ledger.jsonl · result.json · paper.pdf",
                                    kind="note")],
                 notes="Restate each finding with its interval, then the one thing to do next. "
                       "Invite questions.", weight=1.4)


def slides(inputs: ReportInputs, figures: Sequence[FigureFile]) -> list[Slide]:
    from .paper_front import title

    ctx = build(inputs)
    folder = inputs.folder
    figs = {f.name: f for f in figures}
    hyps = ctx.r.get("hypotheses") or {}
    question = [Quote(str(ctx.r.get("hypothesis") or "(none)").strip())]
    if hyps:
        question.append(Table(["Factor", "Registered hypothesis"],
                              [[nice(k), v] for k, v in hyps.items()]))
    out = [_title_slide(ctx, title(ctx)),
           Slide("The question", question, notes=(
               "Read the registered hypothesis aloud; it was written before any result "
               "existed."), weight=1.2),
           _setup_slide(ctx), _plan_slide(ctx), _design_slide(ctx), _flow_slide(ctx),
           *_finding_slides(ctx, figs, folder), *_numbers_slide(ctx),
           *_interaction_slide(ctx, figs, folder)]
    if "cells" in figs:
        out.append(Slide("Every run", _fig(figs, folder, "cells"), "figure", notes=(
            "Every seed of every cell; the reader can check each finding against the raw "
            "runs."), weight=1.2))
    if "controls" in figs:
        out.append(Slide("Controls: traps and τ", _fig(figs, folder, "controls"), "figure",
                         notes=("The pipeline was checked by controls with known answers. "
                                + (controlsentence(ctx) or "")), weight=1.2))
    out += [*_mechanism_slide(ctx), _negative_slide(ctx), _limits_slide(ctx),
            _takehome_slide(ctx)]
    return budget(out)


def controlsentence(ctx: Ctx) -> str | None:
    from .paper_front import controls_sentence

    return controls_sentence(ctx)


def render_deck(plan_path: "Path | str | ReportInputs") -> Path:
    """Write deck.html (self-contained slides) next to the ledger and return its path."""
    from .paper_front import title

    inputs = inputs_of(plan_path)
    figures = write_figures(inputs.result, inputs.folder)
    deck = slides(inputs, figures)
    text = html.render_template("deck.html.j2", title=title(build(inputs)), slides=deck,
                                total=READOUT_MINUTES)
    return write_text(inputs.folder / "deck.html", text)
