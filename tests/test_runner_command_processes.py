"""A command trial's process never outlives its run under the local executor.

When a command outlives `trial.timeout`, or the sweep stops early (a kill rule
fires while a command runs on another worker), the program the run started
must be stopped too: a hung training job left behind keeps its GPU and its
CPU, after exante has already recorded the run as over.
"""

import shutil
import time
from pathlib import Path

from exante import registration
from runner_fixtures.harness import FIXTURES, cli, events, terminal, write_plan

COMMAND = "python sleeper.py {run_dir}/pid {secs} {wait_for}"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_soon(pid: int, limit_s: float = 5.0) -> bool:
    deadline = time.monotonic() + limit_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _plan(tmp_path, experiment_id, **kw):
    plan = write_plan(tmp_path, experiment_id, lock=False,
                      trial={"command": COMMAND, "metrics_regex": {"score": r"score=(\S+)"},
                             **kw.pop("trial", {})}, **kw)
    shutil.copy(FIXTURES / "sleeper.py", plan.parent / "sleeper.py")
    registration.lock(plan)
    return plan


def _pid(plan: Path, run_id: str) -> int:
    return int((plan.parent / "runs" / run_id / "pid").read_text())


def test_a_timed_out_command_is_stopped(tmp_path):
    plan = _plan(tmp_path, "cmd_timeout", trial={"timeout": 1.5},
                 design={"arms": {"hangs": {"secs": 1000}}, "baseline": {"secs": 0},
                         "fixed": {"wait_for": ""}, "seeds": [1]})
    try:
        code, out = cli("run", plan, "--executor", "local", "--workers", "2", "--quiet")
        assert code == 0, out
        [failed] = [r for r in terminal(plan) if r["event"] == "RUN_FAILED"]
        assert failed["data"]["run_id"] == "arm__hangs__s1"
        assert failed["data"]["error_kind"] == "timeout"
        assert _gone_soon(_pid(plan, "arm__hangs__s1")), "the timed-out command still runs"
    finally:
        _kill_leftover(plan, "arm__hangs__s1")


def test_a_command_in_flight_when_a_kill_rule_fires_is_stopped(tmp_path):
    slow_pid = tmp_path / "experiments" / "cmd_kill" / "runs" / "arm__slow__s1" / "pid"
    plan = _plan(tmp_path, "cmd_kill",
                 design={"arms": {"slow": {"secs": 1000, "wait_for": ""}},
                         "baseline": {"secs": 0, "wait_for": str(slow_pid)}, "seeds": [1]},
                 kill=[{"name": "any_result", "when": "baseline.mean < 100"}])
    try:
        code, out = cli("run", plan, "--executor", "local", "--workers", "2", "--quiet")
        assert code == 1, out
        assert len(events(plan, "KILLED")) == 1
        assert [r["data"]["run_id"] for r in terminal(plan)] == ["baseline__baseline__s1"]
        assert _gone_soon(_pid(plan, "arm__slow__s1")), "the cancelled command still runs"
    finally:
        _kill_leftover(plan, "arm__slow__s1")


def _kill_leftover(plan: Path, run_id: str) -> None:
    import os
    import signal

    try:
        pid = _pid(plan, run_id)
    except (FileNotFoundError, ValueError):
        return
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
