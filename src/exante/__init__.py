"""exante: pre-register, seal, run and decide ML experiments mechanically.

Public surface (pinned by tests/test_public_api.py):

    compare, holm            statistics (see exante.stats for the rest)
    load_plan, Plan          the sealed plan
    lock, verify, amend      the seal and its amendments
    run, status, RunOptions  executing a plan
    Ledger                   the append-only hash-chained record
    ExanteError and its tree
"""

from .errors import (ExanteError, FingerprintError, InputError, IntegrityError, LedgerError,
                     PlanError, RefusedError, RuleError, TamperedError)
from .ledger import Ledger
from .registration import amend, lock
from .runner import RunOptions, run, status
from .seal import verify
from .spec import Plan, load_plan
from .stats import compare, holm

__version__ = "0.1.0"

__all__ = [
    "ExanteError", "FingerprintError", "InputError", "IntegrityError", "LedgerError",
    "PlanError", "RefusedError", "RuleError", "TamperedError", "Ledger", "Plan", "RunOptions",
    "amend", "compare", "holm", "load_plan", "lock", "run", "status", "verify",
]
