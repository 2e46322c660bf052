"""CLI verbs for the seal: `lock`, `verify`, `amend` and `init` (a plan before its lock).

Plain click commands; `exante.cli` registers them with ``main.add_command``. They
write or check a plan's seal through `exante.agent.records` and print what it returns.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli import JSON, PLAN, _echo_json, _plan_path


@click.command()
@PLAN
@JSON
def lock(path: Path, as_json: bool) -> None:
    """Seal PATH: write its sha256 into the `sha256: ""` field and record the lock."""
    from .agent import records

    path = _plan_path(path)
    data = records.lock(path)
    digest = data["plan_sha256"]
    if as_json:
        _echo_json(data)
        return
    if data["already_locked"]:
        click.echo(f"already locked: {path} sha256 {digest}")
        return
    for warning in data.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"locked {path}\nsha256 {digest}")
    for name in sorted(data.get("fingerprints", {})):
        click.echo(f"  sealed {name}  {data['fingerprints'][name][:16]}")
    if data.get("design_check"):
        from .designcheck import lines

        for line in lines(data["design_check"], data["design_check"]["gates"]):
            click.echo(line)


@click.command()
@PLAN
@JSON
def verify(path: Path, as_json: bool) -> None:
    """Check the seal of PATH; exit 1 with PREREG TAMPERED if one byte changed."""
    from .agent import records

    path = _plan_path(path)
    data = records.verify(path)
    if as_json:
        _echo_json(data)
    elif len(data["checked"]) > 1:
        click.echo(f"OK {path} sha256 {data['plan_sha256']} (seal, lock record, code and data "
                   "fingerprints)")
    else:
        click.echo(f"OK {path} sha256 {data['plan_sha256']}")


@click.command()
@PLAN
@click.option("--reason", required=True, help="Why the plan or its code changed.")
@click.option("--seen", required=True, help="What results you had seen when changing it ('none').")
@JSON
def amend(path: Path, reason: str, seen: str, as_json: bool) -> None:
    """Re-seal PATH after a change and record parent hash, new hash, reason and what was seen."""
    from .agent import records

    path = _plan_path(path)
    data = records.amend(path, reason, seen)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"amended {path}\n  parent {data['parent_sha256']}\n  new    {data['plan_sha256']}")
    if data["changed_files"]:
        click.echo(f"  files  {', '.join(data['changed_files'])}")
    if data["after_runs"]:
        click.echo("  DEVIATION: amended after runs had started; every later result says so")


@click.command()
@click.argument("name")
@click.option("--template", type=click.Choice(["ablation", "compare", "bet"]), default="compare",
              show_default=True)
@click.option("--dir", "root", type=click.Path(path_type=Path), default=Path("experiments"),
              show_default=True, help="Registry folder.")
@JSON
def init(name: str, template: str, root: Path, as_json: bool) -> None:
    """Write a commented starting plan NAME under the registry (not yet sealed)."""
    from .agent import records

    data = records.init(name, template, root)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"wrote {data['path']}\nedit it, then: exante lock {data['path']}")


COMMANDS = (lock, verify, amend, init)
