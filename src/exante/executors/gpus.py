"""Which GPU each local worker sees: one `CUDA_VISIBLE_DEVICES` value per worker slot.

`exante run --gpus 0,1` (or ``--gpus auto``: what ``nvidia-smi -L`` lists, else
the driver's own ``CUDA_VISIBLE_DEVICES``) names the devices; the plan's
``trial.resources.gpus`` is each run's share of one:

- ``0.25`` packs four workers on every device (slots 0,1,0,1,0,1,0,1 for two
  devices: round-robin, so a sweep with fewer runs than slots still spreads);
- ``1`` (or no share given) gives each worker a device of its own;
- ``2`` gives each worker two devices (``"0,1"``), as many such groups as fit.

A worker claims its slot when it starts, before any trial code (torch)
runs, so CUDA only ever sees the device(s) of that slot; a worker that
replaces a dead one takes the dead one's slot.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess

from ..errors import InputError


def parse(spec: str | None) -> list[str]:
    """Device ids from ``--gpus``: "0,1" -> ["0", "1"]; "auto" -> `detect()`; None -> []."""
    if spec is None or not str(spec).strip():
        return []
    if str(spec).strip().lower() == "auto":
        return detect()
    devices = [d.strip() for d in str(spec).split(",") if d.strip()]
    for d in devices:
        if not (d.isdigit() or d.startswith(("GPU-", "MIG-"))):
            raise InputError(f"--gpus {spec}: expected device indexes like 0,1 (or GPU-/MIG- "
                             f"UUIDs, or auto), got {d!r}")
    if len(set(devices)) != len(devices):
        raise InputError(f"--gpus {spec}: a device is named twice")
    return devices


def detect() -> list[str]:
    """This machine's GPUs: ``nvidia-smi -L`` indexes, else the inherited CUDA_VISIBLE_DEVICES."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                 timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        found = [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
        if found:
            inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
            return parse(inherited) if inherited else found
    inherited = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d for d in parse(inherited) if d != "-1"] if inherited else []


def slots(devices: list[str], share: float) -> list[str]:
    """One CUDA_VISIBLE_DEVICES value per worker for runs that each need `share` GPUs."""
    if not devices:
        return []
    if share <= 0 or share == 1:
        return list(devices)
    if share < 1:
        per_device = max(1, math.floor(1 / share + 1e-9))
        return [d for _ in range(per_device) for d in devices]
    width = math.ceil(share - 1e-9)
    if width > len(devices):
        raise InputError(f"trial.resources.gpus: {share:g} GPUs per run, but only "
                         f"{len(devices)} device(s) were given ({','.join(devices)})")
    return [",".join(devices[i:i + width]) for i in range(0, len(devices) - width + 1, width)]


def claim(table, values: list[str]) -> str:
    """In a starting worker: take a free slot of the shared pid `table` and expose its
    device(s) to this process. A slot is free when unclaimed or its worker is gone."""
    pid = os.getpid()
    with table.get_lock():
        index = next((i for i, owner in enumerate(table)
                      if owner == 0 or not process_alive(owner)), pid % len(values))
        table[index] = pid
    os.environ["CUDA_VISIBLE_DEVICES"] = values[index]
    return values[index]


def process_alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie is not); also `exante status`'s check."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) or dead process no longer holds its device
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True
