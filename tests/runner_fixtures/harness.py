"""Helpers the runner acceptance tests share: write and lock a plan, call the CLI, read results.

Plans are written the way a user writes them (YAML next to a registry folder)
and locked with the real `lock`; the trials live in this folder, which each
plan puts on `trial.pythonpath`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from exante import ledger as L
from exante import registration

FIXTURES = Path(__file__).resolve().parent
EXANTE = str(Path(sys.executable).with_name("exante"))  # the installed console script


def write_plan(root: Path, experiment_id: str, *, trial: dict[str, Any], design: dict[str, Any],
               metric: str = "score", direction: str = "higher", lock: bool = True,
               **sections: Any) -> Path:
    """Write experiments/<id>/prereg.yaml under `root` (trials from this folder) and lock it."""
    trial = {**trial}
    if "command" not in trial:
        trial.setdefault("pythonpath", [str(FIXTURES)])
    plan = {"experiment_id": experiment_id,
            "hypothesis": f"{experiment_id}: written by the runner acceptance tests",
            "metrics": {"primary": {"name": metric, "direction": direction}},
            "design": design, "trial": trial, **sections}
    plan.setdefault("decision", {"rule": "threshold", "acceptance": "experiment.mean > baseline.mean"})
    folder = root / "experiments" / experiment_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prereg.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False) + 'sha256: ""\n', encoding="utf-8")
    if lock:
        registration.lock(path)
    return path


def cli(*args: str) -> tuple[int, str]:
    """Run `exante ARGS` in this process; (exit code, stdout and stderr together)."""
    from records_helpers import invoke  # the one in-process CLI helper (tests/fixtures)

    result = invoke(*args, catch_exceptions=False)
    return result.exit_code, result.output


def cli_process(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    """Run the installed `exante ARGS` as a real subprocess."""
    return subprocess.run([EXANTE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def status(plan: Path) -> dict[str, Any]:
    """`exante status PLAN --json`, parsed."""
    code, out = cli("status", plan, "--json")
    assert code == 0, out
    return json.loads(out)


def records(plan: Path) -> list[dict[str, Any]]:
    """Every ledger record; reading verifies the whole hash chain (LedgerError if broken)."""
    return L.Ledger(plan.parent / "ledger.jsonl").records(verify=True)


def events(plan: Path, name: str) -> list[dict[str, Any]]:
    return [r for r in records(plan) if r["event"] == name]


def terminal(plan: Path) -> list[dict[str, Any]]:
    """RUN_OK and RUN_FAILED records, in ledger order."""
    return [r for r in records(plan) if r["event"] in (L.RUN_OK, L.RUN_FAILED)]


def assert_each_once(plan: Path, planned: set[str]) -> dict[str, dict[str, Any]]:
    """Exactly the planned run ids, each with exactly one terminal record; returns them by id."""
    counts = Counter(r["data"]["run_id"] for r in terminal(plan))
    twice = sorted(rid for rid, n in counts.items() if n > 1)
    assert twice == [], f"runs recorded more than once: {twice}"
    assert set(counts) == planned, (f"missing {sorted(planned - set(counts))}, "
                                    f"unplanned {sorted(set(counts) - planned)}")
    return {r["data"]["run_id"]: r for r in terminal(plan)}


def planned_ids(plan: Path, *, include_stage2: bool = True) -> set[str]:
    from exante.design import expand
    from exante.spec import load_plan

    return {k.run_id for k in expand(load_plan(plan), include_stage2=include_stage2)}
