"""`threads=1`: each local worker's numpy BLAS uses one thread.

The local executor pins OMP/MKL/OpenBLAS threads per worker so that N workers
on N cores do not oversubscribe (executors/local.py). OpenBLAS reads those
variables once, when numpy is first loaded, so they must be in effect before
that happens in the worker.
"""

import os
import subprocess
import sys

import pytest

from runner_fixtures.harness import FIXTURES, terminal, write_plan

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
DESIGN = {"factors": {"a": [0, 1]}, "baseline": {"a": 0}, "seeds": [1]}


def _blas_threads(plan):
    metrics = terminal(plan)[0]["data"]["metrics"]
    if metrics["score"] < 0:
        pytest.skip("numpy here does not use OpenBLAS")
    assert metrics["omp_num_threads"] == 1  # the variable is set in the worker ...
    return metrics["score"]  # ... and this is what OpenBLAS actually uses


pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                reason="one CPU: one BLAS thread either way")


def test_driver_script_importing_numpy_still_gets_one_blas_thread_per_worker(tmp_path):
    plan = write_plan(tmp_path, "threads_driver",
                      trial={"python": "runner_trials:blas_threads"}, design=DESIGN)
    # as from a fresh shell: an inline run earlier in this process may have set these here
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    proc = subprocess.run([sys.executable, str(FIXTURES / "driver_numpy.py"), str(plan)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _blas_threads(plan) == 1
