"""`TrialSpec`: what a plan says to call. A plan record, parsed by `spec`, run by `trials`.

It lives in a module of its own, with no imports from exante, so that `spec` does
not depend on the trial machinery and a worker process that unpickles a task
loads nothing but this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping


class TrialKind(StrEnum):
    """How a trial is called (the plan's `trial:` key). Compares equal to its YAML spelling."""

    PYTHON = "python"  # target(params, seed, ctx) -> metrics, once per run
    BATCHED = "batched"  # target(runs, ctx) -> metrics per run, a batch of runs per call
    COMMAND = "command"  # an argv template, metrics from stdout (regex) or a JSON file
    HYDRA = "hydra"  # a Hydra task function, composed from its config (interop.hydra)


@dataclass(frozen=True)
class TrialSpec:
    """What the plan says to call. Exactly one of `target` (python/batched) or `argv` (command)."""

    kind: TrialKind  # (target = the task function for hydra)
    target: str | None = None  # "package.module:function"
    argv: tuple[str, ...] = ()  # command template, one token per element; never a shell
    metric_regex: Mapping[str, str] = field(default_factory=dict)  # metric -> regex, group 1 = value
    metric_json: str | None = None  # a JSON file (relative to run_dir) the command writes
    timeout_s: float | None = None  # per run
    cleanup: tuple[str, ...] = ()  # paths (templates) removed after the result is recorded
    cwd: str | None = None  # relative to the plan's folder
    env: Mapping[str, str] = field(default_factory=dict)
    pythonpath: tuple[str, ...] = ()  # folders (relative to the plan) put on sys.path
    group_by: tuple[str, ...] = ()  # batched: runs with equal values of these params share a call
    max_batch: int = 64
    cost: str | None = None  # an expression over a run's params: its relative cost (runner_tasks)
    hydra: Mapping[str, str] = field(default_factory=dict)  # kind "hydra": config_path, config_name

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TrialKind(self.kind))  # "python" -> TrialKind.PYTHON
