"""The local process-pool executor against the shared executor contract."""

import pytest

from exante.executors.local import LocalExecutor
from executor_contract import ExecutorContract, executor_factory


class TestLocalExecutor(ExecutorContract):
    @pytest.fixture
    def make(self):
        with executor_factory(LocalExecutor, workers=2) as make:
            yield make


def test_a_script_that_starts_a_sweep_without_a_main_guard_is_told_why_and_loses_nothing(
        make_plan, tmp_path):
    """Each forkserver worker imports the main module again; an unguarded `exante.run` there
    used to end the sweep with pebble's bare "Unexpected error within the Pool"."""
    import subprocess
    import sys

    import exante
    from exante.ledger import Ledger

    plan = make_plan()
    exante.lock(plan)
    script = tmp_path / "sweep.py"
    script.write_text("import sys, exante\n"
                      f"exante.run({str(plan)!r}, executor='local', workers=2)\n"
                      "print('SWEPT')\n", encoding="utf-8")
    env = {**__import__("os").environ, "PYTHONPATH": str(plan.parent)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode != 0 and "SWEPT" not in done.stdout
    assert 'if __name__ == "__main__":' in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("exante.errors.ExanteError: the local executor's worker processes "
                           "failed to start")

    events = [r["event"] for r in Ledger(plan.parent / "ledger.jsonl").scan(full=True).records]
    assert "RUN_OK" not in events and "RUN_FAILED" not in events, events  # nothing charged
    script.write_text("import exante\n"
                      "if __name__ == '__main__':\n"
                      f"    r = exante.run({str(plan)!r}, executor='local', workers=2); print('ok', r.ok)\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok 6", done.stderr  # all six, none lost


HIDE = '''from pathlib import Path


class _Key(str):
    """A metric name whose pickle the driver cannot load (TypeError on unpickling)."""

    def __str__(self):
        return self

    def __reduce__(self):
        return (int, ([],))


def train(params, seed, ctx):
    tries = Path(ctx.run_dir) / "tries"
    tries.write_text(str(int(tries.read_text()) + 1 if tries.exists() else 1))
    if params.get("x") == 1 and seed == 2:
        return {_Key("score"): -100.0}  # a bad result it would rather not see recorded
    return {"score": float(params.get("x", 0)) + 0.01 * seed}
'''


def test_a_trial_cannot_break_the_pool_to_hide_its_result_and_run_again(make_plan):
    """A str subclass with its own __reduce__ as a metric name made the driver's unpickler fail,
    pebble then aborted every task as BrokenProcessPool, and the runs went uncharged and were
    run again. Metric names and values are now plain str and float before they leave the
    worker: the bad result is recorded once, like any other."""
    import exante
    from exante.ledger import Ledger

    plan = make_plan()
    next(plan.parent.glob("trial_*.py")).write_text(HIDE, encoding="utf-8")
    exante.lock(plan)
    report = exante.run(plan, executor="local", workers=2)
    assert report.ok == 6 and report.failed == 0
    records = Ledger(plan.parent / "ledger.jsonl").records()
    ok = {r["data"]["run_id"]: r["data"]["metrics"]["score"] for r in records
          if r["event"] == "RUN_OK"}
    assert ok["arm__treated__s2"] == -100.0
    assert (plan.parent / "runs" / "arm__treated__s2" / "tries").read_text() == "1"
    assert exante.run(plan, executor="local", workers=2).ran == 0  # nothing to run again


@pytest.mark.parametrize("message, charged", [("All workers expired", False),
                                              ("Unpicklable object from worker", True),
                                              ("", True)])
def test_only_a_pool_broken_before_any_task_began_goes_uncharged(message, charged):
    """pebble says "All workers expired" only when no task was running; any other broken pool
    (a reply the driver could not unpickle, a broken pipe) aborts running tasks too."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    from types import SimpleNamespace

    from exante.executors.local import _collect, _PoolFailed

    future: cf.Future = cf.Future()  # finished as pebble finishes the tasks it aborts
    future.set_exception(BrokenProcessPool(message) if message else BrokenProcessPool())
    task = SimpleNamespace(runs=[SimpleNamespace(run_id="a__b__s1")])  # what _collect reads
    if charged:
        [outcome] = _collect(future, task)
        assert outcome.ok is False and outcome.error_kind == "worker_died"
    else:
        with pytest.raises(_PoolFailed):
            _collect(future, task)
