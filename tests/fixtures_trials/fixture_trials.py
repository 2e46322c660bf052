"""Small trials the executor contract tests run; this folder is their plan folder.

Trials that the tests need to see running write a `started` file (holding
their pid) into their run folder first, so a test can wait for that instead of
guessing with sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time


def _started(ctx) -> int:
    pid = os.getpid()
    (ctx.run_dir / "started").write_text(str(pid))
    return pid


def ok(params, seed, ctx):
    return {"score": 2.0 * seed + params.get("offset", 0.0), "threads": float(ctx.threads)}


def raises(params, seed, ctx):
    raise ValueError(f"this trial always fails (seed {seed})")


def returns_nan(params, seed, ctx):
    return {"score": float("nan")}


def missing_metric(params, seed, ctx):
    return {"not_the_score": 1.0}


def sleeps(params, seed, ctx):
    _started(ctx)
    time.sleep(params.get("seconds", 1.0))
    return {"score": float(seed)}


def hangs(params, seed, ctx):
    _started(ctx)
    while True:
        time.sleep(1.0)


def hangs_deaf(params, seed, ctx):
    """Deadlocks in C with SIGALRM blocked: what a worker stuck in native code looks like.

    The alarm then goes to another thread and the main thread never returns to
    the interpreter to run its handler.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    _started(ctx)
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


def dies(params, seed, ctx):
    """The worker process vanishes mid-run, as after a segfault or the OOM killer."""
    _started(ctx)
    os._exit(3)


def attempts(params, seed, ctx):
    """Counts its attempts in the run folder; the first one sleeps `seconds` (to be killed)."""
    attempt = len(list(ctx.run_dir.glob("attempt.*"))) + 1
    info = {"pid": os.getpid(), "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    (ctx.run_dir / f"attempt.{attempt}").write_text(json.dumps(info))
    _started(ctx)
    time.sleep(params.get("seconds", 5.0) if attempt == 1 else 0.1)
    return {"score": float(seed), "attempt": float(attempt)}


def where(params, seed, ctx):
    """Reports where its code came from: the plan folder the driver named, or a shipped copy."""
    here = os.path.dirname(os.path.abspath(__file__))
    return {"score": 1.0, "from_driver_plan_dir": float(here == params["plan_dir"]),
            "from_worker_cwd": float(here == os.getcwd()), "plan_dir_is_cwd": float(str(ctx.plan_dir) == os.getcwd())}


def batched(runs, ctx):
    """A batched trial: one call for many runs, one result per run, in order."""
    return [{"score": 2.0 * run.seed, "batch_size": float(len(runs))} for run in runs]
