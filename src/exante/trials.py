"""Calling a trial: a Python function, a batched function, or a command.

`execute_task` is the one function every executor runs on the worker side. It
never raises for a failing trial: an exception, a non-zero exit, a timeout, a
missing metric or a NaN becomes a failed `Outcome` with the reason, because a
failed run is a record, not a crash (Hydra's `run_job` does the same).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ControlSignal
from .trial_env import _peak_rss_mb, _reset_peak_rss, set_threads, worker_environment
from .trialspec import TrialSpec  # a plan record (spec parses it); kept importable here

# what a worker records of where it ran, and its thread pinning, live in `trial_env`;
# `worker_environment`, `set_threads` and the peak-RSS pair stay importable from here
__all__ = ["Outcome", "RunRequest", "Task", "TrialContext", "TrialSpec", "cleanup",
           "execute_task", "failed", "failure_kind", "format_template", "resolve",
           "set_threads", "worker_environment"]

# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class RunRequest:
    """One run as the trial sees it."""

    run_id: str
    role: str  # baseline | arm | trap | tau
    cell: str
    stage: str
    seed: int
    params: Mapping[str, Any]
    run_dir: str


@dataclass(frozen=True)
class TrialContext:
    """The third argument of a Python trial: where to write and how many threads to use."""

    run_id: str
    run_dir: Path
    role: str
    cell: str
    stage: str
    seed: int
    plan_dir: Path
    threads: int
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Task:
    """A unit of work for an executor: one run, or one batch for a batched trial."""

    task_id: str
    trial: TrialSpec
    runs: tuple[RunRequest, ...]
    plan_dir: str
    metric_names: tuple[str, ...]  # required metrics, primary first
    threads: int = 1


@dataclass(frozen=True)
class Outcome:
    """What came back for one run. `ok` is False for any failure, with `error_kind` saying which."""

    run_id: str
    ok: bool
    metrics: Mapping[str, float]
    error: str | None = None
    # exception|exit_code|timeout|missing_metric|nan|worker_died, or for a BaseException
    # system_exit|keyboard_interrupt|generator_exit|base_exception
    error_kind: str | None = None
    wall_s: float = 0.0
    peak_rss_mb: float | None = None
    env: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "metrics": dict(self.metrics),
            "error": self.error,
            "error_kind": self.error_kind,
            "wall_s": self.wall_s,
            "peak_rss_mb": self.peak_rss_mb,
            "env": dict(self.env),
        }


def failed(run_id: str, kind: str, error: str, **kw: Any) -> Outcome:
    """A failed outcome; `kind` is one of Outcome.error_kind's values."""
    return Outcome(run_id=run_id, ok=False, metrics={}, error=error, error_kind=kind, **kw)


# ---------------------------------------------------------------- metrics


def check_metrics(raw: Any, required: tuple[str, ...]) -> tuple[dict[str, float] | None, str, str]:
    """Validate what a trial returned. Returns (metrics, error_kind, error); metrics None on failure."""
    if not isinstance(raw, Mapping):
        return None, "exception", f"trial returned {type(raw).__name__}, expected a dict of metrics"
    metrics: dict[str, float] = {}
    for key, value in raw.items():
        try:
            # exact str and float: a subclass (with its own __reduce__) would reach the
            # driver's unpickler, which a trial could make fail for the whole pool
            metrics[str.__str__(str(key))] = float(value)
        except Exception:  # whatever its __float__ (or __str__) raised: the run failed
            return (None, "exception",
                    f"metric {safe_repr(key)} is {safe_repr(value)}, expected a number")
    missing = [m for m in required if m not in metrics]
    if missing:
        return None, "missing_metric", f"missing metric(s) {missing}; got {sorted(metrics)}"
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        return dict(metrics), "nan", f"non-finite metric(s): {bad}"
    return metrics, "", ""


def safe_repr(value: Any, limit: int = 200) -> str:
    """repr of a trial's object as a plain str, whatever its __repr__ does."""
    try:
        return str.__str__(repr(value))[:limit]
    except Exception:
        return f"<{type(value).__name__} whose repr raised>"


def extract_metrics(trial: TrialSpec, stdout: str, run_dir: Path) -> dict[str, Any]:
    """Metrics of a command run: last regex match on stdout per metric, then the JSON file."""
    found: dict[str, Any] = {}
    for name, pattern in trial.metric_regex.items():
        matches = re.findall(pattern, stdout, flags=re.MULTILINE)
        if matches:
            last = matches[-1]
            found[name] = last[0] if isinstance(last, tuple) else last
    if trial.metric_json:
        path = run_dir / trial.metric_json
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}: not valid JSON ({exc})") from exc
            if isinstance(data, Mapping):
                found.update({k: v for k, v in data.items() if k not in found})
    return found


# ---------------------------------------------------------------- calling


_FN_CACHE: dict[str, Callable] = {}


def resolve(target: str, plan_dir: Path, pythonpath: tuple[str, ...] = ()) -> Callable:
    """Import `module:function`, with the plan's folder and `pythonpath` on sys.path."""
    key = f"{plan_dir}|{':'.join(pythonpath)}|{target}"
    if key in _FN_CACHE:
        return _FN_CACHE[key]
    folders = (str(plan_dir), *(str((plan_dir / p).resolve()) for p in pythonpath))
    for folder in folders:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name, _, attr = target.partition(":")
    from .closure import load_module

    module = load_module(module_name, [Path(f) for f in folders])
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    _FN_CACHE[key] = fn
    return fn


def _context(task: Task, run: RunRequest) -> TrialContext:
    return TrialContext(
        run_id=run.run_id,
        run_dir=Path(run.run_dir),
        role=run.role,
        cell=run.cell,
        stage=run.stage,
        seed=run.seed,
        plan_dir=Path(task.plan_dir),
        threads=task.threads,
        params=run.params,
    )


def _finish(run: RunRequest, raw: Any, required: tuple[str, ...], wall: float, env) -> Outcome:
    metrics, kind, error = check_metrics(raw, required)
    peak = _peak_rss_mb()
    if kind:
        return failed(run.run_id, kind, error, wall_s=wall, peak_rss_mb=peak, env=env)
    return Outcome(run.run_id, True, metrics, wall_s=wall, peak_rss_mb=peak, env=env)


# What a trial's BaseException is recorded as: a failed run of this kind, never the sweep's end.
_BASE_KINDS = ((SystemExit, "system_exit"), (KeyboardInterrupt, "keyboard_interrupt"),
               (GeneratorExit, "generator_exit"))


def failure_kind(exc: BaseException) -> str:
    """The `error_kind` of an exception raised by a trial ("exception" for an Exception)."""
    if isinstance(exc, Exception):
        return "exception"
    return next((kind for cls, kind in _BASE_KINDS if isinstance(exc, cls)), "base_exception")


# Exits raised by an executor's own machinery inside the trial's frames, not by the trial:
# submitit's preemption handler requeues the Slurm job, then calls sys.exit (the run is
# counted once, when the requeued job finishes).
_EXECUTOR_EXITS = ("submitit/core/job_environment.py",)


def passes_through(exc: BaseException) -> bool:
    """Not the trial's failure: exante's own stop (a deadline, Ctrl-C), or an executor's exit.

    A ControlSignal the trial raised itself is not exante's (`errors.issue`): its run fails."""
    return (isinstance(exc, ControlSignal) and exc.issued) or _executor_exit(exc)


def _executor_exit(exc: BaseException) -> bool:
    if not isinstance(exc, SystemExit):
        return False
    files = [frame.filename.replace("\\", "/") for frame in traceback.extract_tb(exc.__traceback__)]
    return any(f.endswith(_EXECUTOR_EXITS) for f in files)


def exception_message(exc: BaseException) -> str:
    """`Type: message` as a plain str, whatever the exception's own __str__ does."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except BaseException:
        return f"{type(exc).__name__} (its message could not be read)"


def _exception_text(exc: BaseException) -> str:
    """Type, message and the last frames; whatever the exception's own __str__ does."""
    message = exception_message(exc)
    try:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    except Exception:
        tb = ""
    return f"{message}\n{tb}"


def _run_python(task: Task, fn: Callable) -> list[Outcome]:
    env = worker_environment()
    outcomes = []
    for run in task.runs:
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
        _reset_peak_rss()
        start = time.perf_counter()
        try:
            raw = fn(dict(run.params), run.seed, _context(task, run))
        except BaseException as exc:  # the trial's failure is a record, not ours: even sys.exit
            if passes_through(exc):  # exante stopping the trial (deadline, Ctrl-C)
                raise
            outcomes.append(failed(run.run_id, failure_kind(exc), _exception_text(exc),
                                   wall_s=time.perf_counter() - start, env=env))
            continue
        outcomes.append(_finish(run, raw, task.metric_names, time.perf_counter() - start, env))
    return outcomes


def _run_batched(task: Task, fn: Callable) -> list[Outcome]:
    env = worker_environment()
    for run in task.runs:
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
    _reset_peak_rss()
    start = time.perf_counter()
    try:
        raws = list(fn(list(task.runs), _context(task, task.runs[0])))
    except BaseException as exc:
        if passes_through(exc):
            raise
        wall = time.perf_counter() - start
        text, kind = _exception_text(exc), failure_kind(exc)
        return [failed(r.run_id, kind, text, wall_s=wall, env=env) for r in task.runs]
    wall = (time.perf_counter() - start) / len(task.runs)  # the batch's time, shared equally
    if len(raws) != len(task.runs):
        error = f"batched trial returned {len(raws)} results for {len(task.runs)} runs"
        return [failed(r.run_id, "exception", error, wall_s=wall, env=env) for r in task.runs]
    return [_finish(r, raw, task.metric_names, wall, env) for r, raw in zip(task.runs, raws)]


def execute_task(task: Task) -> list[Outcome]:
    """Run every run of `task` in this process; one Outcome per run, never an exception."""
    set_threads(task.threads)
    if task.trial.kind == "command":
        from .command import run_command

        return [run_command(task, run) for run in task.runs]
    try:
        fn = resolve(task.trial.target or "", Path(task.plan_dir), task.trial.pythonpath)
    except BaseException as exc:  # a module that calls sys.exit at import is a failed run too
        if passes_through(exc):
            raise
        text = f"cannot import {task.trial.target}: {_exception_text(exc)}"
        return [failed(r.run_id, failure_kind(exc), text) for r in task.runs]
    if task.trial.kind == "batched":
        return _run_batched(task, fn)
    if task.trial.kind == "hydra":
        from .interop.hydra import run_hydra

        return run_hydra(task, fn)
    return _run_python(task, fn)


def cleanup(trial: TrialSpec, run: RunRequest, plan_dir: Path) -> list[str]:
    """Remove the plan's registered cleanup paths for a finished run; returns what was removed.

    Only paths inside the run's own folder or the plan's folder are touched.
    """
    removed = []
    allowed = (Path(run.run_dir).resolve(), plan_dir.resolve())
    for template in trial.cleanup:
        target = Path(format_template(template, run))
        if not target.is_absolute():
            target = plan_dir / target
        target = target.resolve()
        if not any(target == root or root in target.parents for root in allowed):
            continue
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            removed.append(str(target))
        elif target.exists():
            target.unlink()
            removed.append(str(target))
    return removed


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def format_template(token: str, run: RunRequest) -> str:
    """Fill `{seed}`, `{run_dir}`, `{run_id}`, `{role}`, `{cell}` and `{<param>}` in one token."""
    fields = _Fields({k: _fmt_value(v) for k, v in run.params.items()})
    fields.update(seed=run.seed, run_dir=run.run_dir, run_id=run.run_id, role=run.role,
                  cell=run.cell, stage=run.stage, python=sys.executable)
    return token.format_map(fields)


def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
