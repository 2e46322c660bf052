"""Longest runs first: with measured run times the sweep starts the costliest tasks first,
so the last worker is not left alone with the longest run; without them it keeps the
plan's order. The order never changes which runs exist or what they return."""

from exante.design import expand
from exante.pilot_run import pilot
from exante.runner import RunOptions, run
from exante.spec import load_plan
from runner_fixtures.harness import assert_each_once, events, planned_ids, write_plan

# the trial sleeps `cost_s` per run: the baseline is slow, one arm free, one arm unmeasured
DESIGN = {"factors": {"cost_s": [0.3, 0.0, 0.15]}, "baseline": {"cost_s": 0.3},
          "seeds": [1, 2, 3]}
PYTHON = {"python": "cost_trials:costly"}


def started(plan) -> list[str]:
    """Run ids in the order the ledger's RUN_STARTED records name them."""
    return [rid for r in events(plan, "RUN_STARTED") for rid in r["data"]["run_ids"]]


def plan_order(plan) -> list[str]:
    return [k.run_id for k in expand(load_plan(plan))]


def results(plan) -> dict[str, tuple]:
    return {rid: (r["data"]["seed"], r["data"]["params"], r["data"]["metrics"]["score"])
            for rid, r in assert_each_once(plan, planned_ids(plan)).items()}


def test_without_measured_times_the_plan_order_is_kept(tmp_path):
    plan = write_plan(tmp_path, "fresh", trial=PYTHON, design=DESIGN)
    run(plan, RunOptions(executor="local", workers=1))
    assert started(plan) == plan_order(plan)


def test_a_resumed_sweep_starts_its_longest_measured_runs_first(tmp_path):
    plan = write_plan(tmp_path, "resumed", trial=PYTHON, design=DESIGN)
    order = plan_order(plan)
    run(plan, RunOptions(executor="inline", max_runs=4))  # the slow baseline, one free arm run
    assert started(plan) == order[:4]
    run(plan, RunOptions(executor="inline"))
    # the unmeasured arm counts as the median measured cost (0.15 s), above the free arm's
    free, unmeasured = order[4:6], order[6:]
    assert started(plan)[4:] == unmeasured + free
    # the same runs, seeds and results as one uninterrupted sweep in plan order
    whole = write_plan(tmp_path, "whole", trial=PYTHON, design=DESIGN)
    run(whole, RunOptions(executor="inline"))
    assert started(whole) == order
    assert results(plan) == results(whole)


def test_pilot_times_order_the_first_sweep(tmp_path):
    design = {**DESIGN, "factors": {"cost_s": [0.0, 0.15, 0.3]}, "baseline": {"cost_s": 0.0}}
    metrics = {"primary": {"name": "score", "direction": "higher", "split": "test"},
               "secondary": [{"name": "val_score", "direction": "higher", "split": "validation"}]}
    plan = write_plan(tmp_path, "piloted", trial=PYTHON, design=design, metrics=metrics,
                      lock=False)
    pilot(plan, [7], executor="inline")
    from exante import registration

    registration.lock(plan)
    run(plan, RunOptions(executor="local", workers=1))
    order = plan_order(plan)
    baseline, cheap, dear = order[:3], order[3:6], order[6:]
    assert started(plan) == dear + cheap + baseline


def test_batched_tasks_are_ordered_by_their_group_cost(tmp_path):
    trial = {"batched": "cost_trials:costly_batch", "group_by": ["cost_s"], "max_batch": 2}
    plan = write_plan(tmp_path, "batched", trial=trial, design=DESIGN)
    order = plan_order(plan)
    run(plan, RunOptions(executor="inline", max_runs=4))  # the slow baseline, one free arm run
    run(plan, RunOptions(executor="inline"))
    tasks = [r["data"]["run_ids"] for r in events(plan, "RUN_STARTED")]
    assert tasks[:3] == [order[0:2], order[2:3], order[3:4]]  # nothing measured yet: plan order
    # the unmeasured group at the median (0.15 s a run): its pair, its single, then the free pair
    assert tasks[3:] == [order[6:8], order[8:9], order[4:6]]
    assert results(plan) == {k.run_id: (k.seed, k.params, k.seed + k.params["cost_s"])
                             for k in expand(load_plan(plan))}
