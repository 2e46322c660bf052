"""CLI verbs for research agents: `skill` (write the agent skill) and `mcp` (the MCP server).

Plain click commands; `exante.cli` registers them with ``main.add_command``.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("skill")
@click.option("--path", "path", type=click.Path(path_type=Path), default=None,
              help="Where to write it: a .md file, or a folder to hold SKILL.md "
                   "[default: .agents/skills/exante-experiments/SKILL.md].")
@click.option("--force", is_flag=True, help="Replace a SKILL.md that differs from this version's.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON record (schema exante.skill/1).")
def skill(path: Path | None, force: bool, as_json: bool) -> None:
    """Write the agent skill: how to run an experiment with exante, step by step, and what
    exante refuses (seed 003's variance-first protocol, seed 000's discipline)."""
    from .agent.records import dumps
    from .agent.skill import write_skill

    data = write_skill(path, force=force)
    if as_json:
        click.echo(dumps(data))
        return
    click.echo(f"wrote {data['path']} (skill {data['name']!r}); point your agent at it")


@click.command("mcp")
@click.option("--root", type=click.Path(path_type=Path), default=Path("experiments"),
              show_default=True, help="The registry folder the server is confined to.")
def mcp(root: Path) -> None:
    """Serve the registry ROOT to an agent over MCP (stdio): tools init, lock, verify, amend,
    run, status, decide, report, log, postmortem, rollup, audit. Needs exante[mcp]."""
    from .agent.mcp_server import serve

    serve(root)


COMMANDS = (skill, mcp)
