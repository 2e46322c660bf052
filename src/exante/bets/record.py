"""One sealed invocation of a bet, on the record: verify, refuse a rerun, run, record, write.

`run(module_file, experiment)` is what a bet's ``main()`` calls (through the
shared harness ``_common.py``), so ``python -m experiments.bets.NN_name`` and
``exante run experiments/bets/NN_name.py`` leave the same ledger records:

    RUN_STARTED  run_id, plan_sha256, the code hashes, via, repeat
    RUN_OK       the payload, exante's tier of it, the code hashes   (or RUN_FAILED: the error)
    DECIDED      once every registered repeat under the lock in force has finished

`exante run` writes the RUN_STARTED before it imports the module (`open_run`), and
`run` then adopts that run: code at the module's top level, or in main() before the
call, runs on the record too, and a bet that peeks at a number there and exits has
spent its run (``python -m`` cannot do this: Python imports the module before any
exante code runs). Before anything runs, the seal, the lock record and every file the
bet imports are verified (``PREREG TAMPERED. Refusing to run.`` otherwise), and a run
beyond the registered repeats is refused unless an amendment re-sealed the
bet (the rerun is then DEVIATED, and the earlier outcome stays in the ledger).
"""

from __future__ import annotations

import json
import os
import traceback
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

from .. import registration, seal
from ..errors import InputError, RefusedError
from ..events import Event
from ..experiment import Experiment, open_experiment
from . import outcome as O

VIA: ContextVar[str | None] = ContextVar("exante_bet_via", default=None)  # "exante run" sets it
LAST_RUN: ContextVar[str | None] = ContextVar("exante_bet_last_run", default=None)
# the run `exante run` opened before importing the bet: (module, run_id, common)
OPENED: ContextVar[tuple | None] = ContextVar("exante_bet_opened", default=None)


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
    with _runner_lock(module, exp):
        return _run_locked(module, exp.reread(), experiment)


def open_run(module: Path) -> tuple[str, dict]:
    """Record RUN_STARTED for the next run of the bet before any of its code runs (what
    `exante run` does before it imports the module): code at the module's top level, or in
    main() before it calls `run`, then runs on the record, and a bet that looks at a number
    there and exits has spent the run. Returns (run_id, the fields its records share)."""
    exp = open_experiment(module)
    check_can_run(module, exp)  # a refusal writes nothing, not even the folder for the lock
    exp.folder.mkdir(parents=True, exist_ok=True)
    with _runner_lock(module, exp):
        exp = exp.reread()
        digest, now = check_can_run(module, exp)  # again under the lock: another run may
        run_id, _, common = _start(module, exp, digest, now)  # have started meanwhile
        return run_id, common


def close_opened(module: Path, error: str) -> None:
    """RUN_FAILED for the run `open_run` opened, if the bet ended without closing it."""
    opened = OPENED.get()
    if opened is None or opened[0] != module:
        return
    _, run_id, common = opened
    exp = open_experiment(module)
    history = exp.history
    if any(r.run_id == run_id for r in history.of(Event.RUN_OK, Event.RUN_FAILED)):
        return
    failed = exp.append(Event.RUN_FAILED, {**common, "metrics": {}, "error_kind": "no_run",
                                           "error": error[:2000]})
    _decide(exp, history.extended([failed]), common["plan_sha256"])


@contextmanager
def _runner_lock(module: Path, exp: Experiment) -> Iterator[None]:
    """The bet's .runner.lock, or RefusedError at once when another run holds it."""
    lock = FileLock(str(exp.folder / ".runner.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RefusedError(f"{module.stem}: another run of this bet holds "
                           f"{exp.folder / '.runner.lock'}; wait for it") from None
    try:
        yield
    finally:
        lock.release()


def _start(module: Path, exp: Experiment, digest: str, now: O.BetOutcome
           ) -> tuple[str, Any, dict]:
    run_id = f"{module.stem}-r{len(exp.history.of(Event.RUN_STARTED)) + 1}"
    common = {"run_id": run_id, "plan_sha256": digest, "via": VIA.get() or _via(module),
              "repeat": len(now.current), "code": code_hashes(module, exp)}
    started = exp.append(Event.RUN_STARTED, {**common, "run_ids": [run_id], "pid": os.getpid()})
    return run_id, started, common


def _run_locked(module: Path, exp: Experiment, experiment: Callable) -> O.BetOutcome:
    opened = OPENED.get()
    if opened is not None and opened[0] == module:  # `exante run` opened it: adopt it, once
        _, run_id, common = opened
        digest, _, _ = registration.verify_all(module, exp.history)  # still the sealed bytes
        OPENED.set(None)
        repeats = O.outcome(exp.history).criteria.repeats
        started = ()  # already in exp.history (re-read after it was written)
    else:
        digest, now = check_can_run(module, exp)
        repeats = now.criteria.repeats
        run_id, record, common = _start(module, exp, digest, now)
        started = (record,)
    ctx = BetRun(module.stem, run_id, common["repeat"], repeats, digest, module)
    LAST_RUN.set(run_id)
    try:
        payload = experiment(ctx)
        _check_payload(payload, module)
    except BaseException as exc:
        failed = exp.append(Event.RUN_FAILED, {**common, "metrics": {},
                                               "error_kind": type(exc).__name__,
                                               "error": str(exc)[:2000],
                                               "traceback": traceback.format_exc()[-4000:]})
        _decide(exp, exp.history.extended([*started, failed]), digest)
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


def _record_ok(module: Path, exp: Experiment, started: tuple, common: dict, payload: dict
               ) -> O.BetOutcome:
    """started: the run's RUN_STARTED when exp.history does not hold it yet, else ()."""
    metrics = {k: v for k, v in payload["metrics"].items() if isinstance(v, (int, float))}
    ok = exp.append(Event.RUN_OK, {**common, "payload": payload, "metrics": metrics})
    history = exp.history.extended([*started, ok])
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
