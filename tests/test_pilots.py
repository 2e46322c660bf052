"""`exante pilot`: pilot seeds before the lock, on the validation metric only.

Pilots are PILOT records (not registered runs: status, the runner's resume and
decide never count them), hold the pilot metric alone (the test metric is
neither recorded nor printed), must use seeds the plan does not register
(refused by `pilot` and again by `lock`), and give the design check its σ.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from exante import registration, runner
from exante.decide import decide
from exante.errors import RefusedError
from exante.history import History
from exante.status import status

TRIAL = """\
def train(params, seed, ctx):
    val = {11: 0.010, 12: -0.020, 13: 0.004, 1: 0.0, 2: 0.01, 3: -0.01}.get(seed, 0.0)
    return {"test_score": 0.5 + 0.1 * params["x"] + 0.5 * val,
            "val_score": 0.5 + 0.1 * params["x"] + val * (1 + params["x"])}
"""

PLAN = """\
experiment_id: {name}
hypothesis: x = 1 raises the test score.
metrics:
  primary: {{name: test_score, direction: higher, split: test}}
  secondary: [{{name: val_score, direction: higher, split: validation}}]
design:
  baseline: {{x: 0}}
  arms: {{treated: {{x: 1}}}}
  seeds: {seeds}
trial: {{python: {module}:train}}
decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean", sigma_guess: 0.5}}
sha256: ""
"""


def make(tmp_path: Path, name: str, seeds=(1, 2, 3), extra: str = "") -> Path:
    folder = tmp_path / "experiments" / name
    folder.mkdir(parents=True)
    module = f"trial_pilot_{name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TRIAL)
    path = folder / "prereg.yaml"
    path.write_text(PLAN.format(name=name, module=module, seeds=list(seeds)) + extra)
    return path


def pilots(plan: Path) -> list[dict]:
    return [r.data for r in History.read(plan.parent / "ledger.jsonl").pilots()]


def test_pilots_record_the_validation_metric_only_and_never_count_as_runs(tmp_path, cli):
    plan = make(tmp_path, "pilot-basic")
    res = cli("pilot", str(plan), "--seeds", "11,12,13", "--executor", "inline")
    assert res.exit_code == 0, res.stderr
    assert "val_score=" in res.stderr and "test_score=" not in res.stdout + res.stderr
    recorded = pilots(plan)
    assert sorted((d["cell"], d["seed"]) for d in recorded) == sorted(
        (c, s) for c in ("baseline", "treated") for s in (11, 12, 13))
    assert all(set(d["metrics"]) == {"val_score"} for d in recorded)
    assert "test_score" not in (plan.parent / "ledger.jsonl").read_text()
    st = status(plan)
    assert (st["planned"], st["completed"], st["failed"], st["pending"]) == (6, 0, 0, 6)
    assert st["pilots"] == 6
    assert "6 PILOT run(s) (not registered runs)" in cli("status", str(plan)).stdout
    again = cli("pilot", str(plan), "--seeds", "11,12,13", "--executor", "inline")
    assert "6 already recorded, ran 0" in again.stdout and len(pilots(plan)) == 6

    res = cli("lock", str(plan))
    assert res.exit_code == 0, res.stderr
    assert "measured by 6 pilot run(s) on val_score" in res.stdout
    report = runner.run(plan, runner.RunOptions(executor="inline"))
    assert (report.planned, report.skipped, report.ran) == (6, 0, 6)  # pilots are not resumed
    result = decide(plan)
    assert [c["seeds"] for c in result["cells"] if c["role"] in ("baseline", "arm")] == [
        [1, 2, 3], [1, 2, 3]]
    assert result["flow"]["planned"] == 6 and result["flow"]["ok"] == 6


def test_the_design_check_uses_the_pilots_measured_sigma(tmp_path):
    plan = make(tmp_path, "pilot-sigma")
    from exante.pilot_run import pilot

    report = pilot(plan, [11, 12, 13], executor="inline")
    by_cell: dict[str, list[float]] = {}
    for d in pilots(plan):
        by_cell.setdefault(d["cell"], []).append(d["metrics"]["val_score"])
    expected = math.sqrt(sum(2 * statistics.variance(v) for v in by_cell.values()) / 4)
    assert report.sigma["sigma"] == pytest.approx(expected, rel=1e-12)
    _, data = registration.lock(plan)
    check = data["design_check"]
    assert check["sigma"] == pytest.approx(expected, rel=1e-12)
    assert check["sigma"] != 0.5  # not the plan's sigma_guess
    assert check["sigma_source"].startswith("pilot runs: pooled within-cell SD of val_score")
    assert "standing in for test_score" in check["sigma_source"]
    assert check["pilot"]["seeds"] == [11, 12, 13] and check["sigma_stated"] == 0.5
    assert History.read(plan.parent / "ledger.jsonl").design_check()["sigma"] == check["sigma"]


def test_lock_refuses_registered_seeds_that_pilots_used(tmp_path, cli):
    plan = make(tmp_path, "pilot-overlap")
    assert cli("pilot", str(plan), "--seeds", "7,8", "--executor", "inline").exit_code == 0
    plan.write_text(plan.read_text().replace("seeds: [1, 2, 3]", "seeds: [7, 8, 9]"))
    res = cli("lock", str(plan))
    assert res.exit_code == 1
    assert "design.seeds" in res.stderr and "[7, 8]" in res.stderr
    assert History.read(plan.parent / "ledger.jsonl").lock() is None  # nothing sealed
    assert 'sha256: ""' in plan.read_text()
    plan.write_text(plan.read_text().replace("seeds: [7, 8, 9]", "seeds: [1, 2, 3]"))
    assert cli("lock", str(plan)).exit_code == 0
    text = plan.read_text()
    plan.write_text(text.replace("seeds: [1, 2, 3]", "seeds: [1, 2, 8]"))
    res = cli("amend", str(plan), "--reason", "more seeds", "--seen", "none")
    assert res.exit_code == 1 and "design.seeds" in res.stderr and "[8]" in res.stderr
    assert History.read(plan.parent / "ledger.jsonl").amendments() == ()


def test_pilot_refuses_registered_seeds_a_locked_plan_and_a_plan_without_a_pilot_metric(
        tmp_path, cli):
    plan = make(tmp_path, "pilot-refusals")
    res = cli("pilot", str(plan), "--seeds", "3,4", "--executor", "inline")
    assert res.exit_code == 1 and "design.seeds" in res.stderr and "[3]" in res.stderr
    registration.lock(plan)
    with pytest.raises(RefusedError, match="pilots come before the lock"):
        from exante.pilot_run import pilot

        pilot(plan, [11], executor="inline")
    bare = make(tmp_path, "pilot-nometric")
    bare.write_text(bare.read_text().replace(", split: validation", ""))
    res = cli("pilot", str(bare), "--seeds", "11", "--executor", "inline")
    assert res.exit_code == 2 and "metrics.pilot" in res.stderr


def test_metrics_pilot_names_a_declared_non_test_metric(tmp_path, cli):
    plan = make(tmp_path, "pilot-key", extra="")
    text = plan.read_text().replace("  secondary:", "  pilot: test_score\n  secondary:")
    plan.write_text(text)
    res = cli("lock", str(plan))
    assert res.exit_code == 2 and "metrics.pilot" in res.stderr and "split: test" in res.stderr
    plan.write_text(text.replace("pilot: test_score", "pilot: nope"))
    res = cli("lock", str(plan))
    assert res.exit_code == 2 and "metrics.pilot" in res.stderr
    assert "names no declared metric; metrics are test_score, val_score" in res.stderr


def test_level_selects_a_subset_of_cells(tmp_path, cli):
    plan = make(tmp_path, "pilot-level")
    res = cli("pilot", str(plan), "--seeds", "11,12", "--level", "x=1", "--executor", "inline")
    assert res.exit_code == 2 and "no factor 'x'" in res.stderr  # arms, not factors
    assert pilots(plan) == []


def test_imported_pilots_keep_no_test_metric_and_count_for_sigma(tmp_path, cli):
    plan = make(tmp_path, "pilot-import")
    src = tmp_path / "pilots.csv"
    src.write_text("x,seed,test_score,val_score\n0,21,0.91,0.50\n0,22,0.92,0.52\n"
                   "1,21,0.93,0.61\n1,22,0.94,0.60\n")
    res = cli("import", str(src), "--into", str(plan))
    assert res.exit_code == 0, res.stderr
    recorded = pilots(plan)
    assert len(recorded) == 4 and all(set(d["metrics"]) == {"val_score"} for d in recorded)
    assert "0.91" not in (plan.parent / "ledger.jsonl").read_text()
    _, data = registration.lock(plan)
    expected = math.sqrt((statistics.variance([0.50, 0.52]) + statistics.variance([0.61, 0.60]))
                         / 2)
    assert data["design_check"]["sigma"] == pytest.approx(expected, rel=1e-12)


def test_level_pilots_a_subset_of_a_factorial_grid(tmp_path, cli):
    folder = tmp_path / "experiments" / "pilot-grid"
    folder.mkdir(parents=True)
    (folder / "trial_pilot_grid.py").write_text(
        "def train(params, seed, ctx):\n"
        "    v = 0.5 + 0.1 * params['a'] + 0.01 * params['b'] + 0.001 * seed\n"
        "    return {'val_score': v, 'test_score': v}\n")
    plan = folder / "prereg.yaml"
    plan.write_text(PLAN.format(name="pilot-grid", module="trial_pilot_grid", seeds=[1, 2, 3])
                    .replace("  baseline: {x: 0}\n  arms: {treated: {x: 1}}\n",
                             "  factors: {a: [0, 1], b: [0, 1]}\n  baseline: {a: 0, b: 0}\n"))
    res = cli("pilot", str(plan), "--seeds", "11,12", "--level", "a=1", "--executor", "inline")
    assert res.exit_code == 0, res.stderr
    assert "4 run(s) in 2 cell(s)" in res.stdout
    assert sorted((d["params"]["a"], d["params"]["b"], d["seed"]) for d in pilots(plan)) == [
        (1, 0, 11), (1, 0, 12), (1, 1, 11), (1, 1, 12)]
    res = cli("pilot", str(plan), "--seeds", "11", "--level", "a=2", "--executor", "inline")
    assert res.exit_code == 2 and "not a level of a" in res.stderr


def test_pilot_json_is_one_record_valid_against_its_schema(tmp_path, cli):
    import json

    import jsonschema

    from exante.agent import load_schema

    plan = make(tmp_path, "pilot-json")
    res = cli("pilot", str(plan), "--seeds", "11,12", "--executor", "inline", "--json")
    assert res.exit_code == 0, res.stderr
    record = json.loads(res.stdout)
    assert next(iter(record)) == "schema" and record["schema"] == "exante.pilot/1"
    jsonschema.validate(record, load_schema("pilot"))
    assert (record["metric"], record["planned"], record["ok"]) == ("val_score", 4, 4)
    assert record["sigma"]["runs"] == 4 and "test_score=" not in res.stdout
