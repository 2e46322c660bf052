"""One sealed invocation of a bet, on the record: verify, refuse a rerun, run, record, write.

`run(module_file, experiment)` is what a bet's ``main()`` calls (through the
shared harness ``_common.py``), so ``python -m experiments.bets.NN_name`` and
``exante run experiments/bets/NN_name.py`` leave the same ledger records:

    RUN_STARTED  run_id, plan_sha256, the code hashes, via, repeat
    RUN_OK       the payload, exante's tier of it, the code hashes   (or RUN_FAILED: the error)
    DECIDED      once every registered repeat under the lock in force has finished

Before anything runs, the seal, the lock record and every file the bet imports
are verified (``PREREG TAMPERED. Refusing to run.`` otherwise), and a run
beyond the registered repeats is refused unless an amendment re-sealed the
bet (the rerun is then DEVIATED, and the earlier outcome stays in the ledger).
"""

from __future__ import annotations

import json
import os
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock, Timeout

from .. import registration, seal
from ..errors import InputError, RefusedError
from ..events import Event
from ..experiment import Experiment, open_experiment
from . import outcome as O

VIA: ContextVar[str | None] = ContextVar("exante_bet_via", default=None)  # "exante run" sets it
LAST_RUN: ContextVar[str | None] = ContextVar("exante_bet_last_run", default=None)


@dataclass(frozen=True)
class BetRun:
    """What the experiment function is told about its invocation."""

    bet: str
    run_id: str
    repeat: int  # 0-based index among the registered repeats under this lock
    repeats: int
    plan_sha256: str
    module: Path


def results_path(module: Path) -> Path:
    """results/NN_name.json next to the module (seed 001's layout)."""
    return Path(module).parent / "results" / f"{Path(module).stem}.json"


def code_hashes(module: Path, exp: Experiment) -> dict[str, str]:
    """sha256 of the module's bytes and of every file it imports, as the lock recorded them."""
    return {"module": seal.sha256_file(module), **exp.history.fingerprints}


def check_can_run(module: Path, exp: Experiment) -> tuple[str, O.BetOutcome]:
    """Everything before a run: seal, lock, imported code, criteria registered, repeats left."""
    digest, _, _ = registration.verify_all(module, exp.history)
    now = O.outcome(exp.history)
    if now.criteria is None:
        raise InputError(f"{module}: the lock recorded no CRITERIA block, so exante cannot judge "
                         "this bet; add one (see `exante init NAME --template bet`) and "
                         f"`exante amend {module} --reason ... --seen ...`")
    if len(now.current) >= now.criteria.repeats:
        raise RefusedError(_rerun_refusal(module, now))
    return digest, now


def _rerun_refusal(module: Path, now: O.BetOutcome) -> str:
    first = now.current[0]
    seen = first.verdict or first.status
    return (f"{module.stem}: already ran {len(now.current)} of {now.criteria.repeats} registered "
            f"run(s) under sha256 {first.plan_sha256[:12]}… (first: {first.run_id}, {seen}). "
            f"Refusing to run again: register repeats in CRITERIA, or record why with "
            f"`exante amend {module} --reason ... --seen ...` (the rerun is then DEVIATED and "
            "this outcome stays in the ledger)")


def run(module_file: str | Path, experiment: Callable[[BetRun], dict[str, Any]]) -> O.BetOutcome:
    """Run one sealed invocation of the bet at `module_file`; return the bet's outcome."""
    module = Path(module_file).resolve()
    exp = open_experiment(module)
    exp.folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(exp.folder / ".runner.lock"), timeout=0):
            return _run_locked(module, exp.reread(), experiment)
    except Timeout:
        raise RefusedError(f"{module.stem}: another run of this bet holds "
                           f"{exp.folder / '.runner.lock'}; wait for it") from None


def _run_locked(module: Path, exp: Experiment, experiment: Callable) -> O.BetOutcome:
    digest, now = check_can_run(module, exp)
    criteria = now.criteria
    run_id = f"{module.stem}-r{len(exp.history.of(Event.RUN_STARTED)) + 1}"
    code = code_hashes(module, exp)
    ctx = BetRun(module.stem, run_id, len(now.current), criteria.repeats, digest, module)
    common = {"run_id": run_id, "plan_sha256": digest, "via": VIA.get() or _via(module),
              "repeat": ctx.repeat,
              "code": code}
    started = exp.append(Event.RUN_STARTED, {**common, "run_ids": [run_id], "pid": os.getpid()})
    LAST_RUN.set(run_id)
    try:
        payload = experiment(ctx)
        _check_payload(payload, module)
    except BaseException as exc:
        failed = exp.append(Event.RUN_FAILED, {**common, "metrics": {},
                                               "error_kind": type(exc).__name__,
                                               "error": str(exc)[:2000],
                                               "traceback": traceback.format_exc()[-4000:]})
        _decide(exp, exp.history.extended([started, failed]), digest)
        raise
    return _record_ok(module, exp, started, common, payload)


def _via(module: Path) -> str:
    """How the bet was started when not by `exante run`: as the main module, or from Python."""
    import sys

    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return "python -m" if main and Path(main).resolve() == module else "python"


def _check_payload(payload: Any, module: Path) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("metrics"), dict):
        raise InputError(f"{module}: the experiment must return a dict payload with a `metrics` "
                         f"mapping (the names CRITERIA reads); got {type(payload).__name__}")
    json.dumps(payload)  # a TypeError here names what cannot be recorded


def _record_ok(module: Path, exp: Experiment, started, common: dict, payload: dict
               ) -> O.BetOutcome:
    metrics = {k: v for k, v in payload["metrics"].items() if isinstance(v, (int, float))}
    ok = exp.append(Event.RUN_OK, {**common, "payload": payload, "metrics": metrics})
    history = exp.history.extended([started, ok])
    judged = O.judge_record(history, ok)
    history = _decide(exp, history, common["plan_sha256"])
    final = O.outcome(history)
    write_results(module, judged, final)
    return final


def _decide(exp: Experiment, history, digest: str):
    """Record DECIDED once every registered run under the lock in force has finished."""
    final = O.outcome(history)
    if not final.decided:
        return history
    head = exp.append(Event.DECIDED, {"family": "bet", "verdict": final.verdict,
                                      "plan_sha256": digest,
                                      "runs": [r.run_id for r in final.current],
                                      "reasons": list(final.reasons), "deviated": final.deviated})
    return history.extended([head])


def write_results(module: Path, run: O.RunOutcome, final: O.BetOutcome) -> Path:
    """results/NN_name.json: this run's payload and the tier exante computed from it."""
    flags = {t: bool((run.values or {}).get(t)) for t in ("strict", "lenient", "catastrophic")}
    body = {"bet": module.stem, "plan_sha256": run.plan_sha256, "run_id": run.run_id,
            "judged_by": "exante", "verdict": run.verdict, "bet_verdict": final.verdict,
            "deviated": final.deviated, **flags, "controls": run.controls,
            "reasons": list(run.reasons), "payload": run.payload}
    out = results_path(module)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out
