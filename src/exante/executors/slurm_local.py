"""submitit local jobs (the Slurm executor's `cluster: local`): their state, and killing them."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any


def local_state(handle: Any) -> tuple[str, str]:
    """(state, reason) of a local job, as `squeue` would say it: running, or failed."""
    state = handle.get_info().get("jobState", "UNKNOWN")
    if state == "RUNNING":
        return "RUNNING", ""
    return "FAILED", f"local job {state.lower()}"  # finished but wrote no result: it died


def kill_local_job(handle: Any) -> None:
    """Kill a submitit local job: its controller and every process below it, by pid.

    submitit's own cancel sends SIGINT, which does nothing when this process was
    started with SIGINT ignored (nohup, a background job of a script), and which
    a command trial in its own session would not get anyway.
    """
    process = getattr(handle, "_process", None)
    if process is None or not Path("/proc").is_dir():
        handle.cancel(check=False)
        return
    for pid in [process.pid, *descendants(process.pid)]:  # all collected before any dies
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def descendants(root: int) -> list[int]:
    """Every process below `root`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
