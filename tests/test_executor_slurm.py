"""The Slurm executor against the shared contract, on a real Slurm and on submitit's fallback.

The real-Slurm tests need EXANTE_SLURM=1 inside the CI network namespace, where
scripts/cluster-up.sh runs a one-node Slurm (see tests/conftest_cluster.py);
they skip otherwise. The local-fallback suite and the option tests run anywhere.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

# The executor needs the exante[slurm] extra; without it every test here would fail on
# import, so the module skips and says why.
pytest.importorskip("submitit", reason="the Slurm executor needs submitit: "
                    "pip install 'exante[slurm]'")

from exante.errors import InputError  # noqa: E402
from exante.executors.base import ExecutorOptions  # noqa: E402
from exante.executors.slurm import SlurmExecutor, load_settings  # noqa: E402
from conftest_cluster import slurm_available  # noqa: E402
from executor_contract import (ExecutorContract, Sweep, executor_factory,  # noqa: E402
                               process_gone, run_all, wait_for_file)


@pytest.fixture(scope="module")
def slurm():
    slurm_available()


@pytest.mark.slurm
class TestSlurmExecutor(ExecutorContract):
    limit_s = 90.0
    many_tasks = 10  # one job each, a fresh Python per job: 20 would take half a minute

    @pytest.fixture
    def make(self, slurm, tmp_path):
        extra = {"folder": str(tmp_path / "slurm")}
        with executor_factory(SlurmExecutor, workers=2, extra=extra) as make:
            yield make

    def test_tasks_handed_together_go_as_one_array_capped_at_workers(self, make, sweep, tmp_path):
        executor = make(workers=3)
        tasks = [sweep.task("ok", (seed,)) for seed in (1, 2, 3, 4)]
        for task in tasks:
            executor.submit(task)
        executor.wait(timeout=0)  # hands the first `workers` tasks to Slurm
        job_ids = sorted(executor._jobs)
        assert len(job_ids) == 3 and len({j.split("_")[0] for j in job_ids}) == 1  # one array of 3
        script = next((tmp_path / "slurm").glob("**/*submission*.sh")).read_text()
        assert "#SBATCH --array=0-2%3" in script
        outcomes = []
        while executor.pending():
            outcomes.extend(executor.wait(timeout=60))
        assert sorted(o.run_id for o in outcomes) == sorted(t.runs[0].run_id for t in tasks)

    def test_a_preempted_job_is_requeued_and_its_run_counted_once(self, make, sweep):
        task = sweep.task("attempts", (5,), params={"seconds": 120.0})
        run_dir = Path(task.runs[0].run_dir)
        executor = make()
        executor.submit(task)
        executor.wait(timeout=0)
        first = json.loads(wait_for_file(run_dir / "attempt.1", self.limit_s))
        # what Slurm sends before preempting (and submitit's own test hook sends)
        subprocess.run(["scancel", "--signal=USR2", first["slurm_job_id"]], check=True)
        outcomes = []
        deadline = time.monotonic() + self.limit_s
        while executor.pending() and time.monotonic() < deadline:
            outcomes.extend(executor.wait(timeout=5))
        assert [o.run_id for o in outcomes] == [task.runs[0].run_id]
        assert outcomes[0].ok, outcomes[0].error
        assert outcomes[0].metrics["attempt"] == 2.0

    def test_a_job_cancelled_at_the_slurm_level_is_failed_with_the_reason(self, make, sweep):
        task = sweep.task("attempts", (6,), params={"seconds": 300.0})
        executor = make(max_retries=2)  # a cancelled job is not retried: someone meant it
        executor.submit(task)
        executor.wait(timeout=0)
        info = json.loads(wait_for_file(Path(task.runs[0].run_dir) / "attempt.1", self.limit_s))
        subprocess.run(["scancel", info["slurm_job_id"]], check=True)
        outcomes = []
        deadline = time.monotonic() + self.limit_s
        while executor.pending() and time.monotonic() < deadline:
            outcomes.extend(executor.wait(timeout=5))
        assert len(outcomes) == 1
        assert (outcomes[0].ok, outcomes[0].error_kind) == (False, "worker_died")
        assert "CANCELLED" in outcomes[0].error
        assert not (Path(task.runs[0].run_dir) / "attempt.2").exists()


class TestSubmititLocalFallback(ExecutorContract):
    """cluster: local — the same jobs through submitit's LocalExecutor, no Slurm needed."""

    limit_s = 90.0
    many_tasks = 10

    @pytest.fixture
    def make(self, tmp_path):
        extra = {"cluster": "local", "folder": str(tmp_path / "jobs")}
        with executor_factory(SlurmExecutor, workers=2, extra=extra) as make:
            yield make

    def test_a_job_whose_process_died_is_retried_up_to_max_retries(self, make, sweep):
        task = sweep.task("dies")
        outcome = run_all(make(max_retries=1), [task], self.limit_s)[task.runs[0].run_id]
        assert outcome.error_kind == "worker_died"
        assert "after 2 attempt(s)" in outcome.error

    def test_cancel_stops_jobs_even_when_sigint_is_ignored(self, make, sweep):
        """As under nohup or in a script's background job, where submitit's SIGINT does nothing."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the job processes inherit it
        try:
            executor = make()
            task = sweep.task("sleeps", params={"seconds": 300})
            executor.submit(task)
            executor.wait(timeout=0)
            pid = int(wait_for_file(Path(task.runs[0].run_dir) / "started", self.limit_s))
        finally:
            signal.signal(signal.SIGINT, previous)
        start = time.monotonic()
        executor.close(cancel=True)
        assert time.monotonic() - start < 5.0
        assert process_gone(pid, 5.0)


# ---------------------------------------------------------------- options, no cluster needed


def test_a_profile_file_gives_defaults_and_extra_wins(tmp_path):
    profile = tmp_path / "gpu.yaml"
    profile.write_text("partition: gpu\ntime_min: 90\ngpus_per_task: 1\n")
    settings = load_settings({"profile": str(profile), "time_min": 30})
    assert settings == {"partition": "gpu", "time_min": 30, "gpus_per_task": 1}
    as_json = tmp_path / "cpu.json"
    as_json.write_text(json.dumps({"partition": "cpu", "cpus_per_task": 4}))
    assert load_settings({"profile": str(as_json)}) == {"partition": "cpu", "cpus_per_task": 4}


@pytest.mark.parametrize("extra, message", [
    ({"partiton": "gpu"}, "unknown option"),
    ({"time_min": "soon"}, "time_min: expected a positive number"),
    ({"cpus_per_task": 1.5}, "cpus_per_task: expected a whole number"),
    ({"cluster": "k8s"}, "cluster: expected slurm, local or auto"),
    ({"profile": "/nonexistent/profile.yaml"}, "profile /nonexistent/profile.yaml"),
])
def test_bad_options_are_refused_with_the_key_named(extra, message):
    with pytest.raises(InputError, match=message):
        load_settings(extra)


def test_asking_for_slurm_where_there_is_none_names_the_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    with pytest.raises(InputError, match="cluster: local"):
        SlurmExecutor(ExecutorOptions())


@pytest.mark.parametrize("state, attempt, kind, retried", [
    ("NODE_FAIL", 0, None, True),          # a lost worker: submitted again
    ("NODE_FAIL", 1, "worker_died", False),  # ... until max_retries (1) is spent
    ("OUT_OF_MEMORY", 1, "worker_died", False),
    ("CANCELLED", 0, "worker_died", False),  # someone meant it: never retried
    ("TIMEOUT", 0, "timeout", False),        # Slurm's time limit
])
def test_a_job_that_ended_without_a_result_becomes_outcomes(tmp_path, state, attempt, kind,
                                                             retried):
    from types import SimpleNamespace

    from exante.executors.slurm import _Job

    executor = SlurmExecutor(ExecutorOptions(max_retries=1, extra={"cluster": "local"}))
    task = Sweep(tmp_path).task("ok", (1, 2))
    handle = SimpleNamespace(job_id="41_3", paths=SimpleNamespace(stderr=tmp_path / "41_3.err"))
    (tmp_path / "41_3.err").write_text("slurmstepd: error: Detected 1 oom_kill event\n")
    outcomes = executor._failed_job(_Job(task, handle, attempt, state=state, reason="None"))
    assert bool(executor._queue) == retried
    if not retried:
        assert [(o.run_id, o.error_kind) for o in outcomes] == [(r.run_id, kind) for r in task.runs]
        assert f"Slurm job 41_3 ended {state}" in outcomes[0].error
        assert "oom_kill" in outcomes[0].error  # the end of the job's error log
    executor.close()


def test_the_time_limit_follows_the_trial_timeout(tmp_path):
    sweep = Sweep(tmp_path)
    executor = SlurmExecutor(ExecutorOptions(workers=4, extra={"cluster": "local"}))
    executor._cluster = "slurm"  # only builds sbatch parameters; submits nothing
    timed = sweep.task("ok", (1, 2, 3), timeout_s=100.0)
    params = executor._parameters([timed])
    assert params["time"] == 7 and params["array_parallelism"] == 4  # ceil(300 s) + 2 min
    assert params["signal_delay_s"] == 90
    untimed = executor._parameters([timed, sweep.task("ok")])
    assert untimed["time"] == 24 * 60
    executor._settings = load_settings({"partition": "gpu", "mem_gb": 1.5, "gpus_per_task": 1})
    params = executor._parameters([timed])
    assert (params["partition"], params["mem"], params["gpus_per_task"]) == ("gpu", "1536MB", 1)
    executor.close()
