"""The paper-style report (seed 002): about six pages, HTML and PDF.

The abstract is generated from the verdicts and says exactly what each one
licenses: "effect detected", "no effect detected: equivalent within ±m",
"inconclusive". Every factor (or arm) gets a findings subsection built by the
same function, so a null result takes the same space as a positive one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import fmt, html, narrative, sections, view
from .doc import Bullets, Document, Figure, Para, Section, Table, b, code
from .experiment import write_text
from .figures import FigureFile, write_figures
from .inputs import ReportInputs, load_inputs
from .markdown import title_of

Result = Mapping[str, Any]


# ---------------------------------------------------------------- abstract


def abstract(inputs: ReportInputs) -> list[str]:
    """The abstract's sentences, each traceable to a number in result.json."""
    r, plan = inputs.result, inputs.plan
    flow = r.get("flow") or {}
    metric = view.metric_name(r)
    out = [f"We pre-registered {_design_phrase(plan)} on {metric} ({view.direction(r)} is "
           f"better) and sealed the plan (sha256 {fmt.short(r.get('plan_sha256'))}) before any "
           f"run. Of {flow.get('planned', '—')} registered runs, {flow.get('analysed', '—')} "
           f"values were analysed ({flow.get('failed', 0)} failed, {flow.get('not_run', 0)} not "
           "run)."]
    f = view.factorial(r)
    if f is not None:
        out += [_factor_sentence(factor, v, f) for factor, v in f["factor_verdicts"].items()]
    else:
        out += [_arm_sentence(r, c) for c in view.comparisons(r, "arm")]
    out.append(f"The registered decision rule gives {narrative.verdict_label(r)}.")
    dc = r.get("design_check") or {}
    if dc.get("power") is not None:
        out.append(f"At {dc.get('n_exp', '—')} seeds per cell the design had "
                   f"{fmt.frac(dc['power'])} power to detect d = {dc.get('smallest_effect')}; "
                   "results without a detected effect are not evidence of absence beyond what "
                   "their intervals show.")
    if r.get("deviated"):
        out.append("The plan was amended after runs had started; the deviation is reported.")
    return out


def _design_phrase(plan) -> str:
    d = plan.design
    if d.factors:
        sizes = "×".join(str(len(v)) for v in d.factors.values())
        n_seeds = len(d.seeds)
        return (f"a {sizes} factorial ablation of {', '.join(d.factors)} with {n_seeds} seeds "
                "per cell")
    if plan.seed_protocol is not None:
        return "a seed-protocol comparison (5 baseline seeds, 3 + 2 experiment seeds)"
    return f"a comparison of {len(d.arms)} arm(s) against a baseline with {len(d.seeds)} seeds"


def _widest(levels: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    rated = [lv for lv in levels if lv.get("diff") is not None and lv.get("ci_low") is not None]
    return max(rated, key=lambda lv: abs(lv["diff"])) if rated else None


def _factor_sentence(factor: str, verdict: Mapping[str, Any], f: Mapping[str, Any]) -> str:
    effect = next((e for e in f["main_effects"] if e["factor"] == factor), None)
    phrase = sections.factor_phrase(verdict.get("verdict"), f["margin"])
    lv = _widest(effect["levels"]) if effect else None
    if lv is None:
        return f"{factor}: {phrase}."
    est = (f"{lv['level']} vs {effect['reference']}: {fmt.signed(lv['diff'])}, 95% CI "
           f"{fmt.ci(lv['ci_low'], lv['ci_high'], fmt.signed)}")
    term = next((t for t in f["anova"] if t["term"] == factor), None)
    test = f"; F = {fmt.num(term['F'], 2)}, p = {fmt.pval(term['p'])}" if term else ""
    tail = ""
    if verdict.get("verdict") == "INCONCLUSIVE":
        tail = (" — the interval includes zero but also differences larger than the margin, "
                "so neither an effect nor its absence is shown")
    if effect.get("tag"):
        tail += f" ({effect['tag']})"
    return f"{factor.capitalize()}: {phrase} (largest difference {est}{test}){tail}."


def _arm_sentence(r: Result, c: Mapping[str, Any]) -> str:
    s = view.sigma_of(c)
    what = (f"{s['verdict']}" + (f" ({s['tier']})" if s["tier"] else "")
            if r.get("rule") == "sigma" else
            ("difference detected" if (fmt.get(c, "p_holm", "p_value") or 1) < c.get("alpha", 0.05)
             else "no difference detected"))
    return (f"{c['cell']}: {what}; Δ = {fmt.signed(c.get('mean_diff'))}, 95% CI "
            f"{fmt.ci(c.get('ci_low'), c.get('ci_high'), fmt.signed)}, d_s = "
            f"{fmt.eff(c.get('cohens_d_pooled'))} "
            f"{fmt.ci(c.get('d_ci_low'), c.get('d_ci_high'), fmt.eff)}.")


# ---------------------------------------------------------------- body


def methods(inputs: ReportInputs) -> Section:
    plan, r = inputs.plan, inputs.result
    trial = plan.trial
    if trial is not None and trial.kind == "batched":
        group = ", ".join(trial.group_by)
        runs = (f"Runs sharing {group} are trained together by {code(trial.target).text} as one "
                f"stacked ensemble of up to {trial.max_batch} (each run keeps its own seed and "
                "parameters)")
    elif trial is not None and trial.target:
        runs = f"Each run calls {code(trial.target).text} with one seed and one cell's parameters"
    else:
        runs = ("Each run executes the registered command with one seed and one cell's "
                "parameters" if trial else "Runs are external")
    items = [
        f"{runs}; the runner records every outcome "
        "(metrics, wall time, environment) in a hash-chained ledger as it finishes.",
        f"Failed runs (crash, timeout, NaN) are {plan.failures.policy.replace('_', ' ')}, as "
        "registered before any run.",
        "Per cell: mean, sample SD (ddof = 1), and the t-interval of the mean.",
        "Each cell against the baseline: Welch's t-test and interval of the difference, Cohen's "
        "d and d_s with a noncentral-t interval, Hedges' g, P(improvement), exact permutation p; "
        f"Holm adjustment across the registered family (α = {plan.analysis.alpha:g}).",
    ]
    if view.factorial(r) is not None:
        items.append("Factorial: full-factorial OLS with Type II sums of squares; main effects as "
                     "unweighted marginal-mean differences from the reference level, with CIs "
                     "from the full model's residual mean square. A factor shows an EFFECT when "
                     "a level's CI excludes 0, NO_EFFECT when every CI lies inside the "
                     "registered equivalence margin, and is INCONCLUSIVE otherwise.")
    if r.get("rule") == "sigma":
        items.append("Seed protocol: z = Δ/σ with the registered σ; WINNER at z ≥ 2, LOSER at "
                     "z ≤ −2, else NEUTRAL; 2 more seeds when stage 1 is within 2σ.")
    return Section("3. Methods", [Bullets(items)])


def findings(r: Result) -> list[Section]:
    """One subsection per factor (or arm), all built alike: positive and null get equal space."""
    f = view.factorial(r)
    out = []
    if f is not None:
        for i, (factor, v) in enumerate(f["factor_verdicts"].items(), start=1):
            effect = next((e for e in f["main_effects"] if e["factor"] == factor), None)
            rows = [[str(lv["level"]), fmt.num(lv["marginal_mean"]), fmt.signed(lv["diff"]),
                     fmt.ci(lv["ci_low"], lv["ci_high"], fmt.signed)]
                    for lv in (effect or {}).get("levels", [])]
            term = next((t for t in f["anova"] if t["term"] == factor), None)
            hyp = (r.get("hypotheses") or {}).get(factor)
            blocks = [Para(["Finding: ", b(sections.factor_phrase(v.get("verdict"), f["margin"]))]),
                      Para(f"Registered hypothesis: {hyp}" if hyp else
                           "No factor-specific hypothesis was registered."),
                      Table(["Level", "Marginal mean", "Δ vs reference", "95% CI"], rows),
                      Para(f"ANOVA: F({fmt.df(term['df'])}, {fmt.df(f['df_resid'])}) = "
                           f"{fmt.num(term['F'], 2)}, p = {fmt.pval(term['p'])}, partial η² = "
                           f"{fmt.num(term['partial_eta2'], 3)}. {v.get('why', '')}"
                           if term else str(v.get("why", "")))]
            out.append(Section(f"5.{i} {factor}", blocks, level=3))
        return out
    for i, c in enumerate(view.comparisons(r, "arm"), start=1):
        out.append(Section(f"5.{i} {c['cell']}", [Para(_arm_sentence(r, c))], level=3))
    return out


def paper_document(inputs: ReportInputs, figures: list[FigureFile]) -> Document:
    r = inputs.result
    fig = {f.name: Figure(f.src, f.caption, f.alt) for f in figures}
    results_blocks: list = [Para(["Overall verdict: ", b(narrative.verdict_label(r)), "."]),
                            Bullets(list(r.get("verdict_reasons") or ["—"]))]
    results_blocks += [fig[k] for k in ("main_effects", "interactions") if k in fig]
    fact = sections.factorial(r, inputs.plan.hypotheses)
    if fact is not None:  # the ANOVA here; each factor's level table is in its own finding
        results_blocks += list(fact.blocks[:1])
    # a factorial design's many cell-vs-baseline comparisons are in the report, not the paper
    wanted = ("cells",) if fact is not None else ("cells", "forest", "tau")
    results_blocks += [fig[k] for k in wanted if k in fig]
    null = _null_summary(r)
    body = [
        Section("Abstract", [Para(" ".join(abstract(inputs)))]),
        Section("1. Question", list(narrative.hypothesis(r).blocks)),
        Section("2. Pre-registered plan" if not r.get("retrospective") else
                "2. Registered plan (RETROSPECTIVE)", [
            Para(["The plan below was sealed (sha256 ", code(inputs.plan_sha256), ") and recorded "
                  "in the ledger before the first run; Appendix A quotes it verbatim."]
                 if not r.get("retrospective") else
                 ["RETROSPECTIVE: the plan below was sealed (sha256 ", code(inputs.plan_sha256),
                  ") after the runs it analyses existed (they were imported); it is not a "
                  "pre-registration. Appendix A quotes it verbatim."]),
            *narrative.plan_summary(inputs.plan, r).blocks,
            *narrative.design_check(r).blocks]),
        methods(inputs),
        Section("4. Results", results_blocks),
        Section("5. Findings, positive and negative alike", [Para(null)]),
        *findings(r),
        Section("6. Deviations and flow of runs", [*narrative.amendments(r).blocks,
                                                   *narrative.flow(r, per_cell=False).blocks]),
        Section("7. Limitations", [*narrative.caveats(r).blocks,
                                   *narrative.not_shown(r, inputs.plan).blocks]),
        Section("Appendix A. The sealed plan", list(narrative.appendix_plan(
            inputs.plan_text, inputs.plan_path.name, inputs.plan_sha256).blocks)),
        Section("Appendix B. Every cell", list(sections.experiment_statistics(r).blocks)),
    ]
    return Document(title_of(inputs), body)


def _null_summary(r: Result) -> str:
    f = view.factorial(r)
    if f is None:
        return ("Each comparison below is reported in the same form whatever its outcome; "
                "an interval that includes zero is a result, not a failure to report.")
    counts: dict[str, list[str]] = {}
    for factor, v in f["factor_verdicts"].items():
        counts.setdefault(sections.factor_phrase(v.get("verdict"), f["margin"]), []).append(factor)
    parts = [f"{phrase}: {', '.join(names)}" for phrase, names in counts.items()]
    return ("Each factor is reported below in the same form whatever its outcome (" +
            "; ".join(parts) + "). 'No effect detected' is claimed only inside the registered "
            "equivalence margin; 'inconclusive' means the data cannot tell.")


def render_paper(plan_path: Path | str, *, pdf: bool = True) -> tuple[Path, Path | None]:
    """Write paper.html (and paper.pdf with the `exante[pdf]` extra) next to the ledger.

    Returns (html_path, pdf_path); pdf_path is None when `pdf` is False.
    Raises MissingDependencyError naming `exante[pdf]` when weasyprint is absent.
    """
    inputs = load_inputs(plan_path)
    figures = write_figures(inputs.result, inputs.folder)
    document = paper_document(inputs, figures)
    page = write_text(inputs.folder / "paper.html", html.render_document(
        document, "paper.html.j2", sha=inputs.plan_sha256, head=inputs.ledger_head))
    if not pdf:
        return page, None
    return page, write_pdf(page, inputs.folder / "paper.pdf")


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Render an HTML file to PDF with weasyprint (imported late: the `pdf` extra)."""
    from ..errors import require

    weasyprint = require("weasyprint", "pdf")
    weasyprint.HTML(filename=str(html_path), base_url=str(html_path.parent)).write_pdf(
        str(pdf_path))
    return pdf_path
