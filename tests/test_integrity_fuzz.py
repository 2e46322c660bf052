"""Fuzz: generated plans through the CLI end in an exit code, never a traceback (issue 18, item 6).

Each example starts from a valid plan and mutates it: a section replaced by a
random value (huge integers, NaN, unicode, nested lists and maps), a key
dropped or added, a generated rule expression, or an adversarial YAML fragment
(deep nesting, 4,300+ digit integers, alias bombs, python tags). Every plan
goes through `lock`, `verify` and `status`; each must exit 0, 1 or 2 with no
exception escaping. 300 plans in CI; ``EXANTE_FUZZ_PLANS=10000`` for the full run.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import invoke  # noqa: E402

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PLANS = int(os.environ.get("EXANTE_FUZZ_PLANS", "300"))
TRIAL = "def train(params, seed, ctx):\n    return {'score': float(seed)}\n"
_COUNTER = itertools.count()
STATS = {"plans": 0, "exit": {}}


class Raw(str):
    """A scalar token written as-is (an integer YAML's dumper could not write itself)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Raw, lambda d, v: d.represent_scalar("tag:yaml.org,2002:int", str(v)))


def base_plan(eid: str) -> dict:
    return {"experiment_id": eid, "hypothesis": "x raises the score by at least one point",
            "metrics": {"primary": {"name": "score", "direction": "higher"}},
            "design": {"baseline": {"x": 0}, "arms": {"a": {"x": 1}}, "seeds": [1, 2, 3]},
            "trial": {"python": "fuzztrial:train"},
            "decision": {"rule": "threshold", "acceptance": "experiment.mean > baseline.mean"},
            "kill": [{"name": "low", "when": "baseline.mean < -1"}]}


huge = st.integers(4200, 4500).map(lambda n: Raw(("-" if n % 2 else "") + "7" * n))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), huge,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    st.sampled_from(["", "..", "../x", "a/b", "<script>x</script>", "$(id)",
                                     "{seed}", "{nope}", "\u202e", "NaN", "-0", "1e309"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)

_ATOMS = ["baseline.mean", "experiment.mean", "best.sd", "arm.mean", "cell.p", "tau.value",
          "1", "0.5", "-2", "len(arms)", "traps['t']", "x", "arms[0].mean", "None", "'s'"]
rule_text = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" + ", " * ", " / ", " < ", " >= ", " and ", " or ",
                                          " % ", " ** ", " == "]), inner).map("".join),
        inner.map(lambda s: f"({s})"), inner.map(lambda s: f"not {s}"),
        inner.map(lambda s: f"any({s} for arm in arms)"),
        inner.map(lambda s: f"sum([{s} for x in [0,0,0,0,0,0,0,0,0,0]])"),
        inner.map(lambda s: f"max({s}, 1)")),
    max_leaves=20)

FRAGMENTS = [
    "[" * 3000 + "]" * 3000, "{a: " * 2000 + "1" + "}" * 2000, "9" * 4301, "-" + "1" * 5000,
    "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "&a [*a]", "*undefined",
    "[" * 90 + "1" + "]" * 90, "{" + ", ".join(f"k{i}: {i}" for i in range(300)) + "}",
    "'" + "x" * 100000 + "'", ".nan", "-.inf", "0x" + "f" * 4000, "1_000_000", "2001-12-14",
]
KEYS = ["experiment_id", "hypothesis", "metrics", "design", "trial", "decision", "kill", "traps",
        "tau", "failures", "seed_protocol", "data", "code", "retracts", "analysis", "notes"]
PATHS = [("design", "seeds"), ("design", "arms"), ("design", "baseline"), ("design", "fixed"),
         ("design", "factors"), ("metrics", "primary"), ("metrics", "primary", "direction"),
         ("trial", "python"), ("trial", "timeout"), ("trial", "command"), ("decision", "rule"),
         ("decision", "acceptance"), ("decision", "sigma_guess"), ("kill",), ("traps",),
         ("experiment_id",), ("hypothesis",), ("failures",), ("data",), ("code",)]


def _set(plan: dict, path: tuple, value) -> None:
    node = plan
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


@st.composite
def plans(draw) -> str:
    plan = base_plan(f"f{next(_COUNTER)}")
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["set", "drop", "rule", "kill_rule", "add"]))
        if kind == "set":
            _set(plan, draw(st.sampled_from(PATHS)), draw(values))
        elif kind == "drop":
            plan.pop(draw(st.sampled_from(KEYS)), None)
        elif kind == "rule":
            _set(plan, ("decision", "acceptance"), draw(rule_text))
        elif kind == "kill_rule":
            plan["kill"] = [{"name": "k", "when": draw(rule_text)}]
        else:
            plan[draw(st.text(min_size=1, max_size=10))] = draw(values)
    text = yaml.dump(plan, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    if draw(st.integers(0, 3)) == 0:  # an adversarial fragment overrides one section
        text += f"{draw(st.sampled_from(KEYS))}: {draw(st.sampled_from(FRAGMENTS))}\n"
    return text + 'sha256: ""\n'


def _no_traceback(result, args) -> None:
    code = result.exit_code
    STATS["exit"][code] = STATS["exit"].get(code, 0) + 1
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed and code in (0, 1, 2) and "Traceback" not in result.output, (
        args, code, repr(result.exception), result.output[-2000:])


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="exante-fuzz-") as tmp:
        yield Path(tmp)
    print(f"\nfuzz: {STATS['plans']} plans, exit codes {STATS['exit']}")


@settings(max_examples=PLANS, deadline=None, database=None, derandomize=PLANS <= 300,
          suppress_health_check=list(HealthCheck))
@given(text=plans())
def test_generated_plans_never_end_in_a_traceback(workdir, text):
    folder = workdir / "experiments" / f"p{next(_COUNTER)}"
    folder.mkdir(parents=True)
    (folder / "fuzztrial.py").write_text(TRIAL)
    plan = folder / "prereg.yaml"
    plan.write_text(text, encoding="utf-8")
    STATS["plans"] += 1
    for args in (("lock", plan), ("verify", plan), ("status", plan, "--json")):
        _no_traceback(invoke(*args), args)
