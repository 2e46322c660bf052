"""Locking, amending and checking a plan together with the code and data it runs.

`lock` seals the text (see `seal`), fingerprints every file the plan runs or
reads (see `fingerprints`), and records both in a LOCKED ledger event.
`check_fingerprints` refuses a run when any of those files changed, naming the
file, unless an amendment recorded the change. `amend` re-seals after a change and records
parent hash, new hash, the reason and what results had been seen; an
amendment after the first run marks the experiment as deviated.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ledger as L
from . import seal
from .errors import InputError, RefusedError, TamperedError
from .fingerprints import (bet_code_files, bet_fingerprints, check_bet_code, check_fingerprints,
                           closure_files, code_files, fingerprints, project_roots)
from .history import History
from .paths import ledger_path
from .spec import Plan, load_plan
from .codeseal import CodeWatch, code_hash  # noqa: F401  (the runner and decide use them here)

# The fingerprints moved to `fingerprints`; they stay importable from here.
__all__ = ["PlanState", "state", "lock", "amend", "verify_all", "load_any", "bet_record",
           "bet_docstring", "TEMPLATE_HYPOTHESES", "CodeWatch", "code_hash", "code_files",
           "project_roots", "closure_files", "fingerprints", "check_fingerprints",
           "bet_code_files", "bet_fingerprints", "check_bet_code"]


@dataclass(frozen=True)
class PlanState:
    """What the ledger says about a plan: its sealed hash, fingerprints, kill and deviation.

    `killed` is the kill in force (None once an amendment re-sealed the plan
    after it); `kills` keeps every kill ever recorded.
    """

    sealed_hash: str | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    killed: dict[str, Any] | None = None
    deviated: bool = False
    amendments: tuple[dict[str, Any], ...] = ()
    has_runs: bool = False
    kills: tuple[dict[str, Any], ...] = ()


def state(plan_path: Path, records: "History | list | None" = None) -> PlanState:
    """What the ledger says about the plan (pass its `History`, or records, to skip a read)."""
    history = _history(plan_path, records)
    return PlanState(history.sealed_hash, history.fingerprints, history.kill_in_force(),
                     history.deviated, history.amendments(), history.has_runs, history.kills())


def _history(plan_path: Path, records) -> History:
    if isinstance(records, History):
        return records
    if records is not None:
        return History(records)
    return History.read(ledger_path(plan_path))


# ---------------------------------------------------------------- lock / amend


def bet_record(path: Path) -> dict[str, Any]:
    """What lock records of a bet module: its imported code and, when it registers a CRITERIA
    block, the criteria read with the AST (the module is never run at lock)."""
    from .families import bet

    data: dict[str, Any] = {"fingerprints": bet_fingerprints(path)}
    if bet.has_criteria(path):
        data["bet"] = bet.parse_module(path).to_dict()
    return data


def load_any(path: Path) -> Plan | None:
    """The plan of a YAML file; None for a bet module (.py), which is sealed as a whole."""
    return None if Path(path).suffix == ".py" else load_plan(path)


def lock(path: Path) -> tuple[str, dict[str, Any]]:
    """Validate, seal and record a plan. Returns (hash, LOCKED data). Idempotent when unchanged."""
    path = Path(path)
    plan = load_any(path)
    history = _history(path, None)
    current = state(path, history)
    if current.sealed_hash is not None:
        st = seal.inspect(path)
        if st.intact and st.stored == current.sealed_hash:
            return st.stored, {"already": True}
        raise RefusedError(f"{path} was locked before (sha256 {current.sealed_hash[:12]}…); a "
                           f"change goes through `exante amend {path} --reason ... --seen ...`")
    _refuse_template(path, plan)
    from . import anchors

    anchors.refuse_lost(ledger_path(path), [], "lock it afresh")  # deleted, then re-locked?
    warnings = _leftovers(path)
    if plan is not None:
        from .pilots import check_disjoint

        check_disjoint(plan, history, str(path))  # before sealing: nothing is written
        from .design import check_costs

        check_costs(plan)  # trial.cost gives every run a number
    extra = bet_record(path) if plan is None else {}
    prints = fingerprints(plan) if plan is not None else extra.pop("fingerprints")
    from . import designcheck  # late: it loads scipy, which most verbs never need

    gate_rows = designcheck.gates(plan) if plan is not None else []  # refuse before sealing
    if plan is not None:
        from .untrained import gates as untrained_gates

        gate_rows += untrained_gates(plan)
    digest = seal.lock(path)
    data = {"plan_sha256": digest, "plan_file": path.name, "fingerprints": prints,
            "experiment_id": plan.experiment_id if plan else path.stem, **extra}
    if warnings:
        data["warnings"] = warnings
    ledger = L.Ledger(ledger_path(path))
    ledger.append(L.LOCKED, data)
    if plan is not None and plan.primary is not None and plan.primary.direction is not None:
        check = {**_design_check(plan, path, history), "gates": gate_rows,
                 "plan_sha256": digest}
        ledger.append(L.DESIGN_CHECK, check)
        data["design_check"] = check
    return digest, data


# The opening words of the shipped templates' placeholder hypotheses (exante/templates);
# tests/test_integrity_small.py checks every template still starts with one of them.
TEMPLATE_HYPOTHESES = ("State, in one falsifiable", "State the claim in one falsifiable")


def _refuse_template(path: Path, plan: Plan | None) -> None:
    """An unedited template hypothesis would seal a claim nobody made."""
    text = plan.hypothesis if plan is not None else bet_docstring(path)
    if any(marker in (text or "") for marker in TEMPLATE_HYPOTHESES):
        where = "hypothesis" if plan is not None else "the docstring's Hypothesis:"
        raise InputError(f"{path}: {where}: still the template's placeholder; write your own "
                         f"falsifiable claim there, then `exante lock {path}`")


def _leftovers(path: Path) -> list[str]:
    """Results already next to a plan that has no lock: a deleted ledger, or a copied folder."""
    from .paths import experiment_dir

    folder = experiment_dir(path)
    found = []
    if (folder / "runs").is_dir() and any((folder / "runs").iterdir()):
        found.append(f"{folder / 'runs'} already holds run folders")
    if (folder / "result.json").exists():
        found.append(f"{folder / 'result.json'} already exists")
    return [f"{w} from before this lock; they are not this plan's results (move them away, or "
            "amend the original plan instead of re-locking)" for w in found]


def _design_check(plan: Plan, path: Path, history: History | None = None) -> dict[str, Any]:
    """The design check with a measured σ when one exists (a stored baseline measurement, else
    the pilots'), else the σ the plan states."""
    from .pilots import pilot_sigma

    sigma, source = plan.decision.sigma_guess, "decision.sigma_guess"
    pilot = pilot_sigma(plan, history) if history is not None else None
    if pilot is not None:
        sigma, source = pilot["sigma"], pilot["source"]
    if plan.seed_protocol is not None and plan.seed_protocol.reuse:
        store = plan.folder / plan.seed_protocol.reuse
        if store.is_file():
            import json
            import statistics

            values = [r["value"] for r in json.loads(store.read_text())["runs"]]
            if len(values) >= 2:
                sigma, source = statistics.stdev(values), f"measured baseline ({store.name})"
    if sigma is None:
        source = "not stated (effects in SD units)"
    from . import designcheck

    check = designcheck.design_check(plan, sigma=sigma, sigma_source=source)
    if pilot is not None:
        check["pilot"] = {k: pilot[k] for k in ("sigma", "df", "metric", "runs", "cells", "seeds")}
        check["sigma_stated"] = plan.decision.sigma_guess
    return check


def amend(path: Path, *, reason: str, seen: str) -> dict[str, Any]:
    """Re-seal after a change and record it. Refuses when nothing changed, except for a bet
    that has run: then the amendment records why it runs again (`rerun`), and that rerun is
    DEVIATED."""
    path = Path(path)
    if not reason.strip() or not seen.strip():
        raise InputError("an amendment needs --reason (why) and --seen (what results you had seen, "
                         "or 'none')")
    with _runner_lock(path):
        return _amend(path, reason, seen)


@contextmanager
def _runner_lock(path: Path):
    """The runner's lock on the experiment: no amendment while a sweep is running."""
    from filelock import FileLock, Timeout

    from .paths import experiment_dir

    folder = experiment_dir(path)
    lock = FileLock(str(folder / ".runner.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pid_file = folder / ".runner.pid"
        owner = pid_file.read_text().strip() if pid_file.exists() else "?"
        raise RefusedError(f"{path}: an `exante run` is sweeping this experiment (pid {owner}); "
                           "amend after it finishes or stop it first") from None
    try:
        yield
    finally:
        lock.release()


def _amend(path: Path, reason: str, seen: str) -> dict[str, Any]:
    history = _history(path, None)
    current = state(path, history)
    if current.sealed_hash is None:
        raise RefusedError(f"{path} was never locked; run `exante lock {path}` first")
    plan = load_any(path)
    if plan is not None:
        from .pilots import check_disjoint

        check_disjoint(plan, history, str(path))  # an amendment cannot move onto pilot seeds
    extra = bet_record(path) if plan is None else {}
    prints = fingerprints(plan) if plan is not None else extra.pop("fingerprints")
    st = seal.inspect(path)
    text_changed = st.computed != current.sealed_hash
    files_changed = sorted(k for k in prints.keys() | current.fingerprints.keys()
                           if prints.get(k) != current.fingerprints.get(k))
    rerun = plan is None and current.has_runs and not text_changed and not files_changed
    if not text_changed and not files_changed and not rerun:
        raise InputError(f"{path}: nothing changed since the last lock; no amendment to record")
    digest = seal.lock(path)
    data = {"plan_sha256": digest, "parent_sha256": current.sealed_hash, "reason": reason,
            "seen": seen, "after_runs": current.has_runs, "after_kill": current.killed is not None,
            "changed_files": files_changed, "text_changed": text_changed, "fingerprints": prints,
            **extra, **({"rerun": True} if rerun else {})}
    L.Ledger(ledger_path(path)).append(L.AMENDED, data)
    return data


def verify_all(path: Path, records: "History | list | None" = None, *, plan: Plan | None = None
               ) -> tuple[str, Plan | None, PlanState]:
    """Everything `run` checks first: seal intact, hash = last lock, code and data unchanged.

    Pass the experiment's `History` (and its `plan`) when already read, to skip reading them.
    """
    path = Path(path)
    digest = seal.verify(path)
    current = state(path, records)
    if current.sealed_hash is None:
        raise RefusedError(f"{path} is sealed but has no LOCKED event in {ledger_path(path)}; "
                           f"run `exante lock {path}` in its registry folder")
    if digest != current.sealed_hash:
        raise TamperedError(f"{seal.TAMPERED} {path}: sealed with {digest[:12]}… but the ledger's "
                            f"last lock is {current.sealed_hash[:12]}…; use `exante amend`")
    if plan is None:
        plan = load_any(path)
    if plan is not None:
        check_fingerprints(plan, current.fingerprints)
    else:
        check_bet_code(path, current.fingerprints)
    return digest, plan, current


def bet_docstring(path: Path) -> str:
    """The module docstring of a bet module (its hypothesis and tiers), or ''."""
    try:
        return ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    except SyntaxError:
        return ""
