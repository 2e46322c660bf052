"""The per-experiment report as a Document, as Markdown, and seed 003's research note.

`report_document` assembles seed 003's sections (baseline and experiment
statistics, statistical test, wall clock, verdict) and everything exante adds
(seal, hypothesis, design check, every comparison, traps, τ, factorial
analysis, caveats, amendments, flow of runs, what the result does not show).
`render_sigma_markdown` writes seed 003's `experiment_<name>_1M.md` format.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from . import fmt, narrative, sections, view
from .doc import Bullets, Document, Figure, Para, Quote, Section, code, to_markdown
from .figures import FigureFile
from .inputs import ReportInputs

Result = Mapping[str, Any]

# which section each figure belongs to
_FIGURE_HOME = {"cells": "Experiment Statistics", "forest": "Statistical Test",
                "controls": "Traps", "main_effects": "Factorial analysis",
                "interactions": "Factorial analysis"}


def title_of(inputs: ReportInputs) -> str:
    title = inputs.plan.raw.get("title") if inputs.plan.raw else None
    eid = inputs.result.get("experiment_id") or inputs.plan.experiment_id
    return f"Experiment: {eid}" + (f" — {title}" if isinstance(title, str) and title else "")


def report_document(inputs: ReportInputs, figures: Sequence[FigureFile] = ()) -> Document:
    """Every section of the per-experiment report, with figures placed in their sections."""
    r = inputs.result
    body = [
        narrative.hypothesis(r),
        narrative.plan_summary(inputs.plan, r),
        narrative.design_check(r),
        sections.baseline_statistics(r),
        sections.experiment_statistics(r),
        sections.statistical_test(r),
        sections.wall_clock(r),
        sections.traps(r),
        sections.tau(r),
        sections.factorial(r, inputs.plan.hypotheses),
        narrative.verdict(r),
        narrative.caveats(r),
        narrative.amendments(r),
        narrative.flow(r),
        narrative.not_shown(r, inputs.plan),
        narrative.appendix_plan(inputs.plan_text, inputs.plan_path.name, inputs.plan_sha256),
    ]
    body = [s for s in body if s is not None]
    intro = narrative.seal_lines(r, inputs.plan_path.name, len(inputs.records), inputs.ledger_head)
    return Document(title_of(inputs), _place_figures(body, figures), intro)


def _place_figures(body: list[Section], figures: Sequence[FigureFile]) -> list[Section]:
    out = []
    for s in body:
        extra = [Figure(f.src, f.caption, f.alt) for f in figures
                 if s.title.startswith(_FIGURE_HOME.get(f.name, "\0"))]
        out.append(Section(s.title, [*s.blocks, *extra], s.level, s.anchor) if extra else s)
    return out


def render_markdown(inputs: ReportInputs, figures: Sequence[FigureFile] = ()) -> str:
    """report.md's text."""
    return to_markdown(report_document(inputs, figures))


def sigma_document(result: Result, *, name: str | None = None) -> Document:
    """Seed 003's experiment report: its five sections in its order, then exante's additions."""
    name = name or str(result.get("experiment_id") or "experiment")
    verdict = narrative.verdict(result)
    body = [
        sections.baseline_statistics(result),
        sections.experiment_statistics(result),
        sections.statistical_test(result, full=False),
        sections.wall_clock(result),
        Section(f"Verdict: {result.get('verdict') or '—'}", list(verdict.blocks)),
        _sigma_additions(result),
        narrative.caveats(result),
        narrative.not_shown(result),
    ]
    intro = [Para(["Plan sha256 ", code(result.get("plan_sha256") or "—"), "; ledger head ",
                   code(result.get("ledger_head") or "—"), ". Written by exante from "
                   "result.json; every number below is the one the verdict used."]),
             Quote(str(result.get("hypothesis") or "(no hypothesis recorded)"))]
    return Document(f"Experiment: {name}", body, intro)


def _sigma_additions(result: Result) -> Section:
    items: list = []
    for c in view.comparisons(result, "arm"):
        s = view.sigma_of(c)
        items.append(f"{c['cell']}: z = {fmt.eff(s['z_a'])} under rule A (σ = baseline SD) → "
                     f"{s['verdict_a'] or '—'}; z = {fmt.eff(s['z_b'])} under rule B "
                     "(σ pooled) → "
                     f"{s['verdict_b'] or '—'}; registered rule {s['rule'] or '—'}.")
        items.append(f"{c['cell']}: Welch p = {fmt.pval(c.get('p_value'))}; Δ = "
                     f"{fmt.signed(c.get('mean_diff'))}, 95% CI {_ci(c)}; Hedges g = "
                     f"{fmt.eff(c.get('hedges_g'))}.")
        if s["extended"]:
            items.append("Stage 2 ran: |z| < 2 after 3 seeds, so seeds 512 and 1024 were added "
                         "as the protocol registers.")
    reused = result.get("reused_baseline")
    if reused:
        items.append(["Baseline reused from ", code(reused.get("source") or "?"), " (",
                      code(reused.get("store") or "?"), ")."])
    else:
        items.append("Baseline measured in this experiment (not reused).")
    comps = view.comparisons(result, "arm")
    return Section("exante additions", [Bullets(items), *sections.comparison_tables(comps)])


def _ci(c: Mapping[str, Any]) -> str:
    return fmt.ci(c.get("ci_low"), c.get("ci_high"), fmt.signed)


def render_sigma_markdown(result: Result, *, name: str | None = None) -> str:
    """Seed 003's `docs/research/experiment_<name>_1M.md` text for a result, plus exante's
    additions (z under both rules, Welch p, CI, caveats, baseline reuse)."""
    return to_markdown(sigma_document(result, name=name))
