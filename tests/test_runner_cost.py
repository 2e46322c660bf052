"""`trial.cost`: a registered estimate of each run's cost orders the first sweep longest
first, before anything is measured; measured times take over where they exist. A cost
that is not a number >= 0 for every run is refused at lock, before anything is sealed.
The order never changes which runs exist or what they return."""

import pytest

from exante import registration
from exante.design import expand
from exante.errors import PlanError
from exante.runner import RunOptions, run
from exante.seal import inspect
from exante.spec import load_plan
from runner_fixtures.harness import events, write_plan

DESIGN = {"factors": {"cost_s": [0.0, 0.1, 0.2]}, "baseline": {"cost_s": 0.0},
          "seeds": [1, 2]}


def started(plan) -> list[list[str]]:
    return [r["data"]["run_ids"] for r in events(plan, "RUN_STARTED")]


def by_cell(plan) -> dict[float, list[str]]:
    out: dict[float, list[str]] = {}
    for key in expand(load_plan(plan)):
        out.setdefault(key.params["cost_s"], []).append(key.run_id)
    return out


def test_the_registered_cost_orders_the_first_sweep(tmp_path):
    trial = {"python": "cost_trials:costly", "cost": "cost_s"}
    plan = write_plan(tmp_path, "costed", trial=trial, design=DESIGN)
    run(plan, RunOptions(executor="local", workers=1))
    cells = by_cell(plan)
    assert [rid for task in started(plan) for rid in task] == cells[0.2] + cells[0.1] + cells[0.0]
    scores = {r["data"]["run_id"]: r["data"]["metrics"]["score"] for r in events(plan, "RUN_OK")}
    assert scores == {k.run_id: k.seed + k.params["cost_s"] for k in expand(load_plan(plan))}


def test_a_batched_trials_tasks_are_ordered_by_the_sum_of_their_runs_costs(tmp_path):
    trial = {"batched": "cost_trials:costly_batch", "group_by": ["cost_s"], "max_batch": 2,
             "cost": "cost_s * 10"}
    plan = write_plan(tmp_path, "batched", trial=trial, design={**DESIGN, "seeds": [1, 2, 3]})
    run(plan, RunOptions(executor="inline"))
    cells = by_cell(plan)
    pair, single = slice(0, 2), slice(2, 3)
    # 0.2's pair (4 units), then 0.1's pair and 0.2's single (2 each: plan order), 0.1's single
    assert started(plan) == [cells[0.2][pair], cells[0.1][pair], cells[0.2][single],
                             cells[0.1][single], cells[0.0][pair], cells[0.0][single]]


def test_measured_times_scale_the_registered_cost_into_seconds(tmp_path):
    # measured: cell 0.2 (0.2 s a run for 1 unit); unmeasured cell 0.1 at 3 units = 0.6 s
    # goes before the measured 0.2 s, and cell 0.0 at 0 units last
    trial = {"python": "cost_trials:costly", "cost": "(cost_s == 0.1) * 3 + (cost_s == 0.2)"}
    design = {**DESIGN, "factors": {"cost_s": [0.2, 0.1, 0.0]}, "baseline": {"cost_s": 0.2}}
    plan = write_plan(tmp_path, "scaled", trial=trial, design=design)
    run(plan, RunOptions(executor="inline", max_runs=1))
    run(plan, RunOptions(executor="inline"))
    cells = by_cell(plan)
    first, *rest = [rid for task in started(plan) for rid in task]
    assert first == cells[0.2][0]
    assert rest == cells[0.1] + cells[0.2][1:] + cells[0.0]


@pytest.mark.parametrize("cost, says", [
    ("cost_s - 0.1", "must give a number >= 0"),
    ("'dear'", "must give a number >= 0"),
    ("cost_s / 0", "must give a number >= 0"),
])
def test_a_cost_that_is_not_a_number_for_every_run_is_refused_at_lock(tmp_path, cost, says):
    trial = {"python": "cost_trials:costly", "cost": cost}
    plan = write_plan(tmp_path, "bad", trial=trial, design=DESIGN, lock=False)
    with pytest.raises(PlanError, match=says) as caught:
        registration.lock(plan)
    assert "trial.cost" in str(caught.value) and str(plan) in str(caught.value)
    assert not inspect(plan).intact  # nothing was sealed


@pytest.mark.parametrize("cost, says", [
    ("depth * 2", "unknown name 'depth'"),
    ("__import__('os').system('true')", "not allowed|only the functions"),
    ("cost_s.real", "unknown attribute"),
])
def test_a_cost_naming_no_parameter_or_reaching_outside_is_refused_when_the_plan_loads(
        tmp_path, cost, says):
    trial = {"python": "cost_trials:costly", "cost": cost}
    plan = write_plan(tmp_path, "names", trial=trial, design=DESIGN, lock=False)
    with pytest.raises(PlanError, match=says) as caught:
        load_plan(plan)
    assert "trial.cost" in str(caught.value)
