"""Trials the runner acceptance tests register in their plans (via `trial.pythonpath`).

Every trial is deterministic in what it returns, so a test can predict each
run's metric from its parameters and seed; only `sleepy` sleeps a random time.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path

# Seed 003's seeds, with a fixed "run-to-run noise" each: sample SD about 0.014.
NOISE = {42: 0.010, 137: -0.020, 256: 0.015, 512: -0.005, 1024: 0.0}


def score(params, seed) -> float:
    """What `sleepy`, `modes`, `single` and `batched` return as their primary metric."""
    return float(seed) + 10.0 * float(params.get("a", 0)) + 0.5 * float(params.get("b", 0))


def sleepy(params, seed, ctx):
    """Sleeps a random few tens of milliseconds, like a tiny training job."""
    time.sleep(random.uniform(params.get("low_s", 0.01), params.get("high_s", 0.05)))
    return {"score": score(params, seed)}


def modes(params, seed, ctx):
    """Behaves as `params["mode"]` says: ok, raise, exit, hang, nan, missing."""
    mode = params["mode"]
    if mode == "raise":
        raise RuntimeError(f"loss diverged at step 7 (seed {seed})")
    if mode == "exit":
        os._exit(13)  # the worker vanishes, as after a segfault or the OOM killer
    if mode == "hang":
        while True:
            time.sleep(0.5)
    if mode == "nan":
        return {"score": float("nan")}
    if mode == "missing":
        return {"accuracy": 1.0}
    return {"score": score(params, seed)}


def level(params, seed, ctx):
    """Seed 003's trial: val_loss = the cell's level + the seed's fixed noise."""
    return {"val_loss": float(params["level"]) + NOISE.get(seed, 0.0)}


def waits(params, seed, ctx):
    """Writes `started`, then waits until the file named by params["release"] exists."""
    (ctx.run_dir / "started").write_text(str(os.getpid()))
    release = Path(params["release"])
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"score": score(params, seed)}


def single(params, seed, ctx):
    """One run at a time: the reference the batched trial must agree with."""
    return {"score": score(params, seed), "batch_size": 1.0}


def batched(runs, ctx):
    """A batched trial: one call for many runs; logs each call's members to the plan folder."""
    calls = Path(ctx.plan_dir) / "batches"
    calls.mkdir(exist_ok=True)
    members = [{"run_id": r.run_id, "params": dict(r.params), "seed": r.seed} for r in runs]
    (calls / f"{uuid.uuid4().hex}.json").write_text(json.dumps(members))
    return [{"score": score(r.params, r.seed), "batch_size": float(len(runs))} for r in runs]


def blas_threads(params, seed, ctx):
    """How many threads numpy's OpenBLAS uses in this worker (-1 when it is not OpenBLAS)."""
    import ctypes

    import numpy  # noqa: F401  (loads the BLAS library if nothing did yet)

    with open("/proc/self/maps", encoding="ascii", errors="replace") as fh:
        libs = sorted({line.split()[-1] for line in fh
                       if "openblas" in line.lower() and line.split()[-1].startswith("/")})
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return {"score": float(getattr(lib, name)()),
                        "omp_num_threads": float(os.environ.get("OMP_NUM_THREADS", "-1"))}
    return {"score": -1.0}
