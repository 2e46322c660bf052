"""Fault injection: a trial can never end the sweep (issue 18, item 1).

`sys.exit(0)`, a KeyboardInterrupt or GeneratorExit raised inside a trial is a
failed run of its own kind and the sweep goes on; only a real SIGINT/SIGTERM of
the runner stops it, recorded as SWEEP_INTERRUPTED, and `exante run` still
prints its summary and exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from runner_fixtures.harness import EXANTE, cli, events, status, terminal, write_plan

TRIAL = '''
import sys, time
from pathlib import Path

def modes(params, seed, ctx):
    mode = params["mode"]
    if mode == "sys_exit":
        sys.exit(0)
    if mode == "keyboard":
        raise KeyboardInterrupt("raised by the trial itself")
    if mode == "generator_exit":
        raise GeneratorExit()
    if mode == "slow":
        Path(str(ctx.run_dir) + ".started").write_text("x")
        time.sleep(float(params.get("sleep", 30)))
    return {"score": float(seed)}

def batch(runs, ctx):
    sys.exit(3)
'''

KINDS = {"sys_exit": "system_exit", "keyboard": "keyboard_interrupt",
         "generator_exit": "generator_exit"}


def _plan(tmp_path: Path, arms: dict, **trial) -> Path:
    module = f"integ_{uuid.uuid4().hex[:10]}"
    code_dir = tmp_path / "code"
    code_dir.mkdir(exist_ok=True)
    (code_dir / f"{module}.py").write_text(TRIAL, encoding="utf-8")
    fn, kind = trial.pop("fn", "modes"), trial.pop("kind", "python")
    return write_plan(tmp_path, f"e{uuid.uuid4().hex[:6]}",
                      trial={kind: f"{module}:{fn}", "pythonpath": [str(code_dir)], **trial},
                      design={"baseline": {"mode": "ok"}, "arms": arms, "seeds": [1, 2]})


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_base_exceptions_in_a_trial_are_failed_runs_and_the_sweep_goes_on(tmp_path, executor):
    arms = {mode: {"mode": mode} for mode in KINDS}
    arms["after"] = {"mode": "ok"}
    plan = _plan(tmp_path, arms)
    code, out = cli("run", plan, "--executor", executor, "--workers", "1", "--quiet")
    assert code == 0, out
    assert "ran 10 (ok 4, failed 6)" in out  # the summary is printed
    kinds = {r["data"]["params"]["mode"]: r["data"].get("error_kind") for r in terminal(plan)}
    assert {m: kinds[m] for m in KINDS} == KINDS
    assert len(events(plan, "SWEEP_FINISHED")) == 1
    assert status(plan)["pending"] == 0


def test_a_batched_trial_that_calls_sys_exit_fails_its_batch(tmp_path):
    plan = _plan(tmp_path, {"a": {"mode": "ok"}}, fn="batch", kind="batched", group_by=["mode"])
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    assert {r["data"]["error_kind"] for r in terminal(plan)} == {"system_exit"}
    assert len(events(plan, "SWEEP_FINISHED")) == 1


def _wait_for(pattern_dir: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(pattern_dir.glob("**/*.started")):
            return
        time.sleep(0.05)
    raise AssertionError("the trial never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_to_the_runner_stops_the_sweep_recorded_as_interrupted(tmp_path, sig):
    plan = _plan(tmp_path, {"slow": {"mode": "slow"}})
    proc = subprocess.Popen([EXANTE, "run", str(plan), "--executor", "inline", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(plan.parent)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "INTERRUPTED by " + sig.name in out and "remain" in out, out
    interrupted = events(plan, "SWEEP_INTERRUPTED")
    assert len(interrupted) == 1 and interrupted[0]["data"]["signal"] == sig.name
    assert not [r for r in terminal(plan) if r["data"]["params"]["mode"] == "slow"]
    assert status(plan)["pending"] >= 1  # the interrupted run was not recorded as a failure


def test_run_exits_non_zero_when_runs_remain_unless_max_runs_asked_for_it(tmp_path):
    plan = _plan(tmp_path, {"a": {"mode": "ok"}})
    code, out = cli("run", plan, "--executor", "inline", "--quiet", "--max-runs", "1")
    assert code == 0, out  # stopping early was asked for: said, not an error
    assert "3 run(s) remain" in out
