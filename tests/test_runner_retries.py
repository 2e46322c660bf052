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
