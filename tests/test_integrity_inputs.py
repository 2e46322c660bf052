"""Fault injection: bad input and a hostile environment give one clear line (issue 18, item 6).

Deep YAML nesting, 4,300-digit integers, a rule whose nested comprehensions would
take minutes, a full disk (a real 512 KiB tmpfs), a read-only registry and missing
files: each ends in one line naming the path and what to do, exit 2 (input) or 1
(environment / refused), no traceback, and the ledger's chain still verifies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import invoke, make_experiment  # noqa: E402

from exante import ledger as L  # noqa: E402


def one_line(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture
def plan(make_plan):
    return make_plan("inputs")


@pytest.mark.parametrize("extra", [
    "notes: " + "[" * 5000 + "]" * 5000,
    "notes: " + "{a: " * 3000 + "1" + "}" * 3000,
    "notes: " + "9" * 4301,
    "notes: -" + "1" * 4400,
])
def test_deep_nesting_and_huge_integers_are_one_input_error(plan, extra):
    plan.write_text(plan.read_text().replace('sha256: ""', extra + '\nsha256: ""'))
    line = one_line(invoke("lock", plan), 2)
    assert str(plan) in line


def test_a_huge_integer_seed_is_one_input_error(plan):
    plan.write_text(plan.read_text().replace("- 3\n", f"- {'7' * 4400}\n"))
    assert "7" * 100 in plan.read_text()
    assert str(plan) in one_line(invoke("lock", plan), 2)


def test_a_rule_with_nested_comprehensions_hits_the_work_limit_at_lock(plan):
    zeros = "[" + ",".join(["0"] * 60) + "]"
    rule = (f"experiment.mean > sum([sum([sum([sum([1 for a in {zeros}]) for b in {zeros}]) "
            f"for c in {zeros}]) for d in {zeros}])")
    text = plan.read_text().replace("experiment.mean > baseline.mean", rule)
    plan.write_text(text)
    start = time.monotonic()
    line = one_line(invoke("lock", plan), 2)
    assert time.monotonic() - start < 10
    assert "work limit" in line and "decision.acceptance" in line


def test_missing_files_are_one_line(tmp_path):
    assert "no such" in one_line(invoke("decide", tmp_path / "nope" / "prereg.yaml"), 2)
    assert "no such" in one_line(invoke("audit", tmp_path / "nope"), 2)


def test_a_trial_module_removed_after_the_lock_is_refused(plan):
    assert invoke("lock", plan).exit_code == 0
    next(plan.parent.glob("trial_*.py")).unlink()
    line = one_line(invoke("run", plan, "--executor", "inline", "--quiet"), 2)
    assert "trial" in line


# ---------------------------------------------------------------- a real small file system


def _mount(where: Path, *options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=512k", *options)),
                           "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not root'})")


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    where = tmp_path / "small"
    _mount(where)
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _registry_on(fs: Path) -> tuple[Path, Path]:
    root = fs / "experiments"
    plan = make_experiment(root / "exp", "exp", "lr helps", run=False)
    code = invoke("run", plan, "--executor", "inline", "--quiet", "--max-runs", "2")
    assert code.exit_code == 0, code.output
    return root, plan


def _fill(fs: Path) -> None:
    fd = os.open(fs / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)


def _chain_intact(plan: Path) -> int:
    return len(L.Ledger(plan.parent / "ledger.jsonl").records(verify=True))


def test_a_full_disk_is_one_line_and_the_ledger_stays_intact(small_fs):
    root, plan = _registry_on(small_fs)
    before = _chain_intact(plan)
    _fill(small_fs)
    for args in (("run", plan, "--executor", "inline", "--quiet"),
                 ("decide", plan, "--interim"), ("rollup", root)):
        line = one_line(invoke(*args), 1)
        assert "disk is full" in line and str(small_fs) in line, (args, line)
    assert _chain_intact(plan) >= before
    assert not (plan.parent / "result.json").exists()  # never half a result
    (small_fs / "filler").unlink()
    assert invoke("run", plan, "--executor", "inline", "--quiet").exit_code == 0  # resumes
    assert invoke("decide", plan).exit_code == 0
    _fill(small_fs)
    assert "disk is full" in one_line(invoke("report", plan, "--root", root), 1)


def test_a_read_only_registry_is_one_line(small_fs):
    root, plan = _registry_on(small_fs)
    before = _chain_intact(plan)
    proc = subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot remount read-only")
    for args in (("run", plan, "--executor", "inline", "--quiet"),
                 ("decide", plan, "--interim"), ("rollup", root), ("lock", plan)):
        result = invoke(*args)
        if args[0] == "lock":  # already locked: nothing to write, so it may say so
            assert result.exit_code in (0, 1) and "Traceback" not in result.output
            continue
        line = one_line(result, 1)
        assert "read-only" in line, (args, line)
    assert _chain_intact(plan) == before
