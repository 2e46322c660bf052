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
