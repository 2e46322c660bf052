"""Fault injection: no command trial outlives its runner (issue 18, item 7).

The runner is SIGKILLed (nothing of it can clean up) or SIGTERMed while a
command trial runs; 2 s later no trial process may be left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exante import registration
from runner_fixtures.harness import EXANTE, FIXTURES, events, write_plan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG is Linux's")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _plan(tmp_path: Path, name: str) -> Path:
    plan = write_plan(tmp_path, name, lock=False,
                      trial={"command": "python sleeper.py {run_dir}/pid {secs}",
                             "metrics_regex": {"score": r"score=(\S+)"}},
                      design={"baseline": {"secs": 60}, "arms": {"a": {"secs": 60}},
                              "seeds": [1]})
    shutil.copy(FIXTURES / "sleeper.py", plan.parent / "sleeper.py")
    registration.lock(plan)
    return plan


def _command_pids(plan: Path, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in (plan.parent / "runs").glob("*/pid")] \
            if (plan.parent / "runs").is_dir() else []
        pids = [int(p.read_text()) for p in found if p.read_text().strip()]
        if pids:
            return pids
        time.sleep(0.05)
    raise AssertionError("no command started")


def _left_after(pids: list[int], seconds: float = 2.0) -> list[int]:
    time.sleep(seconds)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("executor", ["local", "inline"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_command_survives_its_runner(tmp_path, executor, sig):
    plan = _plan(tmp_path, f"orphan_{executor}_{sig.name.lower()}")
    runner = subprocess.Popen([EXANTE, "run", str(plan), "--executor", executor, "--workers", "1",
                               "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        pids = _command_pids(plan)
        runner.send_signal(sig)
        runner.wait(timeout=10)
        left = _left_after(pids)
        assert left == [], f"trial process(es) {left} outlived the runner ({sig.name})"
        if sig == signal.SIGTERM:
            assert runner.returncode == 130
            assert len(events(plan, "SWEEP_INTERRUPTED")) == 1
    finally:
        runner.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
