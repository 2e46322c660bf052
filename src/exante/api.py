"""The Python API for notebooks and scripts: every verb of the CLI as a function.

    exante.lock(ID)            seal the plan, record LOCKED (and the design check)
    exante.run(ID)             run what is missing; returns the SweepReport
    exante.decide(ID)          apply the registered rules, write result.json; returns the result
    exante.report(ID)          write report.md / report.html / figures; returns their paths
    exante.rollup(root)        SUMMARY.md, SUMMARY.json, index.html; returns their paths
    exante.audit(root)         one AuditRow per check (ok / FAIL / warn / skip)
    exante.runs(ID)            every run as a pandas DataFrame (exante[interop])
    exante.result(ID)          the saved result.json, checked against the plan and ledger
    exante.import_runs(SRC, ID)  import existing runs (pilots before the lock, RETROSPECTIVE after)
    exante.export(ID, PATH)    the runs table as csv, parquet or jsonl

ID is an experiment id under `root` (default ``experiments``), a folder that
holds prereg.yaml, or a plan path. These functions return data and raise
`ExanteError`s; nothing here prints or exits. `exante.decide` and
`exante.report` are also the submodules of those names (their functions
`exante.decide.decide(path)` and `exante.report.render_report(path)` keep
working): calling the module calls the function here.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Mapping, Sequence

from .paths import DEFAULT_ROOT, find_plan

Target = "str | Path"


def plan_path(target: str | Path, root: str | Path | None = None) -> Path:
    """The plan file of an experiment id, a folder or a plan path."""
    return find_plan(target, Path(root) if root is not None else DEFAULT_ROOT)


def lock(target: str | Path, *, root: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """Seal the plan: its sha256 is written into the file and recorded (LOCKED) with the
    fingerprints of its code and data. Returns (sha256, the LOCKED record's data)."""
    from . import registration

    return registration.lock(plan_path(target, root))


def run(target: str | Path, options: Any = None, *, root: str | Path | None = None,
        progress: Any = None, executor: str | None = None, workers: int | None = None,
        max_runs: int | None = None, log_to: str | None = None) -> Any:
    """Run every registered run that has no result yet (verifying the seal first).

    `options` is a RunOptions; or give `executor` ("inline", "local", ...), `workers`,
    `max_runs`. `log_to="mlflow:URI"` mirrors the ledger into MLflow afterwards.
    Returns the SweepReport (planned, ran, ok, failed, killed, ...); for a bet module
    (NN_name.py) it runs one recorded invocation and returns its `BetOutcome`.
    """
    from . import runner

    path = plan_path(target, root)
    if path.suffix == ".py":  # a bet module: one recorded invocation, judged by exante
        from .bets import launch

        return launch(path)
    if options is None:
        options = runner.RunOptions(executor=executor or "inline", workers=workers or 1,
                                    max_runs=max_runs)
    uri = None
    if log_to is not None:
        from .interop.mlflow_log import parse_target

        uri = parse_target(log_to)
    report = runner.run(path, options, progress=progress)
    if log_to is not None:
        from .interop.mlflow_log import sync

        sync(path, uri)
    return report


def decide(target: str | Path, *, root: str | Path | None = None,
           interim: bool = False) -> dict[str, Any]:
    """Apply the registered rules to the ledger; write result.json and return it.

    Refuses while registered runs are pending, unless `interim` (a result labelled INTERIM).
    """
    from .decide import decide as decide_

    return decide_(plan_path(target, root), interim=interim)


def report(target: str | Path, *, root: str | Path | None = None) -> list[Path]:
    """Write report.md, report.html and figures from the saved files; returns the paths."""
    from .report import render_report

    return render_report(plan_path(target, root))


def rollup(root: str | Path = DEFAULT_ROOT) -> list[Path]:
    """Regenerate the catalogue (SUMMARY.md, SUMMARY.json, index.html) under `root`."""
    from .registry.rollup import rollup as rollup_

    return rollup_(Path(root))


def audit(root: str | Path = DEFAULT_ROOT) -> list[Any]:
    """Audit every experiment under `root`: a list of AuditRow(experiment, check, status,
    detail); `exante.registry.audit_failed(rows)` says whether any failed."""
    from .registry.audit import audit as audit_

    return audit_(Path(root))


def runs(target: str | Path, *, root: str | Path | None = None):
    """Every run of the experiment as a pandas DataFrame: run_id, cell, role, stage, seed,
    status (ok | failed | pilot), error_kind, wall_s, imported, then each parameter and
    metric by name. Needs exante[interop]."""
    from .interop.table import frame

    return frame(plan_path(target, root))


def result(target: str | Path, *, root: str | Path | None = None):
    """The experiment's result.json as the typed `exante.results.Result` (`.verdict`,
    `.cells`, `.comparisons`, `.caveats`; `r["key"]` still reads any JSON key), refused
    when it belongs to another plan version or ledger state (decide again then)."""
    from .report.inputs import load_inputs

    return load_inputs(plan_path(target, root)).typed


def import_runs(source: str | Path, into: str | Path, *, root: str | Path | None = None,
                params: Mapping[str, str] | None = None,
                metrics: Mapping[str, str] | None = None, seed: str = "seed",
                experiment: Sequence[str] = (), run_ids: Sequence[str] = (),
                mode: str | None = None, allow_unmatched: bool = False) -> dict[str, Any]:
    """`exante import`: rows of SOURCE (CSV, JSON lines, mlflow:URI, a wandb folder) matched
    to the plan's runs through `params` / `metrics` ({plan name: source column}) and `seed`.
    Before the lock they are PILOT records; after it, RETROSPECTIVE runs. Returns the
    IMPORTED record's data."""
    from .interop.ingest import ColumnMap, plan_import, record_import
    from .interop.sources import read_source

    path = plan_path(into, root)
    src = read_source(str(source), experiment=experiment, run_ids=run_ids)
    cmap = ColumnMap(dict(params or {}), dict(metrics or {}), seed)
    planned = plan_import(path, src, cmap, mode=mode, allow_unmatched=allow_unmatched)
    return record_import(path, src, planned)


def export(target: str | Path, out: str | Path, format: str = "csv", *,
           root: str | Path | None = None) -> int:
    """Write the runs table to `out` (csv, parquet or jsonl); returns the number of runs."""
    from .interop.table import export as export_

    return export_(plan_path(target, root), Path(out), format)


class _CallableModule(types.ModuleType):
    """A submodule that, called, runs the API function of its name (exante.decide(ID))."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return globals()[self.__name__.rsplit(".", 1)[1]](*args, **kwargs)


def make_callable(module_name: str) -> None:
    sys.modules[module_name].__class__ = _CallableModule
