"""exante: pre-register, seal, run and decide ML experiments mechanically.

Public surface (pinned by tests/test_public_api.py):

    compare, holm            statistics (see exante.stats for the rest)
    load_plan, Plan          the sealed plan
    lock, verify, amend      the seal and its amendments (lock takes an id or a path)
    run, status, RunOptions  executing a plan
    decide, report           the verdict (result.json) and the report; callable submodules
    rollup, audit            the catalogue and the audit of a registry
    runs, result             a pandas DataFrame of every run, and the saved result
    import_runs, export      existing runs in (CSV, MLflow, W&B), the runs table out
    Ledger                   the append-only hash-chained record
    ExanteError and its tree

Names are imported on first use (PEP 562), so `import exante` and every
worker process stay cheap: scipy and statsmodels load only when needed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (ExanteError, FingerprintError, InputError, IntegrityError, LedgerError,
                     PlanError, RefusedError, RuleError, TamperedError)

__version__ = "0.1.0"

_LAZY = {
    "Ledger": "ledger", "amend": "registration", "lock": "api",
    "RunOptions": "runner", "run": "api", "status": "runner", "verify": "seal",
    "Plan": "spec", "load_plan": "spec", "compare": "stats", "holm": "stats",
    "rollup": "api", "audit": "api", "runs": "api", "result": "api", "import_runs": "api",
    "export": "api",
}
_SUBMODULES = ("decide", "report")  # callable modules: exante.decide(ID), exante.report(ID)

__all__ = [
    "ExanteError", "FingerprintError", "InputError", "IntegrityError", "LedgerError",
    "PlanError", "RefusedError", "RuleError", "TamperedError", "Ledger", "Plan", "RunOptions",
    "amend", "compare", "holm", "load_plan", "lock", "run", "status", "verify",
    "audit", "decide", "export", "import_runs", "report", "result", "rollup", "runs",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # sets the attribute itself
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'exante' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
