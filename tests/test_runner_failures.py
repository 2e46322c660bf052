"""A failing, crashing, hanging or NaN-returning trial, or a missing metric, is a failed record.

Each failure lands in the ledger as RUN_FAILED with the reason's kind, `status`
counts it as failed, and the sweep goes on to the runs after it.
"""

from runner_fixtures.harness import assert_each_once, cli, planned_ids, status, terminal, write_plan

EXPECTED_KIND = {"raise": "exception", "exit": "worker_died", "hang": "timeout", "nan": "nan",
                 "missing": "missing_metric"}


def test_each_kind_of_failure_is_recorded_and_the_sweep_goes_on(tmp_path):
    arms = {mode: {"mode": mode} for mode in EXPECTED_KIND}
    arms["after_the_failures"] = {"mode": "ok"}
    plan = write_plan(tmp_path, "failures", trial={"python": "runner_trials:modes", "timeout": 1.5},
                      design={"arms": arms, "baseline": {"mode": "ok"}, "seeds": [1]})

    code, out = cli("run", plan, "--executor", "local", "--workers", "2", "--quiet")
    assert code == 0, out
    assert "ran 7 (ok 2, failed 5)" in out

    by_id = assert_each_once(plan, planned_ids(plan))
    for record in by_id.values():
        data = record["data"]
        mode = data["params"]["mode"]
        if mode == "ok":
            assert record["event"] == "RUN_OK", data
            assert data["metrics"]["score"] == data["seed"]
            continue
        assert record["event"] == "RUN_FAILED", data
        assert data["error_kind"] == EXPECTED_KIND[mode], (mode, data["error"])
        assert data["error"]
    errors = {r["data"]["params"]["mode"]: r["data"].get("error") for r in by_id.values()}
    assert "loss diverged at step 7" in errors["raise"]  # the trial's own message is kept
    assert "exit code 13" in errors["exit"]
    assert "accuracy" in errors["missing"] and "score" in errors["missing"]

    # the run registered after all the failing ones still ran, and succeeded
    assert by_id["arm__after_the_failures__s1"]["event"] == "RUN_OK"
    assert sum(r["event"] == "RUN_OK" for r in terminal(plan)) == 2
    s = status(plan)
    assert (s["planned"], s["completed"], s["failed"], s["pending"]) == (7, 2, 5, 0)

    # failures are final under the registered policy (retries: 0): a re-run does not repeat them
    code, out = cli("run", plan, "--executor", "local", "--workers", "2", "--quiet")
    assert code == 0, out
    assert "already done 7, ran 0" in out
