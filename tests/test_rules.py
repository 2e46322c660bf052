"""Registered rules: a safe evaluator (never eval), undecided on missing data, errors at lock."""

from __future__ import annotations

import ast
import builtins

import pytest

from exante import rules
from exante.errors import RuleError
from exante.scope import build_scope
from exante.spec import load_plan


def cell(mean, n=3, **extra):
    return {"name": extra.pop("name", "c"), "mean": mean, "sd": None if mean is None else 0.1,
            "n": n if mean is not None else 0, "min": mean, "max": mean, **extra}


def scope(base=1.0, *arms):
    views = [cell(m, name=f"arm{i}") for i, m in enumerate(arms)]
    b = cell(base, name="baseline")
    return {"baseline": b, "arms": views, "cells": [b, *views],
            "experiment": views[0] if views else None, "best": None, "traps": {}, "tau": None}


def value(text, sc):
    return rules.parse(text, where="decision.acceptance").evaluate(sc)


# ---------------------------------------------------------------- never eval


def test_rules_are_parsed_to_a_tree_and_never_compiled_or_evaluated(monkeypatch):
    real_compile = builtins.compile

    def ast_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "a rule was compiled to code"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec reached")

    monkeypatch.setattr(builtins, "compile", ast_only)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    sc = scope(1.0, 2.0, 0.5)
    assert value("any(a.mean < baseline.mean for a in arms)", sc) is True
    assert value("all(a.mean > baseline.mean for a in arms)", sc) is False
    assert value("abs(experiment.mean - baseline.mean) / baseline.sd >= 2", sc) is True
    assert value("len([c for c in cells if c.mean > 0.9]) == 2", sc) is True


@pytest.mark.parametrize("text", [
    "().__class__", "().__class__.__bases__[0].__subclasses__()", "baseline.__dict__",
    "baseline._private", "__import__('os')", "__builtins__", "globals()", "locals()", "vars()",
    "getattr(baseline, 'mean')", "open('x')", "eval('1')", "exec('1')", "compile('1','','eval')",
    "type(baseline)", "lambda: 1", "(lambda: 1)()", "baseline.mean.__class__",
    "[c for c in ().__class__.__mro__]", "abs.__self__", "min.__call__(1)", "f'{baseline}'",
    "{'a': 1}", "{1, 2}", "baseline.mean if baseline else 0", "(x := 1)", "arms[::-1]",
    "[*arms]", "baseline.mean ** 1000", "abs(x=1)", "baseline.mean // 1", "b''", "...",
    "1j", "[c for c in arms for d in arms]", "[(a, b) for (a, b) in arms]", "await x",
    "yield 1", "import os", "baseline.mean; 1",
])
def test_escapes_are_refused_at_parse_time(text):
    with pytest.raises(RuleError) as exc:
        rules.parse(text, where="kill[0].when", file="prereg.yaml")
    message = str(exc.value)
    assert message.startswith("prereg.yaml: kill[0].when: ") and "\n" not in message


def test_unknown_names_and_attributes_are_named():
    with pytest.raises(RuleError, match=r"unknown name 'acc'"):
        rules.parse("acc > 0.9", where="decision.acceptance")
    with pytest.raises(RuleError, match=r"unknown attribute 'accuracy'"):
        rules.parse("baseline.accuracy > 0.9", where="decision.acceptance")


# ---------------------------------------------------------------- None: undecided, never True


@pytest.mark.parametrize("text", [
    "experiment.mean > baseline.mean", "not experiment.mean > baseline.mean",
    "experiment.mean - baseline.mean >= 0", "abs(experiment.mean) >= 0",
    "experiment.mean == experiment.mean", "experiment.mean > baseline.mean and True",
    "experiment.mean > baseline.mean or False", "-experiment.mean < 0",
    "max(experiment.mean, baseline.mean) > 0",
])
def test_a_rule_on_a_cell_without_runs_is_undecided(text):
    assert value(text, scope(1.0, None)) is None


def test_short_circuits_decide_despite_a_missing_value():
    sc = scope(1.0, None)
    assert value("experiment.mean > baseline.mean or baseline.mean > 0", sc) is True
    assert value("experiment.mean > baseline.mean and baseline.mean < 0", sc) is False


def test_an_aggregate_over_cells_with_a_missing_one_is_undecided():
    """min() over arms where one arm has no finished run must not decide from the others:
    "every arm beats the baseline" cannot be true while an arm's result is unknown."""
    sc = scope(1.0, 2.0, None)
    assert value("all(a.mean > baseline.mean for a in arms)", sc) is None
    assert value("min(a.mean for a in arms) > baseline.mean", sc) is None


def test_scope_built_from_a_plan_with_an_unrun_arm_is_undecided(make_plan):
    plan = load_plan(make_plan("scope"))
    sc = build_scope(plan, {"baseline": [0.1, 0.2, 0.3]})  # the arm has no runs yet
    assert sc["experiment"]["mean"] is None
    assert value(plan.decision.acceptance, sc) is None
    sc = build_scope(plan, {"baseline": [0.1, 0.2, 0.3], "treated": [float("nan")] * 3})
    assert value(plan.decision.acceptance, sc) is None  # every run failed: still unknown
    sc = build_scope(plan, {"baseline": [0.1, 0.2, 0.3], "treated": [1.1, 1.2, 1.3]})
    assert value(plan.decision.acceptance, sc) is True


# ---------------------------------------------------------------- any / all


@pytest.mark.parametrize("means, any_, all_", [
    ((2.0, 2.0), True, True),
    ((2.0, 0.0), True, False),
    ((0.0, 0.0), False, False),
    ((2.0, None), True, None),   # one arm already beats it: any is decided
    ((0.0, None), None, False),  # one arm already fails: all is decided
    ((None, None), None, None),
    ((), False, True),
])
def test_any_and_all_decide_as_soon_as_the_known_values_allow(means, any_, all_):
    sc = scope(1.0, *means)
    assert value("any(a.mean > baseline.mean for a in arms)", sc) is any_
    assert value("all(a.mean > baseline.mean for a in arms)", sc) is all_


def test_a_comprehension_does_not_rebind_names_outside_it():
    """`experiment` inside the generator is a loop variable; outside it is still the experiment."""
    sc = scope(1.0, 5.0, 0.0)  # experiment = arm0 (5.0); the last arm is 0.0
    text = "any(experiment.mean > 0 for experiment in arms) and experiment.mean > 4"
    assert value(text, sc) is True


# ---------------------------------------------------------------- at lock time


@pytest.mark.parametrize("field, text, needle", [
    ("acceptance", "acc > 0.9", "unknown name 'acc'"),
    ("acceptance", "experiment.accuracy > 0.9", "unknown attribute 'accuracy'"),
    ("acceptance", "__import__('os').getcwd() == ''", "only the functions"),
])
def test_lock_refuses_a_bad_rule_naming_the_yaml_path(make_plan, cli, field, text, needle):
    plan = make_plan("badrule", decision={"rule": "threshold", field: text})
    before = plan.read_bytes()

    result = cli("lock", plan)

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert f"{plan}: decision.{field}: " in result.stderr and needle in result.stderr
    assert plan.read_bytes() == before and not (plan.parent / "ledger.jsonl").exists()


@pytest.mark.parametrize("text", [
    "abs() > 1", "len(arms, arms) > 1", "experiment.mean < 'a'", "experiment.name > 1",
    "sum(1) > 0",
])
def test_lock_refuses_a_rule_that_cannot_be_evaluated(make_plan, cli, text):
    """A rule that parses but fails on numbers (wrong arity, str vs float) is refused at lock
    with exit 2 and one line, not a traceback at lock or, worse, mid-sweep."""
    plan = make_plan("typerule", decision={"rule": "threshold", "acceptance": text})

    result = cli("lock", plan)

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "decision.acceptance" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
