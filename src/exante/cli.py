"""The `exante` command line: the only module that prints or exits.

Exit codes: 0 success; 1 integrity failure or refusal (tampered seal,
changed code/data, broken ledger, killed plan re-run, audit finding);
2 invalid input or usage. Errors print as one line; `--debug` shows the
traceback.
"""

from __future__ import annotations

import errno
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from .cli_records import _echo_json, record_only_on_stdout  # the one copy of each
from .errors import ControlSignal, ExanteError, InputError

_DEBUG = False


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(2)
        except click.exceptions.Abort:  # Ctrl-C, as click reports it
            click.echo("interrupted; finished runs are in the ledger, `exante run` resumes",
                       err=True)
            sys.exit(130)
        except ExanteError as exc:
            _fail(exc, exc.exit_code)
        except OSError as exc:  # the environment: a full disk, a read-only registry, a lost file
            _fail(exc, *_environment_error(exc))
        except RecursionError as exc:
            _fail(exc, 2, "error: the input is nested too deeply to read; flatten it")
        except (KeyboardInterrupt, ControlSignal):
            click.echo("interrupted; finished runs are in the ledger, `exante run` resumes",
                       err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


def _fail(exc: BaseException, code: int, line: str | None = None) -> None:
    if _DEBUG:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    click.echo(line or (f"error: {exc}" if code == 2 else str(exc)), err=True)
    sys.exit(code)


_ENV_ADVICE = {
    errno.ENOSPC: (1, "the disk is full; free space and run the command again (every complete "
                      "ledger record is kept; a torn last line is set aside on the next write)"),
    errno.EDQUOT: (1, "the disk quota is exhausted; free space and run the command again"),
    errno.EROFS: (1, "the file system is read-only; run where the registry is writable, or "
                     "copy the registry somewhere that is"),
    errno.EACCES: (1, "permission denied; run as a user who may write the registry, or copy it"),
    errno.EPERM: (1, "operation not permitted; check the registry's owner and permissions"),
    errno.ENOENT: (2, "no such file or folder; check the path"),
    errno.ENOTDIR: (2, "a part of the path is not a folder; check the path"),
}


def _environment_error(exc: OSError) -> tuple[int, str]:
    """(exit code, one line) for an OSError: the path, what went wrong, what to do."""
    code, advice = _ENV_ADVICE.get(exc.errno, (1, "check the file system and run it again"))
    where = exc.filename or "a file exante needed"
    return code, f"error: {where}: {exc.strerror or exc}; {advice}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="exante")
def main(debug: bool) -> None:
    """exante: register and seal a plan, run it, decide mechanically, keep the record."""
    global _DEBUG
    _DEBUG = debug


JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print one JSON record (schema exante.<verb>/1, docs/json-schemas.md).")


PLAN = click.argument("path", type=click.Path(path_type=Path))


def _plan_path(target: Path, root: Path | None = None) -> Path:
    from .paths import DEFAULT_ROOT, find_plan

    return find_plan(target, root or DEFAULT_ROOT)


# ---------------------------------------------------------------- run


class _ExecutorName(click.ParamType):
    """An executor name, checked against the registry (built-ins and installed ones)."""

    name = "executor"

    def convert(self, value, param, ctx):
        from .executors import names

        if value in names():
            return value
        self.fail(f"{value!r} is not an executor; expected one of {', '.join(names())}", param, ctx)


_EXECUTOR = _ExecutorName()


def _parse_opts(ctx, param, values) -> dict:
    """--opt KEY=VALUE pairs; values read as YAML scalars (10 -> int, true -> bool)."""
    import yaml

    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", ctx, param)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError):
            out[key.strip()] = raw
    return out



@main.command()
@PLAN
@click.option("--executor", type=_EXECUTOR, default="local", show_default=True,
              help="Where runs happen: inline, local, ray, slurm, or an installed one.")
@click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE", callback=_parse_opts,
              help="An engine option for the executor (repeatable), e.g. --opt ship=never.")
@click.option("--workers", type=int, default=None, help="Parallel workers (default: CPU count).")
@click.option("--threads", type=int, default=1, show_default=True, help="Threads per worker.")
@click.option("--address", default=None, help="Ray cluster address (ray executor).")
@click.option("--partition", default=None, help="Slurm partition (slurm executor).")
@click.option("--time-min", type=int, default=None, help="Slurm time limit in minutes.")
@click.option("--gpus-per-task", type=int, default=None, help="Slurm GPUs per task.")
@click.option("--gpus", default=None, metavar="IDS|auto",
              help="Local executor: GPUs to spread workers over (0,1 or auto); each worker sees "
                   "its device via CUDA_VISIBLE_DEVICES, trial.resources.gpus (e.g. 0.25) packs "
                   "runs per device.")
@click.option("--profile", type=click.Path(path_type=Path), default=None,
              help="Slurm profile file (YAML) with the same keys.")
@click.option("--max-runs", type=int, default=None, help="Stop after N runs (smoke tests).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True,
              help="No progress bar; print the sweep's record (schema exante.run/1; for a "
                   "bet module, exante.bet/1).")
@click.option("--log-to", "log_to", default=None, metavar="mlflow[:URI]",
              help="Also log every run to MLflow (nested under one run for the experiment); "
                   "bare 'mlflow': MLFLOW_TRACKING_URI, else experiments/mlflow.db. The "
                   "ledger stays the record.")
def run(path: Path, executor: str, opts: dict, workers: int | None, threads: int,
        address: str | None, partition: str | None, time_min: int | None,
        gpus_per_task: int | None, gpus: str | None, profile: Path | None, max_runs: int | None,
        quiet: bool,
        as_json: bool, log_to: str | None) -> None:
    """Run the sealed plan PATH: verify, execute what is missing, stop on a kill rule.

    A bet module (NN_name.py) runs once: seal and imported code verified, main() called,
    the invocation recorded in its ledger and judged by exante."""
    import os

    from . import runner

    path = _plan_path(path)
    if path.suffix == ".py":
        _run_bet(path, as_json)
        return
    extra = {k: v for k, v in {"address": address, "partition": partition, "time_min": time_min,
                               "gpus_per_task": gpus_per_task,
                               "profile": str(profile) if profile else None}.items() if v is not None}
    if gpus is not None:
        if executor != "local":
            raise InputError(f"--gpus assigns devices to local workers; the {executor} executor "
                             "places runs by trial.resources.gpus (and --gpus-per-task on Slurm)")
        extra.update(gpus=gpus, workers_from_gpus=workers is None)
    extra.update(opts)
    options = runner.RunOptions(executor=executor, workers=workers or (os.cpu_count() or 1),
                                threads=threads, max_runs=max_runs, extra=extra)
    progress = None if quiet or as_json else _rich_progress(options.workers)
    target = _log_target(log_to)
    with record_only_on_stdout(as_json):
        report = runner.run(path, options, progress=progress)
        _log_to(path, log_to, target)  # after a kill too: whatever the ledger holds
    if as_json:
        from .agent import records

        _echo_json(records.sweep(report, path))
    else:
        _print_sweep(report, path)
    sys.exit(_sweep_exit_code(report))


def _sweep_exit_code(report) -> int:
    """0 only when the sweep did all it was asked; 130 interrupted; 1 killed or runs left."""
    if report.interrupted:
        return 130
    if report.killed or report.stopped or (report.remaining and not report.limited):
        return 1
    return 0


def _run_bet(path: Path, as_json: bool) -> None:
    from . import bets

    if as_json:
        _run_bet_json(path)
        return
    try:
        result = bets.launch(path)
    except KeyboardInterrupt:
        _bet_interrupted(path)
    click.echo(bets.summary_line(path.stem, result))
    for reason in result.reasons:
        click.echo(f"  {reason}")
    for earlier in result.earlier:
        click.echo(f"  earlier run {earlier.run_id} (sha256 {str(earlier.plan_sha256)[:12]}…): "
                   f"{earlier.verdict or earlier.status}; kept in the ledger")


def _run_bet_json(path: Path) -> None:
    """`exante run NN_name.py --json`: the exante.bet/1 record; a crash of the bet's own
    code prints it too (the failed run is on the record) with its line on stderr, exit 1."""
    from . import bets
    from .agent import records

    before = bets.run_ids(path)
    try:
        with record_only_on_stdout():
            result = bets.launch(path)
    except bets.BetFailed as exc:
        _echo_json(records.bet(path, bets.outcome_of(path), exc.run_id, error=str(exc)))
        _fail(exc, exc.exit_code)
    except KeyboardInterrupt:
        outcome = bets.outcome_of(path)
        added = [r.run_id for r in outcome.runs if r.run_id not in before]
        _echo_json(records.bet(path, outcome, added[-1] if added else None,
                               error="interrupted (Ctrl-C)"))
        _bet_interrupted(path)
    else:
        _echo_json(records.bet(path, result, result.runs[-1].run_id))


def _bet_interrupted(path: Path) -> None:
    """Ctrl-C in a bet: its run is on the record as it stood; a bet does not resume."""
    click.echo(f"interrupted; a run the bet had begun is in its ledger as it stood (`exante log "
               f"{path}`), and running it again then needs an amendment (`exante amend`)",
               err=True)
    sys.exit(130)


def _log_target(log_to: str | None) -> str | None:
    """Check --log-to before anything runs; the URI (None: MLflow's default)."""
    if log_to is None:
        return None
    from .interop.mlflow_log import parse_target

    return parse_target(log_to)


def _log_to(path: Path, log_to: str | None, uri: str | None) -> None:
    if log_to is None:
        return
    from .interop.mlflow_log import sync

    done = sync(path, uri)
    if done.get("deferred"):
        click.echo(f"mlflow: nothing logged: {done['deferred']}", err=True)
        return
    click.echo(f"mlflow: logged {done['logged']} run(s) ({done['already']} already there) "
               f"under parent run {done['parent_run_id']} at {done['uri']}", err=True)


def _rich_progress(workers: int = 1):
    from .progress import make_progress

    return make_progress(workers=workers)  # the bar on a terminal, whole lines in a log or a pipe


def _print_sweep(report, path: Path | None = None) -> None:
    click.echo(f"planned {report.planned}, already done {report.skipped}, ran {report.ran} "
               f"(ok {report.ok}, failed {report.failed})")
    if report.interrupted:
        click.echo(f"INTERRUPTED by {report.interrupted}: finished runs are in the ledger")
    if report.stopped:
        click.echo(f"STOPPED: {report.stopped}")
    if report.remaining:
        click.echo(f"{report.remaining} run(s) remain; `exante run {path or '<plan>'}` resumes")
    if report.reused_baseline:
        click.echo(f"baseline variance reused from {report.reused_baseline}")
    if report.stage2 is not None:
        click.echo(f"stage 2 (2 more seeds): {'ran' if report.stage2 else 'not needed'}")
    if report.killed:
        k = report.killed
        click.echo(f"KILLED by rule {k['rule']!r}: {k['when']}" + (f" ({k['why']})" if k["why"]
                                                                  else ""))
        click.echo("the plan cannot be re-run without a new lock; write the postmortem: "
                   "exante postmortem <id>")


@main.command()
@PLAN
@JSON
@click.option("--log-to", "log_to", default=None, metavar="mlflow[:URI]",
              help="Also put the verdict on the experiment's MLflow run (tags, result.json).")
@click.option("--interim", is_flag=True,
              help="Runs still pending: write a result labelled INTERIM (not a verdict) with the "
                   "pending runs named and an OPTIONAL_STOPPING caveat, instead of refusing.")
def decide(path: Path, as_json: bool, log_to: str | None, interim: bool) -> None:
    """Apply the registered rules to the ledger of PATH; write result.json."""
    from .agent import records

    target = _log_target(log_to)
    data = records.decide(_plan_path(path), interim=interim)
    _log_to(_plan_path(path), log_to, target)
    if as_json:
        _echo_json(data)
        return
    result = data["result"]
    tier = f" ({result['tier']})" if result.get("tier") else ""
    tier += " — RETROSPECTIVE, not pre-registered" if result.get("retrospective") else ""
    if result.get("after_kill"):
        tier += f" — after KILL ({result['after_kill']['rule']}), DEVIATED"
    click.echo(f"{result['experiment_id']}: {result['verdict']}{tier}")
    for reason in result["verdict_reasons"]:
        click.echo(f"  {reason}")
    if result.get("interim"):
        names = result["interim"]["pending_runs"]
        click.echo("  pending: " + ", ".join(names[:10]) + (" ..." if len(names) > 10 else ""))
    for trap in result["traps"]:
        click.echo(f"  trap {trap['name']}: " + {True: "behaved as registered",
                                                  False: "MISBEHAVED",
                                                  None: "not judged"}[trap["passed"]])
    for factor, v in ((result.get("factorial") or {}).get("factor_verdicts") or {}).items():
        click.echo(f"  {factor}: {v['verdict']} ({v['why']})")
    for c in result["caveats"]:
        click.echo(f"  caveat {c['code']}: {c['message']}")


# ---------------------------------------------------------------- records

def _register_record_commands() -> None:
    from .cli_agent import COMMANDS as AGENT
    from .cli_pilot import COMMANDS as PILOT
    from .cli_records import COMMANDS

    for command in (*COMMANDS, *AGENT, *PILOT):
        main.add_command(command)


_register_record_commands()

# the seal verbs (cli_seal) read this module's JSON, PLAN and _plan_path, defined above
from .cli_seal import COMMANDS as _SEAL, amend, init, lock, verify  # noqa: E402

__all__ = ["main", "JSON", "PLAN", "lock", "verify", "amend", "init", "run", "decide"]

for _command in _SEAL:
    main.add_command(_command)


def _register_interop_commands() -> None:
    from .interop.cli import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register_interop_commands()


def _register_demo() -> None:
    from .cli_demo import demo  # these read this module's helpers: register them last
    from .cli_status import log, status

    for command in (demo, status, log):
        main.add_command(command)


_register_demo()


if __name__ == "__main__":  # python -m exante.cli
    main()
