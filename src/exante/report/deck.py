"""A self-contained HTML slide deck for a 25-minute lab readout (seed 002).

One file, no external URL: styles and the few lines of keyboard script are
inline, figures are embedded as data: URIs. Arrow keys, Page Up/Down and
Space move between slides; without script the slides simply scroll.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import fmt, html, narrative, sections, view
from .doc import Block, Bullets, Figure, Para, Table, b, code
from .experiment import write_text
from .figures import FigureFile, write_figures
from .inputs import ReportInputs, inputs_of
from .markdown import title_of

Result = Mapping[str, Any]
READOUT_MINUTES = 25


@dataclass(frozen=True)
class Slide:
    title: str
    blocks: Sequence[Block]
    kind: str = ""


def _fig(figures: Mapping[str, FigureFile], folder: Path, name: str) -> list[Block]:
    f = figures.get(name)
    return [Figure(html.data_uri(folder / f.src), f.caption, f.alt)] if f else []


def _negatives(r: Result) -> list[Any]:
    """Null and negative results, stated with the same weight as the positive ones."""
    items: list[Any] = []
    f = view.factorial(r)
    if f is not None:
        for factor, v in f["factor_verdicts"].items():
            if v.get("verdict") != "EFFECT":
                items.append([b(factor), ": " + sections.factor_phrase(v.get("verdict"),
                                                                      f["margin"])
                              + f". {v.get('why', '')}"])
    # a factorial study's findings are its factors; its many cell contrasts stay in the report
    for c in view.comparisons(r, "arm") if f is None else []:
        p = fmt.get(c, "p_holm", "p_value")
        s = view.sigma_of(c)
        delta = (f"; Δ = {fmt.signed(c.get('mean_diff'))} "
                 f"{fmt.ci(c.get('ci_low'), c.get('ci_high'), fmt.signed)}")
        if r.get("rule") == "sigma" and s["verdict"] != "WINNER":
            items.append([b(c["cell"]), f": {s['verdict']}"
                          + (f" ({s['tier']})" if s["tier"] else "")
                          + f", z = {fmt.eff(s['z'])}" + delta])
        elif r.get("rule") != "sigma" and (p is None or p >= c.get("alpha", 0.05)):
            label = "Holm " if c.get("p_holm") is not None else ""
            items.append([b(c["cell"]), f": no significant improvement ({label}"
                          f"{fmt.p_eq(p)})" + delta])
    for t in r.get("traps") or []:
        if t.get("passed") is not True:
            items.append([b(f"trap {t['name']}"), f": {fmt.passed(t.get('passed'))}"])
    return items or ["None: every registered comparison showed a detected effect."]


def slides(inputs: ReportInputs, figures: Sequence[FigureFile]) -> list[Slide]:
    r, plan, folder = inputs.result, inputs.plan, inputs.folder
    figs = {f.name: f for f in figures}
    out = [
        Slide(title_of(inputs), [
            Para(["Verdict: ", b(narrative.verdict_label(r))], kind="verdict"),
            Para(["Sealed plan sha256 ", code(inputs.plan_sha256)]),
            Para(f"Lab readout · {READOUT_MINUTES} minutes")], "title"),
        Slide("The question", list(narrative.hypothesis(r).blocks)),
        Slide("The plan, sealed before any run", list(narrative.plan_summary(plan, r).blocks)),
        Slide("Could the design decide?", list(narrative.design_check(r).blocks)),
        Slide("What ran", list(narrative.flow(r, per_cell=False).blocks)),
        Slide("Results: every seed, every cell", _fig(figs, folder, "cells")),
        Slide("Effect sizes with confidence intervals",
              _fig(figs, folder, "forest") + sections._comparison_tables(
                  view.comparisons(r, "arm"))[:1]),
    ]
    if view.factorial(r) is not None:
        out.append(Slide("Main effects", _fig(figs, folder, "main_effects")
                         + [sections.factor_verdict_table(r, plan.hypotheses)]))
        fact = sections.factorial(r, plan.hypotheses)
        out.append(Slide("Interactions and ANOVA", _fig(figs, folder, "interactions")
                         + list(fact.blocks[:1])))
    out += [
        Slide("Negative and null results", [Bullets(_negatives(r))]),
        Slide("Traps and τ", list(sections.traps(r).blocks[:1]) + list(sections.tau(r).blocks[:1])
              + _fig(figs, folder, "tau")),
        Slide(f"Verdict: {narrative.verdict_label(r)}", list(narrative.verdict(r).blocks)),
        Slide("Caveats", list(narrative.caveats(r).blocks)),
        Slide("What this does not show", list(narrative.not_shown(r, plan).blocks)),
        Slide("Deviations", list(narrative.amendments(r).blocks)),
        Slide("Discussion", [Para("Questions, and what the next pre-registered plan should "
                                  "test."), Table(["Where to look", "File"],
                                                  [["plan", inputs.plan_path.name],
                                                   ["ledger", "ledger.jsonl"],
                                                   ["numbers", "result.json"],
                                                   ["full report", "report.html"]])]),
    ]
    return out


def render_deck(plan_path: "Path | str | ReportInputs") -> Path:
    """Write deck.html (self-contained slides) next to the ledger and return its path."""
    inputs = inputs_of(plan_path)
    figures = write_figures(inputs.result, inputs.folder)
    deck = slides(inputs, figures)
    minutes = READOUT_MINUTES / max(1, len(deck))
    text = html.render_template("deck.html.j2", title=title_of(inputs), slides=deck,
                                minutes=f"{minutes:.1f}")
    return write_text(inputs.folder / "deck.html", text)
