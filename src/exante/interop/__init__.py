"""Working with the tools researchers already use.

    sources     read runs from CSV / JSON lines, an MLflow store, W&B (CSV export, offline runs)
    ingest      match those rows to a plan's runs and record them: PILOT before a lock,
                RETROSPECTIVE after it
    retro       what the ledger says about imported runs (every output's RETROSPECTIVE label)
    table       the runs table (one row per run) and `exante export`
    mlflow_log  `exante run --log-to mlflow[:URI]`: the ledger mirrored into MLflow
    hydra       Hydra applications as trials (compose API)

Every third-party package is imported late, inside the function that needs
it, with an error naming the extra to install (`require`).
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MissingDependencyError


def require(module: str, extra: str) -> Any:
    """Import `module`, or raise MissingDependencyError naming `pip install 'exante[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra) from exc
