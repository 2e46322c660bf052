"""exante: pre-register, seal, run and decide ML experiments mechanically.

Public surface (pinned by tests/test_public_api.py):

    compare, holm            statistics (see exante.stats for the rest)
    load_plan, Plan          the sealed plan
    lock, verify, amend      the seal and its amendments
    run, status, RunOptions  executing a plan
    exante.decide.decide     the verdict, written to result.json (the submodule keeps the name)
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
    "Ledger": "ledger", "amend": "registration", "lock": "registration",
    "RunOptions": "runner", "run": "runner", "status": "runner", "verify": "seal",
    "Plan": "spec", "load_plan": "spec", "compare": "stats", "holm": "stats",
}

__all__ = [
    "ExanteError", "FingerprintError", "InputError", "IntegrityError", "LedgerError",
    "PlanError", "RefusedError", "RuleError", "TamperedError", "Ledger", "Plan", "RunOptions",
    "amend", "compare", "holm", "load_plan", "lock", "run", "status", "verify",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'exante' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
