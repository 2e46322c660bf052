"""Fault injection: rewriting the record outside the ledger's own chain (issue 18, items 4-5).

Each attack keeps every remaining ledger line intact, so the hash chain alone
cannot see it: trailing lines cut, result.json edited, ledger deleted and the
plan re-locked, a committed ledger shortened in the working copy. The anchor
log (experiments/.exante/anchors.jsonl), the DECIDED record and git do.
A kill followed by an amendment opens a DEVIATED attempt whose headline keeps
the kill.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import git, invoke, make_experiment  # noqa: E402

from exante import anchors  # noqa: E402
from exante.registry import audit, build_catalogue  # noqa: E402
from runner_fixtures.harness import cli, write_plan  # noqa: E402


def row(rows, experiment, check):
    found = [r for r in rows if r.experiment == experiment and r.check == check]
    assert len(found) == 1, (check, rows)
    return found[0]


@pytest.fixture
def decided(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "experiments"
    return root, make_experiment(root / "exp", "exp", "lr helps")


def test_every_anchored_event_reaches_the_anchor_log(decided):
    root, plan = decided
    found, error = anchors.read(root)
    assert error is None
    assert [a["event"] for a in found] == ["LOCKED", "SWEEP_FINISHED", "DECIDED"]
    assert row(audit(root), "exp", "anchors").status == "ok"


def test_cutting_trailing_ledger_lines_fails_the_audit(decided):
    root, plan = decided
    ledger = plan.parent / "ledger.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text("".join(lines[:-3]))  # the DECIDED and the sweep's last records
    r = row(audit(root), "exp", "anchors")
    assert r.status == "FAIL" and "trailing records were cut" in r.detail
    assert invoke("audit", root).exit_code == 1


def test_a_hand_edited_verdict_in_result_json_fails_the_audit(decided):
    root, plan = decided
    path = plan.parent / "result.json"
    result = json.loads(path.read_text())
    assert result["verdict"] == "PASS"
    path.write_text(json.dumps({**result, "verdict": "FAIL"}, indent=2))
    r = row(audit(root), "exp", "result-record")
    assert r.status == "FAIL" and "edited by hand" in r.detail


def _delete_history(plan: Path) -> None:
    for name in ("ledger.jsonl", "result.json"):
        (plan.parent / name).unlink()
    for extra in plan.parent.glob("ledger.jsonl*"):
        extra.unlink()
    shutil.rmtree(plan.parent / "runs")
    plan.write_text(re.sub(r'sha256: "[0-9a-f]{64}"', 'sha256: ""', plan.read_text()))


def _relock_from_scratch(plan: Path) -> None:
    """Delete the history and re-lock as a tool without the anchor check would (`lock` refuses)."""
    from exante import ledger as L
    from exante import seal

    _delete_history(plan)
    digest = seal.lock(plan)
    L.Ledger(plan.parent / "ledger.jsonl").append(L.LOCKED, {"plan_sha256": digest,
                                                             "experiment_id": "exp"})


def test_lock_refuses_a_fresh_start_where_a_history_was_anchored(decided):
    root, plan = decided
    _delete_history(plan)
    result = invoke("lock", plan)
    assert result.exit_code == 1 and "refusing to lock it afresh" in result.stderr
    assert not (plan.parent / "ledger.jsonl").exists()


def test_run_refuses_a_ledger_cut_before_its_anchored_head(tmp_path):
    root = tmp_path / "experiments"
    plan = make_experiment(root / "cut", "cut", "lr helps", decide=False)
    ledger = plan.parent / "ledger.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text("".join(lines[:-2]))  # the last RUN_OK and SWEEP_FINISHED
    result = invoke("run", plan, "--executor", "inline", "--quiet")
    assert result.exit_code == 1 and "trailing records were cut" in result.stderr


def test_deleting_the_history_and_relocking_fails_the_audit(decided):
    root, plan = decided
    _relock_from_scratch(plan)
    r = row(audit(root), "exp", "anchors")
    assert r.status == "FAIL" and "replaced" in r.detail


def test_a_whole_experiment_folder_deleted_fails_the_audit(decided, tmp_path):
    root, plan = decided
    make_experiment(root / "other", "other", "lr helps too")
    shutil.rmtree(plan.parent)
    r = row(audit(root), "exp", "anchors")
    assert r.status == "FAIL" and "gone" in r.detail


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


def test_records_committed_to_git_and_lost_in_the_working_copy_fail(repo):
    root = repo / "experiments"
    plan = make_experiment(root / "exp", "exp", "lr helps")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "lock and results")
    _relock_from_scratch(plan)
    shutil.rmtree(root / ".exante")  # the anchors go too: git still knows
    r = row(audit(root), "exp", "git-history")
    assert r.status == "FAIL" and "lost or replaced" in r.detail


def test_lock_and_results_in_one_commit_say_order_cannot_be_shown(repo):
    root = repo / "experiments"
    make_experiment(root / "exp", "exp", "lr helps")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "everything at once")
    r = row(audit(root), "exp", "git-order")
    assert r.status == "warn" and "order cannot be shown" in r.detail


def test_a_kill_then_an_amendment_is_a_deviated_attempt_that_keeps_the_kill(tmp_path):
    plan = write_plan(tmp_path, "killed", trial={"python": "runner_trials:single"},
                      design={"baseline": {"a": 0}, "arms": {"one": {"a": 1}}, "seeds": [1, 2]},
                      kill=[{"name": "too_low", "when": "baseline.mean < 100"}])
    assert cli("run", plan, "--executor", "inline", "--quiet")[0] == 1  # KILLED
    plan.write_text(plan.read_text().replace("baseline.mean < 100", "baseline.mean < -100"))
    code, out = cli("amend", plan, "--reason", "the kill bar was too strict",
                    "--seen", "the kill")
    assert code == 0, out
    cli("run", plan, "--executor", "inline", "--quiet")
    code, out = cli("decide", plan)
    assert code == 0, out
    assert "after KILL (too_low), DEVIATED" in out.splitlines()[0]
    result = json.loads((plan.parent / "result.json").read_text())
    assert result["deviated"] is True and result["after_kill"]["rule"] == "too_low"
    entry = build_catalogue(plan.parent.parent).by_id("killed")
    assert entry.deviated and "after KILL (too_low)" in entry.display_verdict
    code, out = cli("status", plan)
    assert "DEVIATED" in out
