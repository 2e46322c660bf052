"""Resuming never duplicates: `run --max-runs 3`, then `run` again, gives each planned run once."""

from exante.runner import RunOptions, run
from runner_fixtures.harness import assert_each_once, cli, planned_ids, status, terminal, write_plan

DESIGN = {"factors": {"a": [0, 1, 2]}, "baseline": {"a": 0}, "seeds": [1, 2, 3]}


def test_max_runs_then_resume_runs_each_planned_run_once(tmp_path):
    plan = write_plan(tmp_path, "resume", trial={"python": "runner_trials:single"}, design=DESIGN)
    planned = planned_ids(plan)
    assert len(planned) == 9

    code, out = cli("run", plan, "--executor", "inline", "--max-runs", "3", "--quiet")
    assert code == 0, out
    assert "ran 3" in out
    first = [r["data"]["run_id"] for r in terminal(plan)]
    assert len(first) == 3
    assert status(plan)["pending"] == 6

    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    assert "already done 3, ran 6" in out
    records = assert_each_once(plan, planned)
    assert [r["data"]["run_id"] for r in terminal(plan)][:3] == first  # the first three kept
    assert all(r["event"] == "RUN_OK" for r in records.values())

    # a third call finds nothing left and records no run
    report = run(plan, RunOptions(executor="inline"))
    assert (report.planned, report.skipped, report.ran) == (9, 9, 0)
    assert_each_once(plan, planned)
    s = status(plan)
    assert (s["planned"], s["completed"], s["failed"], s["pending"]) == (9, 9, 0, 0)
