"""The paper (seed 002): six pages of body, then appendices; HTML and PDF.

Written from the sealed plan, the ledger and result.json by templated prose
(`paper_front`, `paper_results`); every number is computed, nothing is typed
in. The body is laid out to exactly `BODY_PAGES` pages when there is enough
to say (a factorial study): the PDF is rendered, the body's pages counted,
and the figures redrawn taller or shorter (their fonts stay at print size)
until the body ends on page six; blocks that do not fit move to the
appendices. A smaller plan (a seed protocol, one arm) keeps the same
structure at its own length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import html, narrative, sections
from .doc import Document, Para, Section, Table
from .experiment import write_text
from .figures import FigureFile, write_figures
from .glossary import GLOSSARY
from .inputs import ReportInputs, inputs_of
from .paper_context import Ctx, build

BODY_PAGES = 6
APPENDIX_ANCHOR = "appendices"
END_ANCHOR = "end-of-body"
SCALES = (0.7, 1.6)  # the range of figure heights the layout may choose from


def abstract(inputs: ReportInputs) -> list[str]:
    """The abstract's sentences, each traceable to a number in result.json or the ledger."""
    from .paper_front import abstract as sentences

    return sentences(build(inputs))


def body_sections(ctx: Ctx, figures: dict[str, FigureFile], *,
                  demoted: frozenset[str] = frozenset()) -> tuple[list[Section], list[Section]]:
    """(the body's sections in reading order, the results subsections moved out of it).

    Built in reading order so figures and tables are numbered as a reader meets them."""
    from . import paper_front as front
    from . import paper_results as res

    head = [Section("Abstract", [Para(" ".join(front.abstract(ctx)))], anchor="abstract"),
            front.introduction(ctx), front.background(ctx), front.setup(ctx),
            front.preregistration(ctx)]
    results = res.results(ctx, figures, skip=demoted)
    kept = [s for s in results if s.title.split(" ", 1)[-1] not in demoted]
    tail = [res.negative_results(ctx), res.discussion(ctx), res.threats(ctx),
            res.reproducibility(ctx)]
    refs = Section("References", [Para(e) for e in ctx.cite.entries()], anchor="references")
    return [*head, Section("5 Results", []), *kept, *tail, refs], []


def appendices(ctx: Ctx, figures: dict[str, FigureFile], demoted: frozenset[str]
               ) -> list[Section]:
    from . import paper_results as res

    inputs, r = ctx.inputs, ctx.r
    out = [Section("Appendices", [Para("Material after this point is outside the six-page body: "
                                       "the glossary, every number behind the figures, and the "
                                       "sealed plan verbatim.")], anchor=APPENDIX_ANCHOR),
           Section("Appendix A. Glossary", [Table(["Term", "Meaning"],
                                                  [[k, v] for k, v in GLOSSARY])])]
    moved = [s for s in res.results(ctx, figures) if s.title.split(" ", 1)[-1] in demoted]
    for s in moved:
        out.append(Section(f"Appendix: {s.title.split(' ', 1)[-1]}", list(s.blocks)))
    stats = sections.experiment_statistics(r)
    out.append(Section("Appendix B. Every cell", list(stats.blocks)))
    comp = sections.comparison_tables(sections.view.comparisons(r, "arm"))
    forest = res.fig(ctx, figures, "forest") if ctx.f is not None else []
    out.append(Section("Appendix C. Every cell against the baseline", [*forest, *comp]))
    out.append(Section("Appendix D. Caveats as computed", list(narrative.caveats(r).blocks)
                       + list(narrative.flow(r, per_cell=False).blocks)))
    out.append(Section("Appendix E. The sealed plan", list(narrative.appendix_plan(
        inputs.plan_text, inputs.plan_path.name, inputs.plan_sha256).blocks)))
    return out


@dataclass(frozen=True)
class Layout:
    """The choices the page fitting made: figure height scale and blocks moved out."""

    scale: float = 1.0
    demoted: frozenset[str] = frozenset()
    body_pages: int | None = None
    last_page_fill: float | None = None


def paper_document(inputs: ReportInputs, figures: list[FigureFile],
                   layout: Layout = Layout(), *, body_only: bool = False) -> Document:
    """The paper as a Document; `body_only` leaves the appendices out (they start on a page
    of their own, so the page fitting need not lay them out)."""
    from .paper_front import title

    ctx = build(inputs)
    figs = {f.name: f for f in figures}
    body, _ = body_sections(ctx, figs, demoted=layout.demoted)
    body.append(Section("", [Para("")], anchor=END_ANCHOR, level=6))
    if body_only:
        after = [Section("Appendices", [], anchor=APPENDIX_ANCHOR)]
    else:
        after = appendices(ctx, figs, layout.demoted)
    return Document(title(ctx), [*body, *after])


def _html(inputs: ReportInputs, figures: list[FigureFile], layout: Layout, *,
          body_only: bool = False) -> str:
    return html.render_document(paper_document(inputs, figures, layout, body_only=body_only),
                                "paper.html.j2", sha=inputs.plan_sha256, head=inputs.ledger_head)


def render_paper(plan_path: "Path | str | ReportInputs", *, pdf: bool = True) -> tuple[Path, Path | None]:
    """Write paper.html (and paper.pdf with the `exante[pdf]` extra) next to the ledger.

    Returns (html_path, pdf_path); pdf_path is None when `pdf` is False. With `pdf`, the
    body is fitted to `BODY_PAGES` pages first (see the module doc).
    Raises MissingDependencyError naming `exante[pdf]` when weasyprint is absent.
    """
    inputs = inputs_of(plan_path)
    folder = inputs.folder
    if not pdf:
        figures = write_figures(inputs.result, folder)
        page = write_text(folder / "paper.html", _html(inputs, figures, Layout()))
        return page, None
    from ..errors import require

    weasyprint = require("weasyprint", "pdf")
    from .paper_fit import fit

    layout, text, document = fit(inputs, weasyprint, _html)
    page = write_text(folder / "paper.html", text)
    pdf_path = folder / "paper.pdf"
    document.write_pdf(str(pdf_path))
    return page, pdf_path


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Render an HTML file to PDF with weasyprint (imported late: the `pdf` extra)."""
    from ..errors import require

    weasyprint = require("weasyprint", "pdf")
    weasyprint.HTML(filename=str(html_path), base_url=str(html_path.parent)).write_pdf(
        str(pdf_path))
    return pdf_path


def body_page_count(document: Any) -> tuple[int | None, float | None]:
    """(pages before the appendices, fill of the last body page 0..1) of a rendered document."""
    appendix = next((i for i, p in enumerate(document.pages) if APPENDIX_ANCHOR in p.anchors),
                    None)
    end = next(((i, p) for i, p in enumerate(document.pages) if END_ANCHOR in p.anchors), None)
    fill = None
    if end is not None:
        i, p = end
        fill = p.anchors[END_ANCHOR][1] / p.height if p.height else None
    return appendix, fill


__all__ = ["BODY_PAGES", "Layout", "abstract", "body_page_count", "paper_document",
           "render_paper", "write_pdf"]
