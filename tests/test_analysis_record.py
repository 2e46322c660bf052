"""`Analysis.to_dict` / `from_dict`: the numbers a verdict rests on, kept and read back as JSON."""

from __future__ import annotations

import json

import pytest

from exante import families
from exante.analysis import NUMBERS, Analysis, analyse
from exante.errors import InputError
from exante.experiment import open_experiment

# one experiment per built-in family that the fixture registry decided for real
DECIDED = ["compress-4-layer", "lr-warmup-v1", "mlp-ablation-v1", "swiglu-1M"]


@pytest.mark.parametrize("name", DECIDED)
def test_the_numbers_round_trip_and_decide_the_same(shared_registry, name):
    exp = open_experiment(shared_registry / name / "prereg.yaml")
    analysis = analyse(exp)
    kept = analysis.to_dict()
    assert set(kept) == set(NUMBERS)
    text = json.dumps(kept)  # plain JSON: nothing that points back at the files
    again = Analysis.from_dict(json.loads(text), exp)
    family = families.get(exp.plan.decision.rule)
    assert family.decide(exp.plan, again) == family.decide(exp.plan, analysis)
    assert again.to_dict() == kept
    assert again.results == analysis.results and again.plan is exp.plan


def test_a_partial_analysis_is_refused_by_name(shared_registry):
    exp = open_experiment(shared_registry / "lr-warmup-v1" / "prereg.yaml")
    kept = analyse(exp).to_dict()
    del kept["comparisons"]
    with pytest.raises(InputError, match="needs comparisons"):
        Analysis.from_dict(kept, exp)
