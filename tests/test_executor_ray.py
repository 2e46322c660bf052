"""The Ray executor against the shared contract, on a real Ray head, plus Ray's own cases.

Needs EXANTE_RAY=1 inside the CI network namespace (see tests/conftest_cluster.py);
skips otherwise. The head (2 CPUs) is started once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from exante.errors import InputError
from exante.executors.base import ExecutorOptions
from exante.executors.ray import RayExecutor, _pack, _relocate, _unpack, shipped_folder
from exante.trials import RunRequest, Task, TrialSpec
from conftest_cluster import ray_head, ray_session  # noqa: F401  (fixtures)
from executor_contract import (ExecutorContract, Sweep, executor_factory, run_all,
                               wait_for_file)

pytestmark = pytest.mark.ray


class TestRayExecutor(ExecutorContract):
    limit_s = 60.0

    @pytest.fixture
    def make(self, ray_session):
        with executor_factory(RayExecutor, workers=2, extra={"address": ray_session}) as make:
            yield make


# ---------------------------------------------------------------- a worker killed mid-sweep


def _kill_first_attempt(run_dir: Path, killed: list[int]) -> None:
    info = json.loads(wait_for_file(run_dir / "attempt.1", 60.0))
    os.kill(info["pid"], signal.SIGKILL)  # a process this test's sweep started
    killed.append(info["pid"])


def _sweep_with_a_kill(make, tmp_path, max_retries):
    sweep = Sweep(tmp_path)
    tasks = [sweep.task("attempts", (seed,), params={"seconds": 2.0}) for seed in range(1, 5)]
    victim = tasks[0].runs[0]
    killed: list[int] = []
    killer = threading.Thread(target=_kill_first_attempt, args=(Path(victim.run_dir), killed))
    killer.start()
    outcomes = run_all(make(workers=2, max_retries=max_retries), tasks, limit_s=90.0)
    killer.join()
    assert killed, "the worker was never killed"
    return tasks, victim, outcomes


def test_a_killed_worker_is_retried_and_its_run_counted_once(ray_session, tmp_path):
    with executor_factory(RayExecutor, extra={"address": ray_session}) as make:
        tasks, victim, outcomes = _sweep_with_a_kill(make, tmp_path, max_retries=1)
    assert outcomes[victim.run_id].ok, outcomes[victim.run_id].error
    assert outcomes[victim.run_id].metrics["attempt"] == 2.0
    for task in tasks[1:]:
        assert outcomes[task.runs[0].run_id].metrics["attempt"] == 1.0


def test_a_killed_worker_without_retries_is_one_failed_outcome(ray_session, tmp_path):
    with executor_factory(RayExecutor, extra={"address": ray_session}) as make:
        tasks, victim, outcomes = _sweep_with_a_kill(make, tmp_path, max_retries=0)
    victim_outcome = outcomes[victim.run_id]
    assert (victim_outcome.ok, victim_outcome.error_kind) == (False, "worker_died")
    assert all(outcomes[t.runs[0].run_id].ok for t in tasks[1:])


# ---------------------------------------------------------------- Ray-specific behaviour


def test_a_worker_deaf_to_its_alarm_is_stopped_by_the_driver(ray_session, tmp_path):
    sweep = Sweep(tmp_path)
    task = sweep.task("hangs_deaf", timeout_s=1.0)
    extra = {"address": ray_session, "timeout_grace_s": 2.0}
    with executor_factory(RayExecutor, extra=extra) as make:
        outcome = run_all(make(), [task], limit_s=30.0)[task.runs[0].run_id]
    assert outcome.error_kind == "timeout"
    assert "killed by the driver" in outcome.error


SHIPPED_TRIAL = """
import os
from pathlib import Path

def where(params, seed, ctx):
    here = Path(__file__).resolve().parent
    return {"score": 1.0, "from_driver_plan_dir": float(here == Path(params["plan_dir"])),
            "from_given_plan_dir": float(here == Path(ctx.plan_dir).resolve()),
            "helper": float(__import__("shipped_helper").VALUE)}
"""


def test_shipping_runs_the_trial_from_an_uploaded_copy(ray_session, tmp_path):
    plan, lib = tmp_path / "plan", tmp_path / "lib"
    (plan / "runs").mkdir(parents=True)
    lib.mkdir()
    (plan / "shipped_trial.py").write_text(SHIPPED_TRIAL)  # module names no other test imports
    (lib / "shipped_helper.py").write_text("VALUE = 7\n")
    (plan / "runs" / "big.ckpt").write_bytes(b"\0" * 2**20)  # runs/ is never shipped
    sweep = Sweep(plan, plan_dir=plan)
    task = sweep.task("where", params={"plan_dir": str(plan)}, pythonpath=("../lib",))
    task = replace(task, trial=replace(task.trial, target="shipped_trial:where"))
    with executor_factory(RayExecutor, extra={"address": ray_session, "ship": True}) as make:
        outcome = run_all(make(), [task])[task.runs[0].run_id]
    shutil.rmtree(shipped_folder(_pack(task)))  # the worker is this machine
    assert outcome.ok, outcome.error
    assert outcome.metrics == {"score": 1.0, "from_driver_plan_dir": 0.0,
                               "from_given_plan_dir": 1.0, "helper": 7.0}
    assert Path(task.runs[0].run_dir).is_dir()  # the driver's plan folder is here: runs stay put


def test_asking_for_more_gpus_than_any_node_has_is_refused(ray_session):
    with pytest.raises(InputError, match="GPU"):
        RayExecutor(ExecutorOptions(gpus=0.5, extra={"address": ray_session}))


def test_an_executor_joins_the_cluster_by_itself(ray_head, tmp_path):
    """The path a user takes: no ray.init beforehand, `address` in the options."""
    script = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from executor_contract import Sweep, run_all
from exante.executors.base import ExecutorOptions
from exante.executors.ray import RayExecutor
from pathlib import Path
task = Sweep(Path({str(tmp_path)!r})).task("ok", (4,))
executor = RayExecutor(ExecutorOptions(extra={{"address": {ray_head!r}}}))
outcome = run_all(executor, [task])[task.runs[0].run_id]
executor.close()
print(json.dumps(outcome.to_dict()))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["ok"] and outcome["metrics"]["score"] == 8.0


# ---------------------------------------------------------------- without a cluster


def test_unknown_options_are_refused_before_ray_is_touched():
    with pytest.raises(InputError, match="adress"):
        RayExecutor(ExecutorOptions(extra={"adress": "127.0.0.1:1"}))


def test_shipped_code_unpacks_and_relocates_the_task(tmp_path):
    plan, lib = tmp_path / "plan", tmp_path / "lib"
    (plan / "runs" / "r0").mkdir(parents=True)
    (plan / "runs" / "r0" / "model.ckpt").write_text("big")
    (plan / "__pycache__").mkdir()
    lib.mkdir()
    (plan / "train.py").write_text("def f(p, s, c): return {}\n")
    (lib / "helper.py").write_text("X = 1\n")
    run = RunRequest("r1", "arm", "c", "main", 1, {}, str(plan / "runs" / "r1"))
    elsewhere = RunRequest("r2", "arm", "c", "main", 1, {}, "/scratch/r2")
    trial = TrialSpec(kind="python", target="train:f", pythonpath=("../lib",))
    task = Task("t", trial, (run, elsewhere), str(plan), ("score",))

    copy = _unpack(_pack(task))
    time.sleep(1.1)  # a later second: the archive must not change with the clock
    assert _unpack(_pack(task)) == copy  # unpacked once per content
    assert sorted(p.name for p in (copy / "plan").iterdir()) == ["train.py"]
    assert (copy / "path0" / "helper.py").read_text() == "X = 1\n"

    here = _relocate(task, copy)  # the driver's plan folder exists on this node: runs stay
    assert here.plan_dir == str(copy / "plan") and here.runs == task.runs
    assert here.trial.pythonpath == (str(copy / "path0"),)
    shutil.rmtree(plan)  # now as on a node without the driver's disk
    away = _relocate(task, copy)
    assert away.runs[0].run_dir == str(copy / "plan" / "runs" / "r1")
    assert away.runs[1].run_dir == "/scratch/r2"
    shutil.rmtree(copy)
