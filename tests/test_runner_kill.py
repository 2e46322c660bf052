"""A kill rule that fires mid-sweep stops the sweep, and the killed plan stays killed.

Seed 000: "a kill rule stops the run immediately; a killed plan cannot be
re-run without a new lock (no_escalation)". Amending the plan (a new hash,
recorded with its reason) lets it run again, and the experiment is marked
deviated because the amendment came after runs.
"""

from runner_fixtures.harness import (assert_each_once, cli, events, planned_ids, records, status,
                                     terminal, write_plan)

KILL = {"name": "baseline_collapse", "when": "baseline.n >= 2 and baseline.mean < 100",
        "why": "the baseline collapsed; nothing after it can be trusted"}


def test_kill_rule_stops_the_sweep_refuses_rerun_until_amended(tmp_path):
    plan = write_plan(tmp_path, "killme", trial={"python": "runner_trials:single"},
                      design={"factors": {"a": [0, 1, 2]}, "baseline": {"a": 0}, "seeds": [1, 2, 3]},
                      kill=[KILL])
    planned = planned_ids(plan)
    first_hash = status(plan)["sealed"]

    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 1, out
    assert "KILLED by rule 'baseline_collapse'" in out
    # it stopped right after the second baseline run: nothing else was started
    assert [r["data"]["run_id"] for r in terminal(plan)] == ["baseline__a-0__s1", "baseline__a-0__s2"]
    assert len(events(plan, "RUN_STARTED")) == 2
    [killed] = events(plan, "KILLED")
    assert killed["data"]["rule"] == "baseline_collapse"
    assert killed["data"]["when"] == KILL["when"] and killed["data"]["why"] == KILL["why"]
    assert killed["data"]["numbers"]["baseline"]["mean"] == 1.5
    assert killed["data"]["numbers"]["baseline"]["n"] == 2
    assert killed["data"]["runs_recorded"] == 2
    assert killed["data"]["plan_sha256"] == first_hash
    s = status(plan)
    assert s["killed"] is True and (s["completed"], s["pending"]) == (2, 7)

    # running the killed plan again is refused, and leaves no trace in the ledger
    before = len(records(plan))
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 1, out
    assert "baseline_collapse" in out and "no_escalation" in out
    assert len(records(plan)) == before

    # an amendment (new hash, reason, what was seen) lets it run again, marked deviated
    text = plan.read_text().replace("baseline.mean < 100", "baseline.mean < 0")
    plan.write_text(text)
    code, out = cli("amend", plan, "--reason", "the kill threshold was a typo",
                    "--seen", "baseline mean 1.5 after 2 runs")
    assert code == 0, out
    assert "DEVIATION" in out
    [amended] = events(plan, "AMENDED")
    assert amended["data"]["parent_sha256"] == first_hash
    assert amended["data"]["plan_sha256"] != first_hash

    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    assert "already done 2, ran 7" in out
    assert_each_once(plan, planned)
    s = status(plan)
    assert s["deviated"] is True
    assert (s["planned"], s["completed"], s["pending"]) == (9, 9, 0)
    assert s["sealed"] == amended["data"]["plan_sha256"]
