"""Fault injection, the small ones (issue 18, item 8).

Lock warns about results already in the folder and refuses the template's
placeholder hypothesis; `amend` is refused while a sweep runs; audit fails on
duplicate ids; only a decided experiment can retract; reports are written
0644 under umask 022; `exante log` of an empty ledger says so and exits 1.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import invoke, make_experiment  # noqa: E402

from exante.registration import TEMPLATE_HYPOTHESES  # noqa: E402
from exante.registry import audit, build_catalogue  # noqa: E402
from exante.templates import TEMPLATES, template_text  # noqa: E402
from runner_fixtures.harness import EXANTE, write_plan  # noqa: E402

TRIVIAL = "def train(params, seed, ctx):\n    return {'val_loss': 1.0, 'test_acc': 0.5}\n"


def test_every_shipped_template_hypothesis_is_recognised_as_a_placeholder():
    for name in TEMPLATES:
        assert any(m in template_text(name) for m in TEMPLATE_HYPOTHESES), name


@pytest.mark.parametrize("template", ["compare", "ablation"])
def test_lock_refuses_the_templates_placeholder_hypothesis(tmp_path, template):
    root = tmp_path / "experiments"
    assert invoke("init", "t", "--template", template, "--dir", root).exit_code == 0
    plan = root / "t" / "prereg.yaml"
    (plan.parent / "train.py").write_text(TRIVIAL)
    result = invoke("lock", plan)
    assert result.exit_code == 2, result.output
    assert "placeholder" in result.stderr and str(plan) in result.stderr
    assert not (plan.parent / "ledger.jsonl").exists()


def test_lock_warns_about_runs_and_a_result_already_in_the_folder(make_plan):
    plan = make_plan("leftover")
    (plan.parent / "runs" / "old_run").mkdir(parents=True)
    (plan.parent / "result.json").write_text('{"verdict": "PASS"}')
    result = invoke("lock", plan)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning:") == 2
    assert "runs" in result.stderr and "result.json" in result.stderr


def test_amend_is_refused_while_a_sweep_runs(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "slowtrial.py").write_text(
        "import time\nfrom pathlib import Path\n"
        "def train(params, seed, ctx):\n"
        "    Path(str(ctx.run_dir) + '.started').write_text('x')\n"
        "    time.sleep(30)\n    return {'score': 1.0}\n")
    plan = write_plan(tmp_path, "busy", trial={"python": "slowtrial:train",
                                                "pythonpath": [str(code)]},
                      design={"baseline": {"a": 0}, "arms": {"b": {"a": 1}}, "seeds": [1]})
    runner = subprocess.Popen([EXANTE, "run", str(plan), "--executor", "inline", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not list(plan.parent.glob("runs/*.started")) and time.monotonic() < deadline:
            time.sleep(0.05)
        plan.write_text(plan.read_text().replace("runner acceptance", "runner  acceptance"))
        result = invoke("amend", plan, "--reason", "r", "--seen", "none")
        assert result.exit_code == 1, result.output
        assert "sweeping this experiment" in result.stderr
    finally:
        runner.kill()
        runner.wait()
    assert '"AMENDED"' not in (plan.parent / "ledger.jsonl").read_text()


def test_audit_fails_on_two_experiments_with_one_id(tmp_path):
    root = tmp_path / "experiments"
    make_experiment(root / "first", "same-id", "lr helps")
    make_experiment(root / "second", "same-id", "lr helps, again")
    rows = [r for r in audit(root) if r.check == "unique-id"]
    assert [r.status for r in rows] == ["FAIL"] and "first" in rows[0].detail
    assert invoke("audit", root).exit_code == 1


def test_only_a_decided_experiment_can_retract(tmp_path):
    root = tmp_path / "experiments"
    make_experiment(root / "old", "old", "lr helps")
    make_experiment(root / "new", "new", "lr helps, measured again", run=False,
                    extra="retracts:\n  - {id: old, reason: leaky split}\n")
    cat = build_catalogue(root)
    assert not cat.by_id("old").retracted
    assert any("only a decided experiment can retract" in p for p in cat.problems)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_reports_and_the_catalogue_are_written_with_the_umasks_mode(tmp_path, mask, mode):
    root = tmp_path / "experiments"
    plan = make_experiment(root / "perm", "perm", "lr helps")
    old = os.umask(mask)
    try:
        assert invoke("report", plan, "--root", root).exit_code == 0
        assert invoke("rollup", root).exit_code == 0
    finally:
        os.umask(old)
    for path in (plan.parent / "report.md", plan.parent / "report.html", root / "SUMMARY.md",
                 root / "SUMMARY.json", root / "index.html"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_log_of_an_empty_ledger_says_so_and_exits_1(make_plan):
    plan = make_plan("empty-log")
    (plan.parent / "ledger.jsonl").write_text("")
    result = invoke("log", str(plan))
    assert result.exit_code == 1, result.output
    assert "empty" in result.stderr and "chain OK" not in result.output
