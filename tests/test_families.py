"""Verdict families are plug-ins: the built-in four, and a toy one added as one file."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from exante import families
from exante.errors import PlanError

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from records_helpers import invoke  # noqa: E402


def test_builtin_families_are_registered_in_order():
    assert families.names()[:4] == ("threshold", "tiers", "sigma", "factorial")
    for name in families.names():
        family = families.get(name)
        assert family.name == name and family.verdicts
    with pytest.raises(Exception, match="no verdict family 'nope'"):
        families.get("nope")


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    """Install tests/fixtures/toy_family.py the way a package would: an entry point."""
    site = tmp_path / "site"
    dist = site / "exante_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: exante-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{families.ENTRY_POINTS}]\nmajority = toy_family:MajorityFamily\n")
    monkeypatch.syspath_prepend(str(site))
    families.reload()
    yield
    monkeypatch.undo()
    families.reload()


PLAN = """\
experiment_id: toy-{n}
hypothesis: lr 2 beats lr 1 on most seeds
metrics:
  primary: {{name: acc, direction: higher}}
design:
  arms:
    better: {{lr: 2}}
  baseline: {{lr: 1}}
  seeds: [1, 2, 3, 4]
trial:
  python: toy_trial_{n}:train
decision:
  rule: majority
  share: {share}
sha256: ""
"""


def _plan(folder: Path, n: int, share) -> Path:
    folder.mkdir(parents=True)
    (folder / f"toy_trial_{n}.py").write_text(textwrap.dedent("""\
        def train(params, seed, ctx):
            return {"acc": 0.5 + 0.05 * params["lr"] + 0.01 * (seed % 3)}
        """))
    plan = folder / "prereg.yaml"
    plan.write_text(PLAN.format(n=n, share=share))
    return plan


def test_toy_family_end_to_end(tmp_path, toy_installed):
    assert "majority" in families.names()
    plan = _plan(tmp_path / "experiments" / "toy-1", 1, 0.5)
    for verb in ("lock", "run", "decide", "report"):
        args = (verb, plan, "--executor", "inline") if verb == "run" else (verb, plan)
        result = invoke(*args)
        assert result.exit_code == 0, (verb, result.output)
    out = json.loads((plan.parent / "result.json").read_text())
    assert out["rule"] == "majority" and out["verdict"] == "PASS"
    assert out["verdict_reasons"] == ["100% of the arm's seeds beat the baseline mean "
                                      "(needs > 50%)"]
    assert out["design_check"]["note"] == "simulated majority vote against the baseline mean"
    assert 0 <= out["design_check"]["false_pass_rate"] < out["design_check"]["power"] <= 1
    report = (plan.parent / "report.md").read_text()
    assert "majority: PASS when more than 50% of the arm's seeds beat the baseline mean" in report


def test_toy_family_parses_its_own_block(tmp_path, toy_installed):
    from exante.spec import load_plan

    with pytest.raises(PlanError, match=r"decision.share"):
        load_plan(_plan(tmp_path / "a", 2, 1.5))
    assert load_plan(_plan(tmp_path / "b", 3, 0.75)).decision.options == {"share": 0.75}


def test_unknown_family_is_a_plan_error(tmp_path):
    from exante.spec import load_plan

    with pytest.raises(PlanError, match="decision.rule.*one of threshold, tiers, sigma, "
                                        "factorial"):
        load_plan(_plan(tmp_path / "c", 4, 0.5))  # majority is not installed here
