"""Open an experiment once: its plan path, folder, ledger, history and plan, handed down.

Every verb that works on one experiment starts with `open_experiment`: the
paths are derived once, the ledger is scanned and verified once (a
`History`), and the plan is parsed once, on first use. The stages after it
(registration checks, the runner, decide, the report) take the `Experiment`
instead of re-deriving paths and re-reading files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from . import ledger as L
from .events import Event
from .history import History, Record
from .paths import experiment_dir, ledger_path, run_dir
from .spec import Plan

RESULT_NAME = "result.json"


@dataclass(frozen=True)
class Experiment:
    """One experiment's files, read once. `plan` is None for a bet module (.py)."""

    plan_path: Path
    folder: Path
    ledger: L.Ledger
    history: History

    @cached_property
    def plan(self) -> Plan | None:
        from .spec import load_plan

        return None if self.plan_path.suffix == ".py" else load_plan(self.plan_path)

    @property
    def result_path(self) -> Path:
        return self.folder / RESULT_NAME

    def run_dir(self, run_id: str) -> Path:
        return run_dir(self.plan_path, run_id)

    def append(self, event: Event | str, data: dict[str, Any] | None = None) -> Record:
        """Append one record to the ledger (the history read at open does not change)."""
        return Record.from_dict(self.ledger.append(event, data))

    def reread(self) -> "Experiment":
        """The same experiment with its ledger read again (after another writer appended)."""
        return open_experiment(self.plan_path, plan=self.__dict__.get("plan"))


def open_experiment(plan_path: Path | str, *, history: History | None = None,
                    plan: Plan | None = None, tolerant: bool = False) -> Experiment:
    """Derive the paths, read (and verify) the ledger once; the plan is parsed on first use."""
    plan_path = Path(plan_path)
    lpath = ledger_path(plan_path)
    if history is None:
        history = History.read(lpath, tolerant=tolerant)
    exp = Experiment(plan_path, experiment_dir(plan_path), L.Ledger(lpath), history)
    if plan is not None:
        exp.__dict__["plan"] = plan
    return exp
