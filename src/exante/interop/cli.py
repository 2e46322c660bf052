"""CLI verbs `import` and `export` (registered by exante.cli); like it, they print and exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

ROOT = click.option("--root", type=click.Path(path_type=Path), default=Path("experiments"),
                    show_default=True, help="Registry folder.")


def _echo_json(data: Any) -> None:
    """One strict-JSON record, "schema" first (documented in docs/json-schemas.md)."""
    from ..agent.records import dumps, jsonable

    click.echo(dumps(jsonable(data)))


@click.command("import")
@click.argument("source")
@click.option("--into", "target", required=True,
              help="The experiment (id under --root, or a plan path) the runs belong to.")
@ROOT
@click.option("--param", "params", multiple=True, metavar="NAME=COLUMN",
              help="Plan parameter NAME is in source column COLUMN (default: same name).")
@click.option("--metric", "metrics", multiple=True, metavar="NAME=COLUMN",
              help="Plan metric NAME is in source column COLUMN (default: same name).")
@click.option("--seed", "seed", default=None, metavar="COLUMN",
              help="The source column holding the seed (default: seed).")
@click.option("--experiment", "experiments", multiple=True,
              help="MLflow: import the runs of this experiment (by name).")
@click.option("--run-id", "run_ids", multiple=True, help="MLflow: import this run.")
@click.option("--as", "mode", type=click.Choice(["pilot", "retrospective"]), default=None,
              help="Say what the runs are; refused when the lock state says otherwise "
                   "(before the lock: pilot; after: retrospective).")
@click.option("--allow-unmatched", is_flag=True,
              help="Import the rows that match a registered run; count (not import) the rest.")
@click.option("--dry-run", is_flag=True, help="Match and report; record nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print what was recorded as JSON.")
def import_(source: str, target: str, root: Path, params: tuple[str, ...],
            metrics: tuple[str, ...], seed: str | None, experiments: tuple[str, ...],
            run_ids: tuple[str, ...], mode: str | None, allow_unmatched: bool, dry_run: bool,
            as_json: bool) -> None:
    """Import existing runs from SOURCE (CSV, JSON lines, mlflow:URI, a wandb folder) into an
    experiment: as PILOT data before its lock, as a RETROSPECTIVE analysis after it."""
    from ..paths import find_plan
    from .ingest import ColumnMap, plan_import, record_import
    from .sources import read_source

    plan = find_plan(target, root)
    src = read_source(source, experiment=experiments, run_ids=run_ids)
    planned = plan_import(plan, src, ColumnMap.parse(list(params), list(metrics), seed),
                          mode=mode, allow_unmatched=allow_unmatched)
    if dry_run:
        summary = {"mode": planned.mode, "source": src.name, "rows": len(src.rows),
                   "imported": planned.matched, "failed": planned.failed,
                   "unmatched": len(planned.unmatched), "dry_run": True}
    else:
        summary = record_import(plan, src, planned)
    if as_json:
        _echo_json({"schema": "exante.import/1", "experiment": str(plan), **summary})
        return
    what = "pilot run(s) (before the lock)" if planned.mode == "pilot" else \
        "run(s) (after the lock): this experiment is now a RETROSPECTIVE analysis"
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb} {summary['imported']} {what}")
    click.echo(f"  from {src.name} ({src.kind}, {len(src.rows)} rows"
               + (f", {summary['unmatched']} matched no registered run" if summary["unmatched"]
                  else "") + (f", {summary['failed']} without a usable metric"
                              if summary["failed"] else "") + ")")
    if planned.mode == "pilot" and not dry_run:
        click.echo("  the design check at `exante lock` uses their σ; registered seeds must differ")


@click.command("export")
@click.argument("target")
@ROOT
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "jsonl"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output file (default: runs.<format> in the experiment's folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the written path as JSON.")
def export(target: str, root: Path, fmt: str, out: Path | None, as_json: bool) -> None:
    """Write the runs table of TARGET (one row per run: cell parameters, seed, role, status,
    metrics) as CSV, Parquet or JSON lines."""
    from ..paths import experiment_dir, find_plan
    from .table import export as export_

    plan = find_plan(target, root)
    out = out or experiment_dir(plan) / f"runs.{fmt}"
    n = export_(plan, out, fmt)
    if as_json:
        _echo_json({"schema": "exante.export/1", "path": str(out), "format": fmt, "runs": n})
        return
    click.echo(f"wrote {out} ({n} runs, {fmt})")


COMMANDS = [import_, export]
