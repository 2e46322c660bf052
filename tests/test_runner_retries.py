"""`failures.retries`: a failed run is tried again within the same sweep, as registered."""

from __future__ import annotations

from pathlib import Path

from exante import ledger as L
from exante import registration, runner

TRIAL = """\
from pathlib import Path


def train(params, seed, ctx):
    marker = Path(ctx.run_dir) / "attempted"
    if seed == 137 and not marker.exists():  # the first attempt of one run crashes
        marker.write_text("1")
        raise RuntimeError("transient failure")
    if seed == 256:
        raise RuntimeError("always fails")
    return {"score": 1.0 + seed / 1000}
"""

PLAN = """\
experiment_id: retries
hypothesis: Transient failures are retried as registered.
metrics: {primary: {name: score, direction: higher}}
design:
  arms: {arm: {shift: 1}}
  seeds: [42, 137, 256]
trial: {python: retry_trial:train}
decision: {rule: threshold, acceptance: "experiment.mean > baseline.mean"}
failures: {policy: exclude, retries: 1}
sha256: ""
"""


def test_failed_runs_are_retried_within_the_sweep_up_to_the_registered_count(tmp_path: Path):
    (tmp_path / "retry_trial.py").write_text(TRIAL)
    plan = tmp_path / "prereg.yaml"
    plan.write_text(PLAN)
    registration.lock(plan)
    report = runner.run(plan, runner.RunOptions(executor="inline"))
    records = L.Ledger(tmp_path / "ledger.jsonl").records()
    attempts: dict[str, list[str]] = {}
    for r in records:
        if r["event"] in (L.RUN_OK, L.RUN_FAILED):
            attempts.setdefault(r["data"]["run_id"], []).append(r["event"])
    # seed 137 failed once then succeeded; seed 256 failed twice (1 retry) and stays failed
    assert attempts["baseline__baseline__s137"] == [L.RUN_FAILED, L.RUN_OK]
    assert attempts["baseline__baseline__s256"] == [L.RUN_FAILED, L.RUN_FAILED]
    assert attempts["baseline__baseline__s42"] == [L.RUN_OK]
    status = runner.status(plan)
    assert (status["completed"], status["failed"], status["pending"]) == (4, 2, 0)
    assert report.ran == 10
    # nothing is left to do: a second run does not retry beyond the registered count
    assert runner.run(plan, runner.RunOptions(executor="inline")).ran == 0


PID_TRIAL = """\
import os
from pathlib import Path


def train(params, seed, ctx):
    marker = Path(ctx.run_dir) / "attempted"
    if seed == 137 and not marker.exists():
        marker.write_text("1")
        raise RuntimeError("transient failure")
    return {"score": 1.0 + seed / 1000, "pid": float(os.getpid())}
"""


def test_the_retry_pass_runs_in_the_same_local_workers(tmp_path: Path):
    """A sweep's later phases (here the retry pass) reuse the local pool: the workers, and
    whatever their trial imported (torch), are not started again for each phase."""
    (tmp_path / "retry_trial.py").write_text(PID_TRIAL)
    plan = tmp_path / "prereg.yaml"
    plan.write_text(PLAN)
    registration.lock(plan)
    report = runner.run(plan, runner.RunOptions(executor="local", workers=1))
    assert report.failed == 2 and report.ok == 6  # 137 failed once per cell, then passed
    records = L.Ledger(tmp_path / "ledger.jsonl").records()
    ok = [r["data"] for r in records if r["event"] == L.RUN_OK]
    retried = [d for d in ok if d["seed"] == 137]
    first_pass = [d for d in ok if d["seed"] != 137]
    assert retried and first_pass
    assert {d["metrics"]["pid"] for d in ok} == {first_pass[0]["metrics"]["pid"]}
    starts = [r for r in records if r["event"] == L.RUN_STARTED]
    last_ok = max(r["seq"] for r in records if r["event"] == L.RUN_OK and r["data"]["seed"] != 137)
    assert any(r["seq"] > last_ok for r in starts), "no second phase ran"
