"""CLI verb `pilot`: pilot runs before the lock, on the pilot (validation) metric only.

A plain click command; `exante.cli` registers it with ``main.add_command``.
"""

from __future__ import annotations

from pathlib import Path

import click

from .errors import InputError


def _seeds(ctx, param, value: str) -> list[int]:
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected integer seeds, e.g. 1,2,3", ctx,
                                 param) from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise click.BadParameter(f"{value!r}: expected distinct non-negative seeds", ctx, param)
    return seeds


def _levels(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        factor, sep, level = item.partition("=")
        if not sep or not factor.strip() or not level.strip():
            raise InputError(f"--level {item!r}: expected FACTOR=LEVEL, e.g. weight_decay=0.0")
        out.setdefault(factor.strip(), []).append(level.strip())
    return out


@click.command("pilot")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--seeds", required=True, callback=_seeds,
              help="Pilot seeds, comma-separated (never the registered ones), e.g. 1,2,3.")
@click.option("--level", "levels", multiple=True, metavar="FACTOR=LEVEL",
              help="Only the cells at this factor level (repeatable; the same factor twice "
                   "means either level).")
@click.option("--executor", default="local", show_default=True,
              help="Where pilot runs happen (inline, local, ...).")
@click.option("--workers", type=int, default=None, help="Parallel workers (default: CPU count).")
@click.option("--threads", type=int, default=1, show_default=True, help="Threads per worker.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True,
              help="No progress; print one JSON record (schema exante.pilot/1).")
def pilot(path: Path, seeds: list[int], levels: tuple[str, ...], executor: str,
          workers: int | None, threads: int, quiet: bool, as_json: bool) -> None:
    """Run pilot seeds of the drafted (not locked) plan PATH, on its pilot metric only, and
    record them as PILOT runs: `exante lock` then uses their σ in the design check."""
    import os

    from .cli import _plan_path, _rich_progress
    from .cli_records import record_only_on_stdout
    from .pilot_run import pilot as run_pilots

    plan = _plan_path(path)
    workers = workers or (os.cpu_count() or 1)
    with record_only_on_stdout(as_json):
        report = run_pilots(plan, seeds, levels=_levels(levels), executor=executor,
                            workers=workers, threads=threads,
                            progress=None if quiet or as_json else _rich_progress(workers))
    if as_json:
        from .agent.records import pilot as record
        from .cli_records import _echo_json

        _echo_json(record(report, plan, seeds))
        return
    click.echo(f"pilot: {report.planned} run(s) in {len(report.cells)} cell(s) × seeds {seeds} "
               f"on {report.metric} only; {report.skipped} already recorded, ran "
               f"{report.ok + report.failed} (ok {report.ok}, failed {report.failed})")
    sigma = report.sigma
    if sigma is None:
        click.echo("no σ yet: a cell needs at least 2 finished pilot runs")
        return
    click.echo(f"σ({sigma['metric']}) = {sigma['sigma']:.4g}: {sigma['source']}")
    click.echo(f"`exante lock {plan}` uses it in the design check; the registered seeds must "
               "differ from the pilot seeds")


COMMANDS = (pilot,)
