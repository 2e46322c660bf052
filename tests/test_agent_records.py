"""The pieces under every `--json` record: strict JSON values and whether a sweep is running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from exante.agent.records import dumps, envelope, jsonable, sweep_state


def started(pid: int) -> dict:
    return {"event": "SWEEP_STARTED", "data": {"pid": pid}}


def test_records_are_strict_json_with_the_schema_first():
    record = envelope("status", {"schema": 1, "x": float("nan"), "y": float("-inf"),
                                 "z": np.float64(0.5), "n": np.int64(3), "p": Path("a/b"),
                                 "arr": np.array([1.0, np.inf])})
    assert list(record)[0] == "schema" and record["schema"] == "exante.status/1"
    assert record["x"] == "NaN" and record["y"] == "-Infinity" and record["z"] == 0.5
    assert record["n"] == 3 and record["p"] == "a/b" and record["arr"] == [1.0, "Infinity"]
    assert json.loads(dumps(record)) == record  # allow_nan=False did not raise


def test_a_sweep_runs_only_while_its_process_lives_and_it_has_not_finished():
    assert sweep_state(Path("p"), []) == {"running": False, "pid": None}
    assert sweep_state(Path("p"), [started(os.getpid())]) == {"running": True,
                                                              "pid": os.getpid()}
    finished = [started(os.getpid()), {"event": "SWEEP_FINISHED", "data": {}}]
    assert sweep_state(Path("p"), finished)["running"] is False

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while not Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sweep_state(Path("p"), [started(child.pid)])["running"] is False  # a zombie: ended
    child.wait()
    assert sweep_state(Path("p"), [started(child.pid)])["running"] is False  # reaped: gone
