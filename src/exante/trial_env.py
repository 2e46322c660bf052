"""Where a run ran: the worker's environment, its peak memory, its thread pinning, git.

What every run record carries besides its metrics (python and key package
versions, host, CPU, the GPU(s) a worker saw, peak RSS per run), the
intra-op thread pinning a worker applies before a trial, and the plan
repository's git commit and dirty flag that a sweep records once.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

_ENV_CACHE: dict[str, Any] | None = None
_KEY_PACKAGES = ("exante", "numpy", "scipy", "torch", "mnist1d", "ray", "submitit")


def worker_environment() -> dict[str, Any]:
    """Python, key package versions, host and CPU of this worker (computed once per process)."""
    global _ENV_CACHE
    if _ENV_CACHE is None:
        from importlib import metadata

        versions = {}
        for name in _KEY_PACKAGES:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                pass
        _ENV_CACHE = {
            "python": platform.python_version(),
            "packages": versions,
            "host": socket.gethostname(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(terse=True),
        }
        if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:  # the GPU(s) this worker saw
            _ENV_CACHE["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    # plain JSON data, a copy: a trial that reaches the cache cannot put objects in a record
    return json.loads(json.dumps(_ENV_CACHE, default=str))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so a reused worker
    # reports each run's own peak rather than the worker's lifetime peak.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_THREADS_SET: tuple[int, frozenset[str]] | None = None


def set_threads(threads: int) -> None:
    """Pin intra-op threads in this worker (env for OpenMP/MKL, torch, loaded BLAS pools).

    Cheap after the first call: it acts again only when `threads` or the set of
    loaded numerical libraries changed.
    """
    global _THREADS_SET
    state = (threads, frozenset(m for m in ("torch", "numpy") if m in sys.modules))
    if state == _THREADS_SET:
        return
    _THREADS_SET = state
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    # BLAS pools already loaded (numpy imported by a worker's __main__ before this ran)
    # sized themselves from the CPU count; the env vars above come too late for them.
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


def git_state(folder: Path) -> dict[str, Any]:
    """The git commit and dirty flag of the plan's repository (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty) if commit else None}
