"""GPU assignment for local workers, checked without a GPU: the environment each worker gets.

`--gpus 0,1` gives every worker its slot's device through CUDA_VISIBLE_DEVICES
before any trial code runs; `trial.resources.gpus: 0.25` packs four workers on
each device. The trial below reports what its process saw, and the ledger keeps
it (env.cuda_visible_devices), so the test reads the assignment back from the
record as an auditor would.
"""

from __future__ import annotations

import collections

import pytest

from exante import ledger as L
from exante import registration
from exante.errors import InputError
from exante.executors import gpus
from exante.runner import RunOptions, run

TRIAL = '''
import os, time


def seen(params, seed, ctx):
    time.sleep(0.3)  # long enough that every worker takes some runs
    return {"score": float(seed), "device": float(os.environ["CUDA_VISIBLE_DEVICES"]),
            "pid": float(os.getpid())}
'''


def _plan(tmp_path, share: str | None):
    folder = tmp_path / "gpu"
    folder.mkdir()
    (folder / "gpu_trial.py").write_text(TRIAL)
    resources = f"  resources: {{gpus: {share}}}\n" if share else ""
    (folder / "prereg.yaml").write_text(
        "experiment_id: gpu\nhypothesis: devices are assigned per worker\n"
        "metrics:\n  primary: {name: score, direction: higher}\n"
        "design:\n  arms: {b: {x: 1}}\n  baseline: {x: 0}\n  seeds: [1, 2, 3, 4, 5, 6, 7, 8]\n"
        "trial:\n  python: gpu_trial:seen\n" + resources
        + "decision: {rule: threshold, acceptance: \"experiment.mean > baseline.mean\"}\n"
        'sha256: ""\n')
    registration.lock(folder / "prereg.yaml")
    return folder / "prereg.yaml"


def _oks(plan):
    return [r["data"] for r in L.Ledger(plan.parent / "ledger.jsonl").records()
            if r["event"] == L.RUN_OK]


def test_slots_pack_a_quarter_share_four_to_a_device_round_robin():
    assert gpus.slots(["0", "1"], 0.25) == ["0", "1"] * 4
    assert gpus.slots(["0", "1"], 0.0) == ["0", "1"] == gpus.slots(["0", "1"], 1)
    assert gpus.slots(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert gpus.slots(["3"], 0.3) == ["3", "3", "3"]
    assert gpus.slots([], 0.25) == []
    with pytest.raises(InputError, match="2 GPUs per run, but only 1 device"):
        gpus.slots(["0"], 2)


def test_parse_names_bad_ids_and_auto_reads_the_inherited_devices(monkeypatch):
    assert gpus.parse("0, 1") == ["0", "1"] and gpus.parse(None) == []
    with pytest.raises(InputError, match="--gpus 0,x: expected device indexes"):
        gpus.parse("0,x")
    with pytest.raises(InputError, match="named twice"):
        gpus.parse("1,1")
    monkeypatch.setattr(gpus.shutil, "which", lambda name: None)  # no nvidia-smi here
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert gpus.parse("auto") == ["2", "3"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpus.parse("auto") == []


def test_each_worker_sees_one_device_and_a_quarter_share_packs_four_per_device(tmp_path):
    plan = _plan(tmp_path, "0.25")
    report = run(plan, RunOptions(executor="local", workers=8, extra={"gpus": "0,1"}))
    assert report.failed == 0 and report.ran == 16

    oks = _oks(plan)
    by_pid = collections.defaultdict(set)
    for d in oks:
        by_pid[d["metrics"]["pid"]].add(d["metrics"]["device"])
        assert d["env"]["cuda_visible_devices"] == str(int(d["metrics"]["device"]))
    assert all(len(devices) == 1 for devices in by_pid.values())  # a worker keeps its device
    per_device = collections.Counter(next(iter(v)) for v in by_pid.values())
    assert set(per_device) <= {0.0, 1.0} and max(per_device.values()) <= 4
    assert len(by_pid) > 2  # more than one worker per device actually ran


def test_without_a_share_workers_get_a_device_each_and_no_more_workers_than_devices(tmp_path):
    plan = _plan(tmp_path, None)
    report = run(plan, RunOptions(executor="local", workers=2,
                                  extra={"gpus": "5,7", "workers_from_gpus": True}))
    assert report.failed == 0
    by_pid = collections.defaultdict(set)
    for d in _oks(plan):
        by_pid[d["metrics"]["pid"]].add(d["metrics"]["device"])
    assert len(by_pid) == 2  # one worker per device, not the CPU count
    assert all(len(devices) == 1 for devices in by_pid.values())
    assert set().union(*by_pid.values()) == {5.0, 7.0}  # one on each


def test_the_cli_refuses_gpus_for_another_executor(tmp_path, cli):
    plan = _plan(tmp_path, "0.5")
    result = cli("run", plan, "--executor", "inline", "--gpus", "0")
    assert result.exit_code == 2
    assert "--gpus assigns devices to local workers" in result.output
