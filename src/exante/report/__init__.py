"""Reports: Markdown, HTML with figures, a paper-style report and a readout deck.

Reports read saved files only (the sealed plan, ledger.jsonl, result.json);
nothing here reruns a trial or recomputes a verdict.

    render_report(plan)          report.md, report.html, figures/*.svg
    render_sigma_markdown(res)   seed 003's experiment_<name>_1M.md text
    write_sigma_note(plan, dest) that text written to a file
    render_paper(plan)           paper.html and paper.pdf (exante[pdf])
    render_deck(plan)            deck.html: self-contained slides
"""

from .deck import render_deck
from .experiment import default_sigma_note_path, render_report, write_sigma_note
from .inputs import ReportInputs, load_inputs
from .markdown import render_markdown, render_sigma_markdown, report_document
from .paper import render_paper

__all__ = [
    "ReportInputs", "default_sigma_note_path", "load_inputs", "render_deck", "render_markdown",
    "render_paper", "render_report", "render_sigma_markdown", "report_document",
    "write_sigma_note",
]

from ..api import make_callable as _make_callable  # noqa: E402

_make_callable(__name__)  # `exante.report(ID)` calls exante.api.report
