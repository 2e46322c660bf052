"""CLI verb `demo`: the pre-registered MLP ablation study from plan to paper (seed 002).

A plain click command; `exante.cli` registers it with ``main.add_command`` after its own
helpers (progress, sweep summary, JSON output, the executor type) exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import _EXECUTOR, _echo_json, _print_sweep, _rich_progress


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("exante-demo"),
              show_default=True, help="Registry folder for the study (resumes if it exists).")
@click.option("--quick", is_flag=True,
              help="Smoke test: 2 epochs instead of 20, labelled as NOT the registered study.")
@click.option("--workers", type=int, default=None, help="Parallel workers (default: CPU count).")
@click.option("--executor", type=_EXECUTOR,
              default="local", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True,
              help="No progress; print one JSON record (schema exante.demo/1).")
def demo(out: Path, quick: bool, workers: int | None, executor: str, quiet: bool,
         as_json: bool) -> None:
    """Run the pre-registered MLP ablation study end to end (seed 002)."""
    import os

    from . import demo as demo_mod
    from . import registration, runner

    plan, resumed = demo_mod.prepare(out, quick=quick)
    no_pdf = demo_mod.pdf_missing()
    if as_json:
        _demo_json(plan, out, resumed, quick, executor, workers, no_pdf)
        return
    if no_pdf:
        click.echo(f"note: {no_pdf}", err=True)
    if resumed:
        click.echo(f"resuming {plan} (seal and ledger verified)")
    else:
        digest, data = registration.lock(plan)
        click.echo(f"sealed {plan}\nsha256 {digest}")
        from .designcheck import lines

        for line in lines(data["design_check"], data["design_check"]["gates"]):
            click.echo(line)
    options = runner.RunOptions(executor=executor, workers=workers or (os.cpu_count() or 1))
    report = runner.run(plan, options, progress=None if quiet else _rich_progress())
    _print_sweep(report)
    outputs = demo_mod.write_outputs(plan, out / "experiments", pdf=no_pdf is None)
    import json

    result = json.loads(outputs["result"].read_text())
    click.echo(f"\nverdict: {result['verdict']}")
    for factor, v in ((result.get("factorial") or {}).get("factor_verdicts") or {}).items():
        click.echo(f"  {factor:13s} {v['verdict']:12s} {v['why']}")
    click.echo("")
    for name, path in outputs.items():
        click.echo(f"{name:12s} {path}")
    if no_pdf:
        click.echo(f"paper (PDF)  not written: {no_pdf}")
    if report.killed:
        sys.exit(1)


def _demo_json(plan: Path, out: Path, resumed: bool, quick: bool, executor: str,
               workers: int | None, no_pdf: str | None) -> None:
    import json
    import os

    from . import demo as demo_mod
    from . import registration, runner
    from .agent import records
    from .cli_records import record_only_on_stdout

    if not resumed:
        registration.lock(plan)
    options = runner.RunOptions(executor=executor, workers=workers or (os.cpu_count() or 1))
    with record_only_on_stdout():
        report = runner.run(plan, options)
        outputs = demo_mod.write_outputs(plan, out / "experiments", pdf=no_pdf is None)
    result = json.loads(outputs["result"].read_text())
    _echo_json(records.envelope("demo", {
        "not_written": {"paper (PDF)": no_pdf} if no_pdf else {},
        "plan": str(plan), "quick": quick, "resumed": resumed,
        "sweep": records.sweep(report, plan), "verdict": result["verdict"],
        "factor_verdicts": (result.get("factorial") or {}).get("factor_verdicts") or {},
        "outputs": {name: str(p) for name, p in outputs.items()}}))
    if report.killed:
        sys.exit(1)
