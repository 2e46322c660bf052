"""CLI verbs for the record: `report`, `postmortem`, `rollup`, `audit`.

Plain click commands; `exante.cli` registers them with ``main.add_command``.
Like `exante.cli`, this module prints and exits; the library it calls only
returns data and raises `ExanteError`s (exit 2 for bad input, 1 for
integrity). `rollup --strict` and `audit` exit 1 on a finding.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import click

ROOT_OPTION = click.option("--root", type=click.Path(path_type=Path), default=Path("experiments"),
                           show_default=True, help="Registry folder.")


_RECORD_FD: int | None = None  # the real stdout, set aside by `record_only_on_stdout`


def _echo_json(record: dict[str, Any]) -> None:
    """Print one `--json` record (built by `exante.agent.records`): first key "schema".

    The one copy: `exante.cli` (and the verbs that import it from there) use this one."""
    from .agent.records import dumps

    if _RECORD_FD is None:
        click.echo(dumps(record))
        return
    view = memoryview((dumps(record) + "\n").encode())
    while view:
        view = view[os.write(_RECORD_FD, view):]


@contextlib.contextmanager
def record_only_on_stdout(on: bool = True) -> Iterator[None]:
    """With `--json`, stdout carries the record alone: from here on, whatever user code
    prints (trials, bets, the workers and commands they start, its atexit handlers and
    threads, sys.__stdout__, a write to file descriptor 1) goes to stderr.

    File descriptor 1 is pointed at stderr (at /dev/null when stderr is closed) for the rest
    of the process, and the real stdout, set aside on a descriptor >= 3 that children do
    not inherit, gets only what `_echo_json` writes: a CLI process ends after its record.
    Where stdout is not a file (click's CliRunner) only sys.stdout is redirected, within."""
    global _RECORD_FD
    if not on or _RECORD_FD is not None:
        yield
        return
    try:
        out_fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        out_fd = None
    if out_fd is None:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    import fcntl

    sys.stdout.flush()
    _RECORD_FD = fcntl.fcntl(out_fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        err_fd = sys.stderr.fileno()
        os.fstat(err_fd)
    except (AttributeError, OSError, ValueError):  # stderr closed (2>&-): discard instead
        err_fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(err_fd, out_fd)
    yield


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
@click.option("--json", "as_json", is_flag=True,
              help="Print the written paths as one JSON record (schema exante.report/1).")
@click.option("--log-to", "log_to", default=None, metavar="mlflow[:URI]",
              help="Also attach the report to the experiment's MLflow run.")
def report(target: str, root: Path, paper: bool, pdf: bool, deck: bool,
           research_note: Path | None, as_json: bool, log_to: str | None) -> None:
    """Write report.md, report.html and figures for TARGET (an id or a plan path) from its
    saved plan, ledger and result.json."""
    from .agent import records
    from .paths import find_plan

    plan = find_plan(target, root)
    data = records.report(plan, paper=paper, pdf=pdf, deck=deck, research_note=research_note)
    if log_to is not None:
        from .interop.mlflow_log import parse_target, sync

        sync(plan, parse_target(log_to))
    if as_json:
        _echo_json(data)
        return
    for kind, paths in data["written"].items():
        for p in paths:
            click.echo(f"wrote {p}")


@click.command("postmortem")
@click.argument("experiment_id")
@ROOT_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON record (schema exante.postmortem/1).")
def postmortem(experiment_id: str, root: Path, as_json: bool) -> None:
    """Write the postmortem template for EXPERIMENT_ID (never overwrites one)."""
    from .agent import records

    data = records.postmortem(experiment_id, root)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"wrote {data['path']}\nreplace every line marked {data['marker']}; the catalogue "
               "counts it as written when none is left")


@click.command("rollup")
@click.argument("root", type=click.Path(path_type=Path), default=Path("experiments"))
@click.option("--strict", is_flag=True,
              help="Exit 1 when a killed experiment has no written postmortem.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the catalogue summary as one JSON record (schema exante.rollup/1).")
def rollup(root: Path, strict: bool, as_json: bool) -> None:
    """Regenerate ROOT/SUMMARY.md, SUMMARY.json and index.html from every experiment."""
    from .agent import records

    data, cat = records.rollup(root)
    missing = cat.killed_without_postmortem
    if as_json:
        _echo_json(data)
    else:
        for p in data["written"]:
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
@click.option("--json", "as_json", is_flag=True,
              help="Print the rows as one JSON record (schema exante.audit/1).")
def audit(root: Path, strict: bool, as_json: bool) -> None:
    """Trace every result under ROOT to a lock that existed before it; exit 1 on a finding."""
    from .agent import records

    data, rows = records.audit(root, strict=strict)
    failed = not data["ok"]
    if as_json:
        _echo_json(data)
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
