"""The saved files a report is built from, read and cross-checked; nothing is ever rerun.

A report reads the sealed plan, its ledger (chain verified) and the
`result.json` written by `exante decide`. It refuses input that does not
belong together: a tampered plan, a result decided for another plan version,
a result whose ledger head is not in this ledger, or a result that is older
than later run records (decide again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .. import seal
from ..errors import InputError
from ..experiment import RESULT_NAME, open_experiment
from ..history import History, Record
from ..results import Result, read_result as typed_result
from ..spec import Plan

RESULT_SCHEMA = 1


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report may read: the plan, its exact text, the ledger and the result."""

    plan_path: Path
    folder: Path
    plan: Plan
    plan_text: str
    records: tuple[Record, ...]
    result: Mapping[str, Any]
    history: History | None = None
    typed: Result | None = None  # the same result as typed records (`exante.results`)

    @property
    def plan_sha256(self) -> str:
        return self.result["plan_sha256"]

    @property
    def ledger(self) -> History:
        return self.history if self.history is not None else History(self.records)

    @property
    def ledger_head(self) -> str:
        return self.ledger.head

    def run_records(self) -> list[Record]:
        """Terminal run records (RUN_OK / RUN_FAILED), latest per run id, in ledger order."""
        return list(self.ledger.terminal().values())


def read_result(folder: Path) -> dict[str, Any]:
    """`folder/result.json` as a dict (schema 1), through the one reader (`exante.results`)."""
    return dict(typed_result(folder).raw)


def load_inputs(plan_path: Path | str) -> ReportInputs:
    """Read and cross-check a plan, its ledger and its result.

    Raises TamperedError (seal broken), LedgerError (chain broken), InputError
    (no result, or a bet module) and RefusedError (the files do not belong together).
    """
    plan_path = Path(plan_path)
    if plan_path.suffix == ".py":
        raise InputError(f"{plan_path}: a bet module is judged by exante when it runs "
                         "(`exante run`) and reported in the catalogue (`exante rollup`), not by "
                         "`exante report`")
    digest = seal.verify(plan_path)
    exp = open_experiment(plan_path)
    typed = typed_result(exp.folder)
    result = dict(typed.raw)
    exp.history.check_belongs(result, digest, exp.result_path)
    return ReportInputs(plan_path, exp.folder, exp.plan, seal.read_text(plan_path),
                        exp.history.records, result, exp.history, typed)


def inputs_of(source: "ReportInputs | Path | str") -> ReportInputs:
    """`source` itself when already loaded, else `load_inputs(source)`: a verb that writes
    several outputs reads the plan, ledger and result once and hands them to each."""
    return source if isinstance(source, ReportInputs) else load_inputs(source)


def check_belongs(result: Mapping[str, Any], digest: str, records, where: Path) -> None:
    """Refuse a result that was decided for another plan version or another ledger state."""
    (records if isinstance(records, History) else History(records)).check_belongs(
        result, digest, where)
