"""holm against statsmodels; Welch TOST against statsmodels ttost_ind."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from exante.errors import InputError
from exante.stats import StatFlag, expected_false_passes, familywise_false_pass, holm, tost
from exante.stats.multiplicity import holm_rows

TOL = 1e-9
BASE = [0.812, 0.797, 0.834, 0.805, 0.821]
EXP = [0.815, 0.809, 0.802, 0.818, 0.811]


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.2], [0.5], [0.001, 0.001, 0.9, 0.02, 0.04],
                               [0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01, 0.0]])
def test_holm_matches_statsmodels(p):
    ref = multipletests(p, method="holm")[1]
    assert holm(p) == pytest.approx(list(ref), abs=TOL)


def holm_by_definition(p):
    """Adjusted p of the i-th smallest: max over j <= i of min(1, (m - j + 1) p_(j))."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


# statsmodels' multipletests runs gc.collect() on every call (~0.1-0.3 s), so the
# property tests use the textbook definition, itself pinned to statsmodels above.
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_holm_matches_the_definition(p):
    assert holm(p) == pytest.approx(holm_by_definition(p), abs=TOL)


def test_holm_passes_none_and_nan_through():
    out = holm([0.01, None, float("nan"), 0.04])
    ref = multipletests([0.01, 0.04], method="holm")[1]
    assert out[1] is None and out[2] is None
    assert [out[0], out[3]] == pytest.approx(list(ref), abs=TOL)
    assert holm([]) == [] and holm([None]) == [None]


def test_holm_rejects_non_probabilities():
    with pytest.raises(InputError):
        holm([0.1, 1.5])


def test_holm_rows_is_rowwise_holm():
    rng = np.random.default_rng(0)
    p = rng.random((40, 7))
    p[0, 3] = p[0, 5]  # a tie
    out = holm_rows(p)
    for row, adj in zip(p, out):
        assert list(adj) == pytest.approx(holm_by_definition(list(row)), abs=TOL)
    assert list(out[0]) == pytest.approx(list(multipletests(p[0], method="holm")[1]), abs=TOL)


def test_familywise_rates():
    assert familywise_false_pass(0.031, 1) == pytest.approx(0.031)
    assert familywise_false_pass(0.031, 18) == pytest.approx(1 - 0.969**18)
    assert expected_false_passes(0.031, 18) == pytest.approx(18 * 0.031)


# ---------------------------------------------------------------- TOST

@pytest.mark.parametrize("margin", [0.005, 0.02, 0.05])
def test_tost_matches_statsmodels_welch_tost(margin):
    r = tost(BASE, EXP, margin)
    p, lower, upper = ttost_ind(EXP, BASE, -margin, margin, usevar="unequal")
    assert r.p_value == pytest.approx(p, abs=TOL)
    assert r.p_lower == pytest.approx(lower[1], abs=TOL)
    assert r.p_upper == pytest.approx(upper[1], abs=TOL)
    # the CI rule and the two-p rule are the same decision
    assert r.equivalent == (r.p_value < 0.05)
    assert r.ci_level == pytest.approx(0.90)


def test_tost_interval_is_the_90_percent_welch_interval():
    from scipy import stats

    r = tost(BASE, EXP, 0.05)
    lo, hi = stats.ttest_ind(EXP, BASE, equal_var=False).confidence_interval(0.90)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=TOL)
    assert r.equivalent and -0.05 < r.ci_low and r.ci_high < 0.05


def test_tost_small_samples_are_usually_inconclusive():
    r = tost(BASE[:3], EXP[:3], 0.005)
    assert not r.equivalent


def test_tost_direction_flips_the_interval_only():
    hi, lo = tost(BASE, EXP, 0.02), tost(BASE, EXP, 0.02, direction="lower")
    assert lo.mean_diff == pytest.approx(-hi.mean_diff)
    assert (lo.ci_low, lo.ci_high) == pytest.approx((-hi.ci_high, -hi.ci_low))
    assert lo.p_value == pytest.approx(hi.p_value) and lo.equivalent == hi.equivalent


def test_tost_degenerate_and_bad_margin():
    r = tost([1.0] * 3, [1.0] * 3, 0.1)
    assert not r.equivalent and StatFlag.DEGENERATE in r.flags
    json.dumps(r.to_dict(), allow_nan=False)
    assert StatFlag.INSUFFICIENT_DATA in tost([1.0], [1.0, 2.0], 0.1).flags
    with pytest.raises(InputError, match="margin"):
        tost(BASE, EXP, 0.0)
    assert not math.isnan(tost(BASE + [float("nan")], EXP, 0.05).p_value)
