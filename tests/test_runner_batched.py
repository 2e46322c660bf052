"""A batched trial: runs grouped by `trial.group_by`, at most `max_batch` per call.

One outcome per run comes back, and the results are those of the same trial
run one at a time.
"""

import json
from collections import Counter

from runner_fixtures.harness import assert_each_once, cli, planned_ids, write_plan

DESIGN = {"factors": {"a": [0, 1], "b": [0, 1, 2]}, "baseline": {"a": 0, "b": 0},
          "seeds": [1, 2, 3]}


def test_batched_trial_groups_runs_and_agrees_with_one_at_a_time(tmp_path):
    batched = write_plan(tmp_path, "batched", design=DESIGN,
                         trial={"batched": "runner_trials:batched", "group_by": ["a"],
                                "max_batch": 4})
    single = write_plan(tmp_path, "single", design=DESIGN,
                        trial={"python": "runner_trials:single"})
    for plan in (batched, single):
        code, out = cli("run", plan, "--executor", "inline", "--quiet")
        assert code == 0, out

    planned = planned_ids(batched)
    assert len(planned) == 18
    calls = [json.loads(p.read_text()) for p in (batched.parent / "batches").glob("*.json")]
    # 9 runs share each value of `a`: 4 + 4 + 1 per value, never mixing values
    assert sorted(len(c) for c in calls) == [1, 1, 4, 4, 4, 4]
    for call in calls:
        assert len({m["params"]["a"] for m in call}) == 1, call
    in_calls = Counter(m["run_id"] for c in calls for m in c)
    assert set(in_calls) == planned and set(in_calls.values()) == {1}

    got = assert_each_once(batched, planned)
    want = assert_each_once(single, planned_ids(single))
    assert set(got) == set(want)
    sizes = {m["run_id"]: len(c) for c in calls for m in c}
    for run_id, record in got.items():
        assert record["event"] == "RUN_OK"
        assert record["data"]["metrics"]["score"] == want[run_id]["data"]["metrics"]["score"]
        assert record["data"]["metrics"]["batch_size"] == sizes[run_id]
        assert record["data"]["params"] == want[run_id]["data"]["params"]
