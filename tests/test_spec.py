"""Malformed plans: one line naming the file and the YAML path, exit 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import plan_text
from exante.cli import main
from exante.errors import InputError, PlanError
from exante.spec import load_plan, plan_from_mapping

# A plan that uses every section; the fuzzer breaks it in many small ways.
VALID = {
    "experiment_id": "fuzz-v1",
    "title": "Fuzzing the plan loader",
    "hypothesis": "x raises the score",
    "metrics": {"primary": {"name": "score", "direction": "higher", "unit": "points"},
                "secondary": [{"name": "loss", "direction": "lower"}]},
    "design": {"factors": {"x": [0, 1], "act": ["relu", "gelu"]}, "fixed": {"width": 8},
               "baseline": {"x": 0, "act": "relu"}, "seeds": [1, 2, 3]},
    "trial": {"python": "fuzz_trial:train", "timeout": 60, "env": {"OMP_NUM_THREADS": 1},
              "cost": "width * (x + 1) * (act == 'gelu')"},
    "analysis": {"alpha": 0.05, "ci": 0.95, "correction": "holm"},
    "decision": {"rule": "threshold", "acceptance": "all(a.mean > baseline.mean for a in arms)",
                 "smallest_effect": 1.0},
    "traps": [{"name": "shuffled", "params": {"x": 0}, "expect": "worse"},
              {"name": "oracle", "params": {"x": 1}, "check": "cell.min >= 0.9"}],
    "tau": {"params": {"x": 0}, "samples": 3, "margin": 0.1},
    "kill": [{"name": "hurts", "when": "any(a.mean < baseline.mean - 1 for a in arms)",
              "why": "it hurts"}],
    "failures": {"policy": "count_as_worst", "worst": 0.0},
    "data": [{"generator": "fuzz_trial:fingerprint", "params": {"n": 3}}],
    "retracts": [{"id": "old-v1", "reason": "leaky split"}],
}

RULE_PATHS = [("decision", "acceptance"), ("kill", 0, "when"), ("traps", 1, "check"),
              ("trial", "cost")]
HOSTILE_RULES = [
    "__import__('os').system('true')", "().__class__.__bases__[0].__subclasses__()",
    "baseline.__class__", "lambda: 1", "(lambda x: x)(1)", "open('/etc/passwd')",
    "eval('1')", "exec('x=1')", "globals()", "baseline.mean ** 99", "[x for x in arms for y in arms]",
    "baseline.mean if 1 else 0", "{1: 2}", "f'{baseline}'", "unknown_name > 1", "baseline.nope",
    "baseline.mean >", "", "   ", "x := 1", "import os", "arms[0:2]", "b'bytes'", "1j",
    "baseline._private", "min(baseline.mean, key=abs)", "print(1)", "getattr(baseline, 'mean')",
    "a\x00b",
]

# ---------------------------------------------------------------- strategies

JUNK = [None, True, False, 0, -1, 7, 10**400, -(10**400), 0.5, float("nan"), float("inf"), "",
        "text", "0.05", "higher", [], [1, "a"], [[]], [None], {}, {"k": 1}, {"a": {"b": []}},
        {1: 2}, {"name": None}]
junk = st.one_of(st.sampled_from(JUNK), st.integers(), st.text(max_size=8))
rule_text = st.one_of(st.sampled_from(HOSTILE_RULES), st.text(max_size=30),
                      st.text(alphabet="abelinmstx_.()[]<>=!+-*/ '\"0123456789", max_size=40))
OPS = ["delete", "swap", "swap", "unknown_key", "rule", "wrap", "id"]
BAD_IDS = ["../x", "a/b", "..", "", ".hidden", "x" * 200, "white space", "../../etc", "a\x00b"]


def _paths(node) -> list[tuple]:
    """Every location in the plan tree (a tuple of keys and indices), the root excluded."""
    out, todo = [], [((), node)]
    while todo:
        prefix, value = todo.pop()
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, child in items:
            out.append(prefix + (key,))
            todo.append((prefix + (key,), child))
    return out


def _copy(node):
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    return [_copy(v) for v in node] if isinstance(node, list) else node


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def mutated_plans(draw):
    """The valid plan with 1-3 breakages: deleted keys, swapped types, unknown keys, bad rules,
    wrong shapes, bad ids."""
    plan = _copy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(OPS))
        if op == "rule":
            path = draw(st.sampled_from(RULE_PATHS))
            try:
                _get(plan, path[:-1])[path[-1]] = draw(rule_text)
            except (KeyError, IndexError, TypeError):
                pass
            continue
        if op == "id":
            plan["experiment_id"] = draw(st.sampled_from(BAD_IDS))
            continue
        locations = _paths(plan) or [("experiment_id",)]
        path = locations[draw(st.integers(0, len(locations) - 1))]
        parent, key = _get(plan, path[:-1]), path[-1]
        if op == "delete":
            del parent[key]
        elif op == "swap":  # a copy: JUNK's own lists and dicts must never be edited in place
            parent[key] = _copy(draw(junk))
        elif op == "wrap":  # the right value in the wrong shape
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
        elif isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["typo", "acceptence", "seed", "kil"]))] = 1
    return plan


def _write(folder: Path, plan: dict | str | bytes) -> Path:
    path = folder / f"{uuid.uuid4().hex[:10]}.yaml"
    if isinstance(plan, dict):
        plan = plan_text(plan)
    path.write_bytes(plan if isinstance(plan, bytes) else plan.encode("utf-8"))
    return path


def _assert_one_line_naming(exc: BaseException, path: Path) -> None:
    message = str(exc)
    assert isinstance(exc, (PlanError, InputError)), repr(exc)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="exante-spec-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("plans")


# ---------------------------------------------------------------- the valid plan is valid


def test_the_fuzzer_starts_from_a_valid_plan(folder):
    plan = load_plan(_write(folder, VALID))
    assert plan.experiment_id == "fuzz-v1" and len(plan.traps) == 2 and len(plan.kill) == 1


# ---------------------------------------------------------------- named cases


@pytest.mark.parametrize("label, edit, where", [
    ("wrong type", lambda p: p["design"]["factors"].update(x=5), "design.factors.x"),
    ("wrong level type", lambda p: p["design"]["factors"].update(x=[0, [1]]), "design.factors.x[1]"),
    ("unknown top-level key", lambda p: p.update(acceptence="x"), "acceptence"),
    ("unknown nested key", lambda p: p["decision"].update(acceptence="x"), "decision.acceptence"),
    ("missing primary metric", lambda p: p["metrics"].pop("primary"), "metrics.primary"),
    ("bad direction", lambda p: p["metrics"]["primary"].update(direction="up"),
     "metrics.primary.direction"),
    ("path-traversal id", lambda p: p.update(experiment_id="../x"), "experiment_id"),
    ("seed not an integer", lambda p: p["design"].update(seeds=[1, "two"]), "design.seeds[1]"),
    ("alpha out of range", lambda p: p["analysis"].update(alpha=2), "analysis.alpha"),
    ("unknown rule name", lambda p: p["decision"].update(acceptance="acc > 1"),
     "decision.acceptance"),
    ("import in a rule", lambda p: p["kill"][0].update(when="__import__('os')"), "kill[0].when"),
    ("lambda in a rule", lambda p: p["decision"].update(acceptance="(lambda: 1)()"),
     "decision.acceptance"),
    ("dunder attribute in a rule", lambda p: p["traps"][1].update(check="().__class__"),
     "traps[1].check"),
    ("factors not a mapping", lambda p: p["design"].update(factors=5), "design.factors"),
    ("arms not a mapping", lambda p: p["design"].update(arms=True), "design.arms"),
    ("a number too large for a float", lambda p: p["decision"].update(threshold=10**400),
     "decision.threshold"),
    ("NaN alpha", lambda p: p["analysis"].update(alpha=float("nan")), "analysis.alpha"),
    ("infinite tau margin", lambda p: p["tau"].update(margin=float("inf")), "tau.margin"),
    ("regex repeat too large", lambda p: p["trial"].update(metrics_regex={"s": "(a{99999999999})"}),
     "trial.metrics_regex.s"),
    ("trial target without a function", lambda p: p["trial"].update(python="just_a_module"),
     "trial.python"),
])
def test_malformed_plan_is_one_line_naming_file_and_path(folder, cli, label, edit, where):
    plan = _copy(VALID)
    edit(plan)
    path = _write(folder, plan)

    with pytest.raises(PlanError) as exc:
        load_plan(path)
    _assert_one_line_naming(exc.value, path)
    assert f"{path}: {where}: " in str(exc.value), (label, str(exc.value))

    result = cli("lock", path)
    assert result.exit_code == 2, (label, result.output)
    assert result.stderr.count("\n") == 1 and f"{where}: " in result.stderr, result.stderr
    assert result.stdout == "" and "Traceback" not in result.output
    assert "sha256: \"\"" in path.read_text(encoding="utf-8")  # nothing was sealed


def test_bad_yaml_names_the_line(folder, cli):
    path = _write(folder, "experiment_id: x\nhypothesis: [unclosed\nmetrics: {}\n")
    with pytest.raises(PlanError, match=r": line \d+: not valid YAML"):
        load_plan(path)
    result = cli("lock", path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


# ---------------------------------------------------------------- the fuzzer


def _single_breakages():
    """(label, plan) for every single breakage of VALID: each location deleted, wrapped in a
    list or a mapping, or swapped for each JUNK value; an unknown key in every mapping; each
    hostile rule in each rule field; each bad id."""
    for path in _paths(VALID):
        for op, value in [("delete", None), ("wrap", "list"), ("wrap", "dict")] + [
                ("swap", v) for v in JUNK]:
            plan = _copy(VALID)
            parent, key = _get(plan, path[:-1]), path[-1]
            if op == "delete":
                del parent[key]
            elif op == "wrap":
                parent[key] = [parent[key]] if value == "list" else {"value": parent[key]}
            else:
                parent[key] = value
            yield f"{op} {repr(value)[:30]} at {path}", plan
        if isinstance(_get(VALID, path), dict):
            plan = _copy(VALID)
            _get(plan, path)["typo"] = 1
            yield f"unknown key at {path}", plan
    for path in RULE_PATHS:
        for rule in HOSTILE_RULES:
            plan = _copy(VALID)
            _get(plan, path[:-1])[path[-1]] = rule
            yield f"rule {rule!r} at {path}", plan
    for bad in BAD_IDS:
        yield f"id {bad!r}", {**_copy(VALID), "experiment_id": bad}


def test_every_single_breakage_raises_a_plan_error_naming_its_path():
    """Thousands of broken plans, deterministic: each must be a PlanError (or load, when the
    breakage is harmless, like deleting an optional key), never another exception."""
    path = Path("experiments/fuzz/prereg.yaml")
    problems, count, refused = [], 0, 0
    for label, plan in _single_breakages():
        count += 1
        try:
            plan_from_mapping(plan, path)
        except (PlanError, InputError) as exc:
            refused += 1
            if "\n" in str(exc) or not str(exc).startswith(f"{path}: ") or not getattr(
                    exc, "path", "x"):
                problems.append(f"{label}: message {str(exc)!r}")
        except Exception as exc:  # noqa: BLE001 - the point of the test
            problems.append(f"{label}: {type(exc).__name__}: {exc}")
    assert count > 2000 and refused > count // 2
    assert not problems, f"{len(problems)} of {count}:\n" + "\n".join(problems[:15])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=mutated_plans())
def test_fuzzed_plans_raise_only_plan_errors(plan):
    """Combinations of breakages (the validator: the parsed-YAML half of load_plan)."""
    path = Path("experiments/fuzz/prereg.yaml")
    try:
        plan_from_mapping(plan, path)
    except (PlanError, InputError) as exc:
        _assert_one_line_naming(exc, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=mutated_plans())
def test_fuzzed_plan_files_raise_only_plan_errors(folder, plan):
    """The same through YAML files and load_plan (slower: YAML parsing is pure Python)."""
    path = _write(folder, plan)
    try:
        load_plan(path)
    except (PlanError, InputError) as exc:
        _assert_one_line_naming(exc, path)
    finally:
        path.unlink()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200),
                      st.binary(max_size=200),
                      st.lists(st.sampled_from(["experiment_id: x", "hypothesis: h", "metrics:",
                                                "  primary: {name: s, direction: higher}",
                                                "- a", "  - b", ": :", "{", "[", "&a x", "*a",
                                                "!!python/object:os.system x", "? x", "\t",
                                                "'", '"', "%YAML 1.1", "---", "..."]),
                               max_size=8).map("\n".join)))
def test_random_text_raises_only_plan_errors(folder, text):
    path = _write(folder, text)
    try:
        load_plan(path)
    except (PlanError, InputError) as exc:
        _assert_one_line_naming(exc, path)
    finally:
        path.unlink()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(plan=mutated_plans())
def test_fuzzed_plans_at_the_cli_exit_2_with_one_line(folder, plan):
    cli = CliRunner()
    path = _write(folder, plan)
    try:
        load_plan(path)
    except (PlanError, InputError):
        pass
    else:
        assume(False)  # still valid: locking it would seal it, which is another test's business
    try:
        result = cli.invoke(main, ["lock", str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"error: {path}: "), result.stderr
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                         SystemExit)
    finally:
        path.unlink()


def test_a_real_process_prints_one_line_and_no_traceback(folder):
    marker = folder / "pwned"
    plan = _copy(VALID)
    plan["kill"][0]["when"] = f"__import__('os').system('touch {marker}')"
    path = _write(folder, plan)
    proc = subprocess.run([sys.executable, "-c", "from exante.cli import main; main()",
                           "lock", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == "" and not marker.exists()
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {path}: kill[0].when: ")
