"""`exante audit`: every result traced to a lock that existed before it.

Findings tested: an edited ledger line, a result whose plan hash was never
locked, a lock committed to git after its results (a real temporary git
repository), changed code, and a killed experiment without a postmortem.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import (copy_registry, git, invoke, make_experiment,  # noqa: E402
                             run_and_decide)

from exante.registry import audit, audit_failed  # noqa: E402


def rows_of(rows, experiment, check):
    return [r for r in rows if r.experiment == experiment and r.check == check]


def test_the_fixture_passes(registry):
    rows = audit(registry)
    assert not [r for r in rows if r.status == "FAIL"], rows
    assert {r.check for r in rows} >= {"ledger", "seal", "result-lock", "fingerprints",
                                       "git-order", "postmortem"}
    assert not audit_failed(rows)
    assert audit_failed(rows, strict=True)  # compress-16-layer has no postmortem
    ok = invoke("audit", registry)
    assert ok.exit_code == 0, ok.output
    assert "killed without a postmortem" in ok.output
    assert invoke("audit", registry, "--strict").exit_code == 1


def test_an_edited_ledger_line_fails(registry):
    ledger = registry / "lr-warmup-v1" / "ledger.jsonl"
    text = ledger.read_text(encoding="utf-8")
    assert text.count('"test_acc":0.806088') == 1
    ledger.write_text(text.replace('"test_acc":0.806088', '"test_acc":0.906088'), "utf-8")
    [row] = rows_of(audit(registry), "lr-warmup-v1", "ledger")
    assert row.status == "FAIL" and "the line was edited" in row.detail
    result = invoke("audit", registry, "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["ok"] is False


def test_a_result_whose_plan_hash_was_never_locked_fails(registry):
    path = registry / "swiglu-1M" / "result.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    result["plan_sha256"] = "ab" * 32
    path.write_text(json.dumps(result), encoding="utf-8")
    rows = rows_of(audit(registry), "swiglu-1M", "result-lock")
    assert [r.status for r in rows] == ["FAIL"]
    assert "was never locked in this ledger" in rows[0].detail
    assert invoke("audit", registry).exit_code == 1


def test_a_result_from_another_ledger_fails(registry):
    path = registry / "swiglu-1M" / "result.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    result["ledger_head"] = "cd" * 32
    path.write_text(json.dumps(result), encoding="utf-8")
    [row] = rows_of(audit(registry), "swiglu-1M", "result-lock")
    assert row.status == "FAIL" and "not a record of this ledger" in row.detail


def test_changed_code_and_a_tampered_plan_fail(registry):
    trial = registry / "compress-4-layer" / "compress_4_layer_trial.py"
    trial.write_text(trial.read_text() + "\n# tweak\n", encoding="utf-8")
    plan = registry / "swiglu-1M" / "prereg.yaml"
    plan.write_text(plan.read_text().replace("2 baseline sigma", "1 baseline sigma"), "utf-8")
    rows = audit(registry)
    [fp] = rows_of(rows, "compress-4-layer", "fingerprints")
    assert fp.status == "FAIL" and "compress_4_layer_trial.py" in fp.detail
    [sealed] = rows_of(rows, "swiglu-1M", "seal")
    assert sealed.status == "FAIL" and "PREREG TAMPERED" in sealed.detail


def test_a_lost_plan_fails_but_the_experiment_stays(registry):
    (registry / "mlp-ablation-v1" / "prereg.yaml").unlink()
    [row] = rows_of(audit(registry), "mlp-ablation-v1", "seal")
    assert row.status == "FAIL" and "missing" in row.detail


# ---------------------------------------------------------------- git order


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


def test_lock_committed_after_its_results_fails(repo):
    plan = make_experiment(repo / "experiments" / "late", "late", "arm beats baseline")
    folder = plan.parent
    git(repo, "add", "experiments/late/ledger.jsonl", "experiments/late/result.json")
    git(repo, "commit", "-q", "-m", "results first")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "then the plan")
    [row] = rows_of(audit(repo / "experiments"), "late", "git-order")
    assert row.status == "FAIL"
    assert "is not an ancestor of the commit that added ledger RUN_OK" in row.detail
    assert "result.json" in row.detail
    result = invoke("audit", repo / "experiments")
    assert result.exit_code == 1
    assert "git-order" in result.output
    assert folder.is_dir()


def test_results_never_committed_with_their_plan_fail(repo):
    make_experiment(repo / "experiments" / "orphaned", "orphaned", "arm beats baseline")
    git(repo, "add", "experiments/orphaned/result.json")
    git(repo, "commit", "-q", "-m", "only the result")
    [row] = rows_of(audit(repo / "experiments"), "orphaned", "git-order")
    assert row.status == "FAIL" and "the sealed plan never was" in row.detail


def test_lock_committed_before_its_results_passes(repo):
    plan = make_experiment(repo / "experiments" / "early", "early", "arm beats baseline",
                           run=False)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sealed plan")
    run_and_decide(plan)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "results")
    rows = audit(repo / "experiments")
    [row] = rows_of(rows, "early", "git-order")
    assert row.status == "ok", row.detail
    assert "precedes ledger RUN_OK" in row.detail and "result.json" in row.detail
    assert not [r for r in rows if r.status == "FAIL"], rows


def test_git_order_from_a_relative_root_in_a_subfolder(repo, monkeypatch):
    # git runs at the repository's top level; paths given relative to the caller's
    # folder once matched nothing there, and the check was silently skipped
    project = repo / "project"
    plan = make_experiment(project / "experiments" / "nested", "nested", "arm beats baseline",
                           run=False)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "sealed plan")
    run_and_decide(plan)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "results")
    monkeypatch.chdir(project)
    [row] = rows_of(audit(Path("experiments")), "nested", "git-order")
    assert row.status == "ok", row.detail


def test_a_registry_put_under_git_between_two_audits_is_seen_by_the_second(tmp_path):
    """The audit looks up each folder's `.git` once per audit, not once per process."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "later"
    root.mkdir()
    plan = make_experiment(root / "experiments" / "late", "late", "arm beats baseline")
    [before] = rows_of(audit(root / "experiments"), "late", "git-order")
    assert before.status == "skip", before.detail
    git(root, "init", "-q")
    git(root, "add", "experiments/late/ledger.jsonl", "experiments/late/result.json")
    git(root, "commit", "-q", "-m", "results first")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "then the plan")
    [after] = rows_of(audit(root / "experiments"), "late", "git-order")
    assert after.status == "FAIL" and plan.parent.is_dir()
