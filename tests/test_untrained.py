"""Runs that ran but did not train: caught by the registered rule, named everywhere, never dropped.

A 2×2 factorial whose trial trains every run except one (cell a=1, b=1, seed 2:
train accuracy 0.30 where its neighbours reach about 0.80, and a test accuracy
far below theirs). `failures.untrained_if` marks it; `failures.untrained`
registers what it counts as.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from exante import registration, runner
from exante.decide import decide
from exante.errors import PlanError
from exante.report import render_deck, render_paper, render_report
from exante.spec import load_plan

TRIAL = """\
def train(params, seed, ctx):
    noise = {1: 0.0, 2: 0.004, 3: -0.004}[seed]
    broken = params["a"] == 1 and params["b"] == 1 and seed == 2
    return {"test_acc": (0.40 if broken else 0.70 + 0.01 * params["a"]) + noise,
            "train_acc": 0.30 if broken else 0.80 + noise}
"""

PLAN = """\
experiment_id: {name}
hypothesis: a changes test accuracy; b does not.
metrics:
  primary: {{name: test_acc, direction: higher}}
  secondary: [{{name: train_acc, direction: higher}}]
design:
  factors: {{a: [0, 1], b: [0, 1]}}
  baseline: {{a: 0, b: 0}}
  seeds: [1, 2, 3]
trial: {{python: {module}:train}}
decision: {{rule: factorial, equivalence_margin: 0.05, sigma_guess: 0.005}}
failures: {{policy: exclude, worst: 0.0, untrained_if: "{rule}", untrained: {policy}}}
sha256: ""
"""

RULE = "train_acc < 0.5 * cell.median(train_acc)"


def make(tmp_path: Path, name: str, policy: str, rule: str = RULE) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    module = f"trial_untrained_{name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TRIAL)
    path = folder / "prereg.yaml"
    path.write_text(PLAN.format(name=name, module=module, rule=rule, policy=policy))
    return path


def run_and_decide(plan: Path) -> dict:
    registration.lock(plan)
    runner.run(plan, runner.RunOptions(executor="inline"))
    return decide(plan)


def cell(result: dict, name: str) -> dict:
    return next(c for c in result["cells"] if c["name"] == name)


def test_the_registered_rule_marks_the_untrained_run_and_every_output_names_it(tmp_path):
    plan = make(tmp_path, "untrained-exclude", "exclude")
    result = run_and_decide(plan)
    marked = result["untrained"]
    assert [(m["run_id"], m["cell"], m["seed"]) for m in marked] == [
        ("arm__a-1_b-1__s2", "a=1, b=1", 2)]
    assert marked[0]["policy"] == "exclude"
    assert "train_acc = 0.3" in marked[0]["why"] and "cell.median(train_acc) = 0.796" in \
        marked[0]["why"]
    broken = cell(result, "a=1, b=1")
    assert broken["seeds"] == [1, 2, 3] and broken["values"][1] is None  # excluded, not hidden
    assert broken["stats"]["n"] == 2
    assert broken["untrained"] == [{"seed": 2, "why": marked[0]["why"]}]
    assert all(not cell(result, n)["untrained"] for n in ("a=0, b=0", "a=1, b=0", "a=0, b=1"))
    codes = [c["code"] for c in result["caveats"]]
    assert "UNTRAINED_RUNS" in codes
    on_disk = json.loads((plan.parent / "result.json").read_text())
    assert on_disk["untrained"] == marked
    md_path, html_path, *_ = render_report(plan)
    md, html = md_path.read_text(), html_path.read_text()
    for text in (md, html):
        assert "arm__a-1_b-1__s2" in text and "did not train" in text
    paper = render_paper(plan, pdf=False)[0].read_text()
    assert "arm__a-1_b-1__s2" in paper and "Runs that did not train" in paper
    deck = render_deck(plan).read_text()
    assert "Did not train (registered rule): 1 run(s), exclude: a=1, b=1 seed 2" in deck


def test_keep_and_count_as_worst_are_what_the_plan_registered(tmp_path):
    kept = run_and_decide(make(tmp_path, "untrained-keep", "keep"))
    assert cell(kept, "a=1, b=1")["values"][1] == pytest.approx(0.404)
    assert [m["seed"] for m in kept["untrained"]] == [2]  # named even though kept
    worst = run_and_decide(make(tmp_path, "untrained-worst", "count_as_worst"))
    assert cell(worst, "a=1, b=1")["values"][1] == 0.0
    assert "registered worst value" in next(c["message"] for c in worst["caveats"]
                                            if c["code"] == "UNTRAINED_RUNS")


def test_a_trained_run_is_not_marked_and_the_rule_can_be_quiet(tmp_path):
    result = run_and_decide(make(tmp_path, "untrained-none", "exclude",
                                 rule="train_acc < 0.1 * cell.median(train_acc)"))
    assert result["untrained"] == []
    assert "UNTRAINED_RUNS" not in [c["code"] for c in result["caveats"]]
    assert cell(result, "a=1, b=1")["values"][1] == pytest.approx(0.404)


@pytest.mark.parametrize("rule, needle", [
    ("train_accuracy < 0.5 * cell.median(train_acc)", "unknown metric 'train_accuracy'"),
    ("train_acc < 0.5 * cell.median(val_acc)", "unknown metric 'val_acc'"),
    ("train_acc < 0.5 * cell.mode(train_acc)", "expected cell."),
    ("open('x')", "only the functions"),
])
def test_an_unknown_metric_is_refused_at_lock_with_its_yaml_path(tmp_path, rule, needle, cli):
    plan = make(tmp_path, f"untrained-bad-{abs(hash(rule)) % 1000}", "exclude", rule=rule)
    with pytest.raises(PlanError) as err:
        load_plan(plan)
    assert "failures.untrained_if" in str(err.value) and needle in str(err.value)
    res = cli("lock", str(plan))
    assert res.exit_code == 2 and "failures.untrained_if" in res.stderr


def test_a_rule_without_a_registered_policy_is_refused(tmp_path):
    plan = make(tmp_path, "untrained-nopolicy", "exclude")
    plan.write_text(plan.read_text().replace(", untrained: exclude", ""))
    with pytest.raises(PlanError, match="failures.untrained"):
        load_plan(plan)


@pytest.mark.parametrize("rule", ["train_acc < train_acc - 1", "train_acc >= 0 or train_acc < 0"])
def test_a_rule_that_cannot_flip_is_refused_at_lock(tmp_path, rule, cli):
    plan = make(tmp_path, f"untrained-stuck-{abs(hash(rule)) % 1000}", "exclude", rule=rule)
    res = cli("lock", str(plan))
    assert res.exit_code == 2 and "failures.untrained_if" in res.stderr
    assert "cannot flip" in res.stderr


def test_the_gate_is_recorded_at_lock(tmp_path):
    plan = make(tmp_path, "untrained-gate", "exclude")
    _, data = registration.lock(plan)
    row = next(g for g in data["design_check"]["gates"] if g["rule"] == "failures.untrained_if")
    assert row["expression"] == RULE and row["holds_at"] != row["fails_at"]


def test_a_metric_a_run_did_not_record_is_named_missing_not_a_crash(tmp_path):
    rule = "train_acc < 0.5 * cell.median(train_acc) or val_acc < 0"
    plan = make(tmp_path, "untrained-missing", "keep", rule=rule)
    plan.write_text(plan.read_text().replace(
        "secondary: [{name: train_acc, direction: higher}]",
        "secondary: [{name: train_acc, direction: higher}, {name: val_acc, direction: higher}]"))
    result = run_and_decide(plan)
    assert [m["seed"] for m in result["untrained"]] == [2]
    assert "val_acc = missing" in result["untrained"][0]["why"]
