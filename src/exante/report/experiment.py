"""`render_report`: report.md, report.html and figures/ for one decided experiment.

Also `write_sigma_note`: seed 003's research note for a plan with a seed
protocol, written where the caller says (by default next to the stored
baseline variance, e.g. ``docs/research/experiment_<id>_1M.md``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import html
from .figures import write_figures
from .inputs import ReportInputs, inputs_of
from .markdown import render_sigma_markdown, report_document
from .doc import to_markdown
from ..paths import write_atomic


def write_text(path: Path, text: str) -> Path:
    """Write a whole file atomically (a reader never sees half a report), mode 0666 less the
    umask (0644 under the usual 022): `paths.write_atomic`, which result.json uses too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path


def render_report(plan_path: "Path | str | ReportInputs") -> list[Path]:
    """Write report.md, report.html and figures/*.svg next to the ledger.

    Reads the sealed plan, the ledger and result.json only. Returns the paths
    written: [report.md, report.html, *figures]. Raises InputError when there
    is no result yet, and an IntegrityError when the files do not belong together.
    """
    inputs = inputs_of(plan_path)
    folder = inputs.folder
    figures = write_figures(inputs.result, folder)
    document = report_document(inputs, figures)
    md = write_text(folder / "report.md", to_markdown(document))
    page = write_text(folder / "report.html", html.render_document(
        document, footer=f"Plan sha256 {inputs.plan_sha256}."))
    return [md, page, *(folder / f.src for f in figures)]


def default_sigma_note_path(plan_path: "Path | str | ReportInputs") -> Path | None:
    """Where seed 003 keeps the experiment note: next to the stored baseline variance.

    ``seed_protocol.reuse: docs/research/baseline_variance_1M.json`` gives
    ``docs/research/experiment_<id>_1M.md``; None without a seed protocol or reuse path.
    """
    inputs_plan = inputs_of(plan_path).plan
    proto = inputs_plan.seed_protocol
    if proto is not None and proto.report:
        return Path(os.path.normpath(inputs_plan.folder / proto.report))
    if proto is None or not proto.reuse:
        return None
    store = inputs_plan.folder / proto.reuse
    m = re.match(r"baseline_variance(.*)$", store.stem)
    suffix = m.group(1) if m else ""
    name = f"experiment_{inputs_plan.experiment_id}{suffix}.md"
    return Path(os.path.normpath(store.parent / name))


def write_sigma_note(plan_path: "Path | str | ReportInputs", dest: Path | str | None = None) -> Path | None:
    """Write seed 003's experiment note for a seed-protocol plan; None when it has none."""
    inputs = inputs_of(plan_path)
    if inputs.plan.seed_protocol is None:
        return None
    dest = Path(dest) if dest is not None else default_sigma_note_path(inputs)
    if dest is None:
        return None
    return write_text(dest, render_sigma_markdown(inputs.result))
