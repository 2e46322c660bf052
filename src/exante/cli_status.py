"""CLI verbs `status` and `log`: where a plan's runs stand, and its ledger, chain checked.

Plain click commands; `exante.cli` registers them with ``main.add_command``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .cli import JSON, PLAN, _echo_json, _plan_path


@click.command()
@PLAN
@JSON
def status(path: Path, as_json: bool) -> None:
    """Planned, completed, failed, pending and killed runs of PATH."""
    from .agent import records

    data = records.status(_plan_path(path))
    if as_json:
        _echo_json(data)
        return
    click.echo(f"{data['experiment_id']}: planned {data['planned']}, completed "
               f"{data['completed']}, failed {data['failed']}, pending {data['pending']}"
               + (", KILLED" if data["killed"] else "") + (", DEVIATED" if data["deviated"] else "")
               + (f", RUNNING (pid {data['sweep']['pid']})" if data["sweep"]["running"] else ""))
    for role, counts in sorted(data["by_role"].items()):
        click.echo(f"  {role:9s} {counts['completed']}/{counts['planned']} ok, "
                   f"{counts['failed']} failed")
    if data.get("pilots"):
        click.echo(f"  pilots    {data['pilots']} PILOT run(s) (not registered runs)")
    _print_blind(data)


def _print_blind(data: dict[str, Any]) -> None:
    blind, interim = data.get("blind"), data.get("interim")
    if not blind or not blind["active"]:
        return
    click.echo(f"  {', '.join(blind['metrics'])} is blind until the registered sweep is complete "
               f"({blind['done']}/{blind['planned']} runs); showing {blind['shown'] or 'nothing'}")
    for role, row in ((interim or {}).get("by_role") or {}).items():
        click.echo(f"  {role:9s} {interim['metric']} mean {row['mean']:.4g} over {row['n']} run(s)")


@click.command()
@click.argument("target")
@click.option("--root", type=click.Path(path_type=Path), default=None)
@JSON
def log(target: str, root: Path | None, as_json: bool) -> None:
    """Show the ledger of experiment TARGET (an id or a plan path), checking its chain."""
    from .agent import records as R

    data = R.log(_plan_path(Path(target), root))
    if as_json:
        _echo_json(data)
        return
    records = data["records"]
    if not records:
        click.echo(f"{data['path']}: the ledger is empty (no record at all); nothing was ever "
                   f"locked here: `exante lock {target}` starts the record", err=True)
        sys.exit(1)
    for r in records:
        click.echo(f"{r['seq']:5d} {r['ts'][:19]} {r['event']:14s} {_summary(r)}")
    click.echo(f"chain OK, {len(records)} records, head {records[-1]['hash'][:16] if records else '-'}")
    if data.get("blind"):
        b = data["blind"]
        click.echo(f"{', '.join(b['metrics'])} is blind until the registered sweep is complete "
                   f"({b['done']}/{b['planned']} runs); runs show {b['shown'] or 'other metrics'}")


def _summary(record: dict[str, Any]) -> str:
    d = record["data"]
    event = record["event"]
    if event in ("RUN_OK", "RUN_FAILED"):
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(d["metrics"].items())[:3]
                            if isinstance(v, (int, float)))
        tail = metrics if event == "RUN_OK" else f"{d.get('error_kind')}: {(d.get('error') or '')[:60]}"
        return f"{d['run_id']} {tail}"
    if event == "RUN_STARTED":
        return f"{len(d['run_ids'])} run(s) {d['run_ids'][0]}"
    if event in ("LOCKED", "AMENDED"):
        return f"sha256 {d['plan_sha256'][:16]}" + (f" reason: {d['reason']}" if "reason" in d else "")
    if event == "KILLED":
        return f"rule {d['rule']}: {d['when']}"
    return ", ".join(f"{k}={v}" for k, v in list(d.items())[:4])[:100]
