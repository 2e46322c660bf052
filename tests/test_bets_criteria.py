"""Issue 13: a bet's criteria are read from the sealed module with the AST and judged by exante."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from bet_helpers import make_bet  # noqa: E402

from exante.bets import outcome_of  # noqa: E402
from exante.events import Event  # noqa: E402
from exante.families import bet as family  # noqa: E402
from exante.history import History  # noqa: E402
from exante.registry import build_catalogue  # noqa: E402


@pytest.fixture
def project(tmp_path) -> Path:
    return tmp_path / "proj"


def test_a_positive_verdict_whose_noise_floor_passes_is_not_positive(project, cli):
    clean = make_bet(project, "clean", gain=1.0, control=0.0)
    leaky = make_bet(project, "leaky", gain=1.0, control=1.0)  # random tokens do as well
    for bet in (clean, leaky):
        assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    assert outcome_of(clean).verdict == "STRICT"
    result = outcome_of(leaky)
    assert result.verdict == "INCONCLUSIVE"
    assert result.runs[0].values["strict"] is True  # the method alone would have been STRICT
    assert result.runs[0].controls == {"random_tokens": False}
    assert any("control random_tokens did not fail as registered" in r for r in result.reasons)
    cat = build_catalogue(project / "experiments")
    assert cat.by_id("02_leaky").traps["misbehaved"] == ["random_tokens"]
    assert cat.by_id("01_clean").traps["behaved"] == 1


def test_a_negative_verdict_stays_negative_whatever_the_control_does(project, cli):
    bet = make_bet(project, "flat", gain=0.0, control=1.0)
    assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    assert outcome_of(bet).verdict == "FAIL"


def test_lock_reads_the_criteria_without_running_the_module(project, cli):
    bet = make_bet(project, "probe")
    text = bet.read_text()
    bet.write_text(text.replace("\nGAIN_SCALE", '\nopen("RAN_AT_LOCK", "w")\nGAIN_SCALE', 1))
    assert cli("lock", bet).exit_code == 0
    assert not (project / "RAN_AT_LOCK").exists() and not Path("RAN_AT_LOCK").exists()
    locked = History.read(bet.parent / bet.stem / "ledger.jsonl").first(Event.LOCKED).data
    assert locked["bet"]["reads"] == {"catastrophic": ["gain"], "strict": ["gain"],
                                      "lenient": ["gain"]}
    assert locked["bet"]["constants"]["STRICT_MIN_GAIN"] == 0.15
    assert locked["bet"]["tiers"]["strict"] == "gain >= STRICT_MIN_GAIN"
    assert set(locked["fingerprints"]) == {"code:_common.py"}


@pytest.mark.parametrize("old, new, message", [
    ('"gain >= STRICT_MIN_GAIN"', '"gain >= MISSING_BAR"', "unknown name 'MISSING_BAR'"),
    ('"gain >= STRICT_MIN_GAIN"', '"__import__(\'os\')"', "only the functions"),
    ('"gain >= STRICT_MIN_GAIN"', '"STRICT_MIN_GAIN > 0"', "reads no metric"),
    ("CRITERIA = {", "CRITERIA = dict(**{", "must be a literal"),
    ('"repeats": 1', '"repeats": 0', "whole number >= 1"),
    ('"expect": "FAIL"', '"expect": "PASS"', "must be registered to FAIL"),
])
def test_bad_criteria_are_refused_at_lock_and_nothing_is_sealed(project, cli, old, new, message):
    bet = make_bet(project, "probe")
    text = bet.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    if new.startswith("CRITERIA = dict"):
        text = text.replace('"not_claimed": ["anything at 1B parameters"],\n}',
                            '"not_claimed": ["anything at 1B parameters"],\n})')
    bet.write_text(text)
    result = cli("lock", bet)
    assert result.exit_code == 2, result.output
    assert message in result.output and "CRITERIA" in result.output
    assert 'sha256: ""' in bet.read_text()
    assert not (bet.parent / bet.stem / "ledger.jsonl").exists()


def test_judge_and_combine_follow_the_tier_order():
    c = family.BetCriteria("x.py", ("g",), {"strict": "g >= 0.5", "lenient": "g >= 0.1",
                                            "catastrophic": "g < -0.5"},
                           {"strict": ("g",), "lenient": ("g",), "catastrophic": ("g",)}, {})
    assert [family.judge(c, {"metrics": {"g": g}}).verdict for g in (0.9, 0.2, 0.0, -0.9)] == [
        "STRICT", "LENIENT", "FAIL", "CATASTROPHIC"]
    assert family.judge(c, {"metrics": {}}).verdict == "INCONCLUSIVE"
    assert family.combine(["STRICT", "STRICT"]) == "STRICT"
    assert family.combine(["STRICT", "LENIENT"]) == "LENIENT"
    assert family.combine(["STRICT", "FAIL"]) == "FAIL"
    assert family.combine(["FAIL", "CATASTROPHIC"]) == "CATASTROPHIC"


@pytest.mark.parametrize("statement", ["from experiments.bets._helpers import SCALE",
                                       "from ._helpers import SCALE",
                                       "from . import _helpers"])
def test_every_file_the_bet_imports_from_its_folder_is_sealed(project, cli, statement):
    bet = make_bet(project, "probe")
    (bet.parent / "_helpers.py").write_text("SCALE = 1.0\n")
    bet.write_text(bet.read_text().replace("import random\n", f"import random\n\n{statement}\n",
                                           1))
    locked = cli("lock", bet)
    assert locked.exit_code == 0 and "code:_helpers.py" in locked.output, locked.output
    (bet.parent / "_helpers.py").write_text("SCALE = 2.0\n")
    ran = cli("run", bet)
    assert ran.exit_code == 1 and "code:_helpers.py" in ran.output
