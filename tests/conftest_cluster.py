"""Fixtures for the tests that need a real cluster: a Ray head, a Slurm controller.

CI runs `scripts/cluster-up.sh` (a network namespace with a one-node Slurm in
it) and then pytest through `scripts/cluster-run.sh`, which enters that
namespace and sets EXANTE_RAY=1 and EXANTE_SLURM=1. Without those variables
the cluster tests skip and say how to run them, so a plain `pytest` passes on a
laptop. With a variable set outside the namespace they fail instead: a Ray
head started there would bind the machine's outside address.

The Ray head is started here, once per test module, inside the namespace, and
stopped by pid: `ray start --block` is its own session leader, so every Ray
process it spawned (workers included) carries its session id. `ray stop` is
not used, because it kills every Ray process on the machine by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

NAMESPACE = os.environ.get("EXANTE_NS", "exante-ci")
HOW_TO = ("sudo scripts/cluster-up.sh [--install] && sudo scripts/cluster-run.sh "
          f"{Path(sys.executable).name} -m pytest ...")


def in_namespace(name: str = NAMESPACE) -> bool:
    """Whether this process runs inside the network namespace `name`."""
    try:
        ours = os.stat("/proc/self/ns/net")
        theirs = os.stat(f"/var/run/netns/{name}")
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def require_cluster(variable: str, what: str) -> None:
    """Skip unless `variable`=1; fail if it is set but this process is outside the namespace."""
    if os.environ.get(variable) != "1":
        pytest.skip(f"{what} needs {variable}=1 inside network namespace {NAMESPACE}: {HOW_TO}")
    if not in_namespace():
        pytest.fail(f"{variable}=1 but this process is not in network namespace {NAMESPACE}; "
                    f"refusing to start cluster daemons on the machine's own network ({HOW_TO})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ray start exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the Ray head did not open port {port} within {limit_s} s")


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _stop_head(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # `ray start --block` then stops what it started
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    for pid in _session_pids(proc.pid):  # whatever is left of that session, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


@pytest.fixture(scope="module")
def ray_head():
    """Address ("127.0.0.1:PORT") of a 2-CPU Ray head started for this module, then stopped."""
    require_cluster("EXANTE_RAY", "this Ray test")
    port = _free_port()
    temp_dir = Path(tempfile.mkdtemp(prefix="exr-", dir="/tmp"))  # short: it holds unix sockets
    log = temp_dir / "head.log"
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
               "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
               "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", "--block"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        _wait_for_port(port, proc, log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_head(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_session(ray_head):
    """This test process joined to `ray_head` (executors built on it reuse the connection)."""
    import ray

    ray.init(address=ray_head, log_to_driver=False)
    try:
        yield ray_head
    finally:
        ray.shutdown()


def slurm_available() -> None:
    """Skip/fail like `require_cluster`, and check the controller answers."""
    require_cluster("EXANTE_SLURM", "this Slurm test")
    if shutil.which("sbatch") is None:
        pytest.fail("EXANTE_SLURM=1 but sbatch is not installed (scripts/cluster-up.sh --install)")
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"Slurm does not answer in namespace {NAMESPACE}: "
                    f"{result.stderr or result.stdout}")
