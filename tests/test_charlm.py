"""End-to-end tests of the example trainer examples/charlm/train_llm.py.

The script is run exactly as exante runs it: a real subprocess, argv list, no shell,
its stdout parsed with the documented regex. Tiny token budgets keep this file fast.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.torch,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch"),
]

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "charlm" / "train_llm.py"
STEP_RE = re.compile(r"Step \d+ \| val_loss: ([0-9.]+)")
# Small but real: 20 optimisation steps, evaluated every 5 on a reduced val sample.
FAST = ["--train_tokens", "20000", "--eval_interval", "5", "--eval_tokens", "4096"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=timeout)


def val_losses(stdout: str) -> list[float]:
    return [float(m) for m in STEP_RE.findall(stdout)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny trainings (seed 42 twice, seed 43 once), started concurrently.

    Most of each run's wall time is importing torch, so overlapping them keeps this
    file fast even on a small, busy machine. Returns {name: (returncode, stdout,
    stderr, output_dir)}.
    """
    seeds = {"a": "42", "b": "42", "c": "43"}
    procs = {}
    for name, seed in seeds.items():
        out = tmp_path_factory.mktemp(f"run_{name}")
        cmd = [sys.executable, str(SCRIPT), *FAST, "--seed", seed, "--output_dir", str(out)]
        procs[name] = (subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True), out)
    results = {}
    for name, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        results[name] = (proc.returncode, stdout, stderr, out)
    for name, (rc, _, stderr, _) in results.items():
        assert rc == 0, f"run {name} failed:\n{stderr}"
    return results


def test_prints_step_lines_and_writes_outputs(runs):
    _, stdout, _, out = runs["a"]
    losses = val_losses(stdout)
    # evals at steps 5, 10, 15 and the final one at step 20
    assert len(losses) == 4, stdout
    assert re.search(r"^Step 20 \| val_loss: [0-9.]+ \| train_loss: [0-9.]+ \| tokens: \d+ "
                     r"\| elapsed: [0-9.]+s$", stdout, re.M), stdout
    assert re.search(r"sha256 [0-9a-f]{64}", stdout)
    assert losses[-1] < losses[0]  # it learns something even in 20 steps

    assert (out / "ckpt.pt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_loss"] == losses[-1]
    assert metrics["tokens"] >= 20000
    for key in ("train_loss", "wall_time"):
        assert metrics[key] > 0


def test_same_seed_reproduces_exactly(runs):
    (_, out_a, _, dir_a), (_, out_b, _, dir_b) = runs["a"], runs["b"]
    assert val_losses(out_a) == val_losses(out_b)
    first = json.loads((dir_a / "metrics.json").read_text())
    second = json.loads((dir_b / "metrics.json").read_text())
    assert first["val_loss_full"] == second["val_loss_full"]  # bit-identical, not just to 4 dp


def test_different_seed_differs(runs):
    assert val_losses(runs["c"][1])[-1] != val_losses(runs["a"][1])[-1]


@pytest.mark.parametrize("args, message", [
    (["--norm", "batchnorm"], "invalid choice"),
    (["--n_embd", "30", "--n_head", "4"], "divisible"),
    (["--train_tokens", "0"], "--train_tokens must be >= 1"),
])
def test_bad_args_exit_nonzero_with_message(args, message):
    proc = run(*args, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not STEP_RE.search(proc.stdout)


def test_corpus_too_small_is_a_clear_error(tmp_path):
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("hello world\n" * 20)
    proc = run("--corpus", str(tiny), "--train_tokens", "1000", timeout=60)
    assert proc.returncode != 0
    assert "corpus too small" in proc.stderr
