"""Fault injection: `decide` on an unfinished sweep (issue 18, item 2).

`run --max-runs 4` of 6, then `decide`: refused (exit 1) naming the pending
count and the command that finishes the sweep; `--interim` writes a result
labelled INTERIM with the pending runs named and an OPTIONAL_STOPPING caveat.
"""

from __future__ import annotations

import json

from runner_fixtures.harness import cli, events, write_plan

DESIGN = {"baseline": {"a": 0}, "arms": {"one": {"a": 1}}, "seeds": [1, 2, 3]}


def _partial(tmp_path):
    plan = write_plan(tmp_path, "partial", trial={"python": "runner_trials:single"},
                      design=DESIGN)
    code, out = cli("run", plan, "--executor", "inline", "--quiet", "--max-runs", "4")
    assert code == 0, out
    return plan


def test_decide_refuses_while_runs_are_pending(tmp_path):
    plan = _partial(tmp_path)
    code, out = cli("decide", plan)
    assert code == 1, out
    assert "2 registered run(s) have not run" in out and f"exante run {plan}" in out
    assert "--interim" in out
    assert not (plan.parent / "result.json").exists()
    assert events(plan, "DECIDED") == []


def test_decide_interim_is_labelled_names_the_pending_runs_and_warns(tmp_path):
    plan = _partial(tmp_path)
    code, out = cli("decide", plan, "--interim")
    assert code == 0, out
    assert "INTERIM" in out and "PASS" not in out.splitlines()[0]
    result = json.loads((plan.parent / "result.json").read_text())
    assert result["verdict"] == "INTERIM"
    assert result["interim"]["pending"] == 2 and len(result["interim"]["pending_runs"]) == 2
    assert "OPTIONAL_STOPPING" in [c["code"] for c in result["caveats"]]
    assert events(plan, "DECIDED")[-1]["data"]["verdict"] == "INTERIM"


def test_after_the_sweep_finishes_decide_gives_the_plain_verdict(tmp_path):
    plan = _partial(tmp_path)
    assert cli("run", plan, "--executor", "inline", "--quiet")[0] == 0
    code, out = cli("decide", plan)
    assert code == 0, out
    result = json.loads((plan.parent / "result.json").read_text())
    assert result["verdict"] == "PASS" and "interim" not in result
