"""CLI verbs for the record: `report`, `postmortem`, `rollup`, `audit`.

Plain click commands; `exante.cli` registers them with ``main.add_command``.
Like `exante.cli`, this module prints and exits; the library it calls only
returns data and raises `ExanteError`s (exit 2 for bad input, 1 for
integrity). `rollup --strict` and `audit` exit 1 on a finding.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

ROOT_OPTION = click.option("--root", type=click.Path(path_type=Path), default=Path("experiments"),
                           show_default=True, help="Registry folder.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@click.command("report")
@click.argument("target")
@ROOT_OPTION
@click.option("--paper", is_flag=True, help="Also write the paper-style report (paper.html).")
@click.option("--pdf/--no-pdf", default=True, show_default=True,
              help="With --paper: also paper.pdf (needs the exante[pdf] extra).")
@click.option("--deck", is_flag=True, help="Also write deck.html, slides for a lab readout.")
@click.option("--research-note", type=click.Path(path_type=Path), default=None,
              help="Seed-protocol plans: where to write experiment_<id>_1M.md (default: next "
                   "to the stored baseline variance).")
@click.option("--json", "as_json", is_flag=True, help="Print the written paths as JSON.")
@click.option("--log-to", "log_to", default=None, metavar="mlflow[:URI]",
              help="Also attach the report to the experiment's MLflow run.")
def report(target: str, root: Path, paper: bool, pdf: bool, deck: bool,
           research_note: Path | None, as_json: bool, log_to: str | None) -> None:
    """Write report.md, report.html and figures for TARGET (an id or a plan path) from its
    saved plan, ledger and result.json."""
    from .paths import find_plan
    from .report import render_deck, render_paper, render_report, write_sigma_note

    plan = find_plan(target, root)
    written = {"report": [str(p) for p in render_report(plan)]}
    note = write_sigma_note(plan, research_note)
    if note is not None:
        written["research_note"] = [str(note)]
    if paper:
        html_path, pdf_path = render_paper(plan, pdf=pdf)
        written["paper"] = [str(p) for p in (html_path, pdf_path) if p is not None]
    if deck:
        written["deck"] = [str(render_deck(plan))]
    if log_to is not None:
        from .interop.mlflow_log import parse_target, sync

        sync(plan, parse_target(log_to))
    if as_json:
        _echo_json(written)
        return
    for kind, paths in written.items():
        for p in paths:
            click.echo(f"wrote {p}")


@click.command("postmortem")
@click.argument("experiment_id")
@ROOT_OPTION
def postmortem(experiment_id: str, root: Path) -> None:
    """Write the postmortem template for EXPERIMENT_ID (never overwrites one)."""
    from .registry import MARKER, write_postmortem

    path = write_postmortem(experiment_id, root)
    click.echo(f"wrote {path}\nreplace every line marked {MARKER}; the catalogue counts it as "
               "written when none is left")


@click.command("rollup")
@click.argument("root", type=click.Path(path_type=Path), default=Path("experiments"))
@click.option("--strict", is_flag=True,
              help="Exit 1 when a killed experiment has no written postmortem.")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue summary as JSON.")
def rollup(root: Path, strict: bool, as_json: bool) -> None:
    """Regenerate ROOT/SUMMARY.md, SUMMARY.json and index.html from every experiment."""
    from .registry import build_catalogue
    from .registry import rollup as do_rollup

    cat = build_catalogue(root)
    paths = do_rollup(root, catalogue=cat)
    missing = cat.killed_without_postmortem
    if as_json:
        _echo_json({"written": [str(p) for p in paths], "counts": cat.counts(),
                    "killed_without_postmortem": [e.id for e in missing]})
    else:
        for p in paths:
            click.echo(f"wrote {p}")
        click.echo(f"{len(cat.entries)} experiment(s): " +
                   (", ".join(f"{n} {v}" for v, n in cat.counts().items()) or "none"))
        for e in missing:
            click.echo(f"KILLED WITHOUT POSTMORTEM: {e.id} (exante postmortem {e.id})", err=True)
    if strict and missing:
        sys.exit(1)


@click.command("audit")
@click.argument("root", type=click.Path(path_type=Path), default=Path("experiments"))
@click.option("--strict", is_flag=True,
              help="Also fail when a killed experiment has no written postmortem.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def audit(root: Path, strict: bool, as_json: bool) -> None:
    """Trace every result under ROOT to a lock that existed before it; exit 1 on a finding."""
    from .registry import audit as do_audit
    from .registry import audit_failed

    rows = do_audit(root)
    failed = audit_failed(rows, strict=strict)
    if as_json:
        _echo_json({"ok": not failed, "rows": [r.to_dict() for r in rows]})
    else:
        _print_rows(rows)
        bad = sum(r.status == "FAIL" for r in rows)
        warn = sum(r.status == "warn" for r in rows)
        click.echo(f"audit: {len({r.experiment for r in rows})} experiment(s), {bad} failure(s), "
                   f"{warn} warning(s)" + (" (strict)" if strict else ""))
    if failed:
        sys.exit(1)


def _print_rows(rows) -> None:
    widths = [max([len(h)] + [len(getattr(r, h)) for r in rows])
              for h in ("experiment", "check", "status")]
    head = ("experiment", "check", "status", "detail")
    click.echo("  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  detail")
    for r in rows:
        cells = (r.experiment, r.check, r.status)
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r.detail)


COMMANDS = (report, postmortem, rollup, audit)
