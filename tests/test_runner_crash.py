"""Killing `exante run` with SIGKILL at random moments loses nothing and duplicates nothing.

A real runner (the installed `exante` script, local executor, 2 workers) is
started as its own process group and killed with SIGKILL, workers included,
again and again: sometimes while it starts up, mostly while runs are in
flight. Then `exante run` is called once more and must finish the plan. The
ledger must hold exactly the planned runs, each with one terminal record, and
its hash chain must verify.

The number of kills adapts to the machine: each mid-sweep kill waits for the
workers to come up, which takes seconds on a loaded box, so the test stops
killing after KILLS kills or BUDGET_S seconds, whichever comes first; the first
MIN_MID_SWEEP kills always land while runs are in flight.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from runner_fixtures.harness import (EXANTE, assert_each_once, planned_ids, records, status,
                                     write_plan)

KILLS = 12
BUDGET_S = 22.0
MIN_MID_SWEEP = 3


def _count(ledger: Path, event: str) -> int:
    try:
        return ledger.read_bytes().count(f'"event":"{event}"'.encode())
    except FileNotFoundError:
        return 0


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _group_members(proc.pid):
        assert time.monotonic() < deadline, f"workers survived: {_group_members(proc.pid)}"
        time.sleep(0.05)


def _start(plan: Path) -> subprocess.Popen:
    return subprocess.Popen([EXANTE, "run", str(plan), "--executor", "local", "--workers", "2",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _one_cycle(plan: Path, rng: random.Random, mid_sweep: bool) -> str:
    """Start a runner, kill it at a random moment; returns where the kill landed."""
    ledger = plan.parent / "ledger.jsonl"
    done_before = _count(ledger, "RUN_OK")
    proc = _start(plan)
    if mid_sweep:  # once this runner has recorded a run, wait a random few tens of ms more
        deadline = time.monotonic() + 60
        while _count(ledger, "RUN_OK") == done_before and proc.poll() is None:
            assert time.monotonic() < deadline, "the runner recorded nothing in 60 s"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
    else:  # anywhere in start-up: imports, seal check, lock, first appends
        time.sleep(rng.uniform(0.0, 0.8))
    if proc.poll() is not None:
        stderr = proc.stderr.read().decode()
        assert proc.returncode == 0, stderr
        return "finished"
    _kill_group(proc)
    proc.stderr.close()
    return "mid_sweep" if _count(ledger, "RUN_OK") > done_before else "start_up"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_runs_each_planned_run_once(tmp_path):
    seeds = list(range(1, 26))
    plan = write_plan(tmp_path, "crash", trial={"python": "runner_trials:sleepy"},
                      design={"factors": {"a": [0, 1, 2, 3]}, "baseline": {"a": 0},
                              "fixed": {"low_s": 0.02, "high_s": 0.08}, "seeds": seeds})
    planned = planned_ids(plan)
    assert len(planned) == 100
    seed = int(os.environ.get("EXANTE_TEST_SEED", time.time_ns() % 10**6))  # to replay a failure
    rng = random.Random(seed)

    landed: list[str] = []
    start = time.monotonic()
    ledger = plan.parent / "ledger.jsonl"
    # stop killing while work is still left, so the final resume always has something to do
    # (on an idle machine a late start-up kill can otherwise let a sweep run to the end)
    while (len(landed) < KILLS and time.monotonic() - start < BUDGET_S
           and _count(ledger, "RUN_OK") < 0.8 * len(planned)):
        mid_sweep = len(landed) < MIN_MID_SWEEP or rng.random() < 0.75
        where = _one_cycle(plan, rng, mid_sweep)
        if where == "finished":
            break
        landed.append(where)
        records(plan)  # the chain verifies after every kill (raises LedgerError if not)
    assert landed.count("mid_sweep") >= MIN_MID_SWEEP, (seed, landed)
    assert _count(plan.parent / "ledger.jsonl", "RUN_OK") < len(planned), "nothing left to resume"

    final = subprocess.run([EXANTE, "run", str(plan), "--executor", "local", "--workers", "2",
                            "--quiet"], capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    by_id = assert_each_once(plan, planned)
    assert all(r["event"] == "RUN_OK" for r in by_id.values()), "a killed run was recorded failed"
    for r in by_id.values():
        assert r["data"]["metrics"]["score"] == r["data"]["seed"] + 10 * r["data"]["params"]["a"]
    s = status(plan)
    assert (s["planned"], s["completed"], s["failed"], s["pending"]) == (100, 100, 0, 0)
    sweeps = sum(r["event"] == "SWEEP_STARTED" for r in records(plan))
    print(f"EXANTE_TEST_SEED={seed} kills: {landed}; sweeps started: {sweeps}")
