"""The saved files a report is built from, read and cross-checked; nothing is ever rerun.

A report reads the sealed plan, its ledger (chain verified) and the
`result.json` written by `exante decide`. It refuses input that does not
belong together: a tampered plan, a result decided for another plan version,
a result whose ledger head is not in this ledger, or a result that is older
than later run records (decide again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .. import ledger as L
from .. import seal
from ..errors import InputError, RefusedError
from ..paths import experiment_dir, ledger_path
from ..spec import Plan, load_plan

RESULT_NAME = "result.json"
RESULT_SCHEMA = 1
_LATER = (L.RUN_OK, L.RUN_FAILED, L.KILLED, L.AMENDED, L.LOCKED)


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report may read: the plan, its exact text, the ledger and the result."""

    plan_path: Path
    folder: Path
    plan: Plan
    plan_text: str
    records: tuple[dict[str, Any], ...]
    result: Mapping[str, Any]

    @property
    def plan_sha256(self) -> str:
        return self.result["plan_sha256"]

    @property
    def ledger_head(self) -> str:
        return self.records[-1]["hash"] if self.records else L.GENESIS

    def run_records(self) -> list[dict[str, Any]]:
        """Terminal run records (RUN_OK / RUN_FAILED), latest per run id, in ledger order."""
        latest: dict[str, dict[str, Any]] = {}
        for r in self.records:
            if r["event"] in (L.RUN_OK, L.RUN_FAILED):
                latest[r["data"]["run_id"]] = r
        return list(latest.values())


def read_result(folder: Path) -> dict[str, Any]:
    """Parse `folder/result.json` (schema 1). InputError when missing or malformed."""
    path = Path(folder) / RESULT_NAME
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no result yet; run `exante decide` on the plan first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable result file ({exc})") from None
    if not isinstance(result, dict) or result.get("schema") != RESULT_SCHEMA:
        raise InputError(f"{path}: expected a result with \"schema\": {RESULT_SCHEMA}")
    for key in ("plan_sha256", "verdict", "cells"):
        if key not in result:
            raise InputError(f"{path}: missing {key!r}")
    return result


def load_inputs(plan_path: Path | str) -> ReportInputs:
    """Read and cross-check a plan, its ledger and its result.

    Raises TamperedError (seal broken), LedgerError (chain broken), InputError
    (no result, or a bet module) and RefusedError (the files do not belong together).
    """
    plan_path = Path(plan_path)
    if plan_path.suffix == ".py":
        raise InputError(f"{plan_path}: a bet module writes its own results/NN_*.json; it is "
                         "reported in the catalogue (`exante rollup`), not by `exante report`")
    digest = seal.verify(plan_path)
    plan = load_plan(plan_path)
    folder = experiment_dir(plan_path)
    records = tuple(L.Ledger(ledger_path(plan_path)).records())
    result = read_result(folder)
    check_belongs(result, digest, records, folder / RESULT_NAME)
    return ReportInputs(plan_path, folder, plan, seal.read_text(plan_path), records, result)


def check_belongs(result: Mapping[str, Any], digest: str, records: tuple[dict[str, Any], ...],
                  where: Path) -> None:
    """Refuse a result that was decided for another plan version or another ledger state."""
    locks = [r["data"].get("plan_sha256") for r in records if r["event"] in (L.LOCKED, L.AMENDED)]
    if not locks:
        raise RefusedError(f"{where}: the ledger has no LOCKED record; the plan was never locked")
    if result["plan_sha256"] != digest or locks[-1] != digest:
        raise RefusedError(f"{where}: decided for plan sha256 {str(result['plan_sha256'])[:12]}… "
                           f"but the plan is sealed as {digest[:12]}… (last lock "
                           f"{str(locks[-1])[:12]}…); run `exante decide` again")
    heads = [r["hash"] for r in records]
    head = result.get("ledger_head")
    if head not in heads:
        raise RefusedError(f"{where}: its ledger_head {str(head)[:12]}… is not a record of this "
                           "ledger; the result belongs to another experiment or a rewritten ledger")
    later = [r for r in records[heads.index(head) + 1:] if r["event"] in _LATER]
    if later:
        raise RefusedError(f"{where}: {len(later)} run/lock record(s) were added after this result "
                           f"was decided (first: {later[0]['event']} seq {later[0]['seq']}); run "
                           "`exante decide` again")
