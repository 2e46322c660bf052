"""describe / compare: reference values from scipy, edge cases, invariants."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import special, stats

from exante.errors import InputError
from exante.stats import StatFlag, compare, describe, hedges_j
from exante.stats import effect
from exante.stats.effect import d_interval, labels_spanned

TOL = 1e-9
BASE = [0.812, 0.797, 0.834, 0.805, 0.821]
EXP3 = [0.851, 0.839, 0.866]
EXP5 = EXP3 + [0.842, 0.858]


def close(a, b, tol=TOL):
    return a == pytest.approx(b, rel=tol, abs=tol)


# ---------------------------------------------------------------- describe

def test_describe_matches_numpy_and_scipy():
    s = describe(BASE)
    x = np.array(BASE)
    ci = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (s.n, s.n_failed) == (5, 0)
    assert close(s.mean, x.mean()) and close(s.sd, x.std(ddof=1))
    assert close(s.sem, stats.sem(x)) and close(s.median, np.median(x))
    assert (s.min, s.max) == (min(BASE), max(BASE))
    assert close(s.ci_low, ci[0]) and close(s.ci_high, ci[1])
    assert s.flags == ()


def test_describe_counts_failed_runs_and_never_drops_them_silently():
    s = describe([1.0, float("nan"), 2.0, float("inf"), None, 3.0])
    assert (s.n, s.n_failed, s.mean) == (3, 3, 2.0)
    assert StatFlag.FAILED_RUNS in s.flags


def test_describe_float_noise_is_zero_variance():
    assert np.std([0.2, 0.2, 0.2], ddof=1) > 0  # the trap this rule exists for
    s = describe([0.2, 0.2, 0.2])
    assert s.sd == 0.0 and s.sem == 0.0 and s.ci_low == s.ci_high == s.mean
    assert s.flags == (StatFlag.ZERO_VARIANCE,)


@pytest.mark.parametrize("values", [[1.5], [float("nan"), 1.5]])
def test_describe_single_run_has_no_sd(values):
    s = describe(values)
    assert s.n == 1 and s.mean == 1.5 and s.sd is None and s.ci_low is None
    assert StatFlag.INSUFFICIENT_DATA in s.flags


def test_describe_all_failed():
    d = describe([float("nan")] * 2).to_dict()
    assert d["n"] == 0 and d["n_failed"] == 2 and d["mean"] is None
    assert d["flags"] == ["FAILED_RUNS", "INSUFFICIENT_DATA"]


# ---------------------------------------------------------------- compare vs scipy

@pytest.mark.parametrize("exp", [EXP3, EXP5, [0.79, 0.83, 0.80, 0.77]])
@pytest.mark.parametrize("ci", [0.95, 0.9])
def test_compare_matches_scipy_welch(exp, ci):
    c = compare(BASE, exp, ci=ci)
    ref = stats.ttest_ind(exp, BASE, equal_var=False)
    lo, hi = ref.confidence_interval(ci)
    assert close(c.mean_diff, np.mean(exp) - np.mean(BASE))
    assert close(c.welch_t, ref.statistic) and close(c.welch_df, ref.df)
    assert close(c.p_value, ref.pvalue)
    assert close(c.ci_low, lo) and close(c.ci_high, hi)
    greater = stats.ttest_ind(exp, BASE, equal_var=False, alternative="greater")
    assert close(c.p_better, greater.pvalue) and close(c.p_better + c.p_worse, 1.0)
    assert c.significant == (ref.pvalue < 0.05)


def test_compare_lower_is_better_flips_orientation_against_scipy():
    c = compare(BASE, EXP3, direction="lower")
    ref = stats.ttest_ind(EXP3, BASE, equal_var=False)
    lo, hi = ref.confidence_interval(0.95)
    assert close(c.mean_diff, -(np.mean(EXP3) - np.mean(BASE)))
    assert close(c.welch_t, -ref.statistic) and close(c.p_value, ref.pvalue)
    assert close(c.ci_low, -hi) and close(c.ci_high, -lo)
    u = stats.mannwhitneyu(BASE, EXP3).statistic
    assert close(c.prob_improvement, u / (len(BASE) * len(EXP3)))


def test_effect_sizes_match_their_definitions():
    b, e = np.array(BASE), np.array(EXP3)
    sb, se = b.std(ddof=1), e.std(ddof=1)
    nb, ne = b.size, e.size
    delta = e.mean() - b.mean()
    sp = math.sqrt(((ne - 1) * se**2 + (nb - 1) * sb**2) / (ne + nb - 2))
    m = ne + nb - 2
    j = special.gamma(m / 2) / (math.sqrt(m / 2) * special.gamma((m - 1) / 2))
    c = compare(b, e)
    assert close(c.cohens_d, delta / math.sqrt((sb**2 + se**2) / 2))
    assert close(c.cohens_d_pooled, delta / sp)
    assert close(c.hedges_g, delta / sp * j)
    assert close(c.z_base_sigma, delta / sb)
    assert close(c.z_pooled_sigma, c.cohens_d)
    assert c.d_label.value == "large"


def test_d_protocol_equals_d_s_when_groups_are_equal_size():
    c = compare(BASE, EXP5)
    assert close(c.cohens_d, c.cohens_d_pooled)


def test_hedges_j_exact_gamma_not_the_approximation():
    for m in (2, 4, 6, 10, 40):
        ref = special.gamma(m / 2) / (math.sqrt(m / 2) * special.gamma((m - 1) / 2))
        assert close(hedges_j(m), ref)
    # the common approximation is measurably off at small m
    assert abs(1 - 3 / (4 * 4 - 1) - hedges_j(4)) / hedges_j(4) > 0.002


@pytest.mark.parametrize("d,nb,ne", [(2.95, 5, 3), (0.3, 5, 5), (-1.2, 4, 6), (0.0, 3, 3)])
def test_d_interval_inverts_the_noncentral_t(d, nb, ne):
    lo, hi = d_interval(d, nb, ne, 0.95)
    k = math.sqrt(nb * ne / (nb + ne))
    df = nb + ne - 2
    assert close(stats.nct.cdf(d * k, df, lo * k), 0.975, 1e-8)
    assert close(stats.nct.cdf(d * k, df, hi * k), 0.025, 1e-8)
    assert lo < d < hi


def test_d_interval_differs_from_the_normal_approximation():
    lo, hi = d_interval(2.95, 5, 3)
    se = math.sqrt(8 / 15 + 2.95**2 / 16)
    assert lo - (2.95 - 1.96 * se) < -0.1 or hi - (2.95 + 1.96 * se) > 0.05


def test_size_labels_spanned():
    assert [x.value for x in labels_spanned(-0.1, 0.6)] == ["negligible", "small", "medium"]
    assert [x.value for x in labels_spanned(0.9, 3.0)] == ["large"]
    assert [x.value for x in labels_spanned(-2.0, -0.3)] == ["small", "medium", "large"]


@pytest.mark.parametrize("b,e", [(BASE, EXP3), ([1, 2, 2, 3], [2, 2, 4]), ([0.5, 0.5], [0.5, 0.6])])
def test_prob_improvement_is_mann_whitney_u_over_nm(b, e):
    c = compare(b, e)
    assert close(c.prob_improvement, stats.mannwhitneyu(e, b).statistic / (len(e) * len(b)))


def brute_permutation_p(b, e):
    """scipy's two-sided exact permutation p of the mean difference (STATS.md section 2)."""
    res = stats.permutation_test((np.asarray(e, float), np.asarray(b, float)),
                                 lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                                 permutation_type="independent", alternative="two-sided",
                                 n_resamples=np.inf, vectorized=True)
    return float(res.pvalue)


@pytest.mark.parametrize("b,e", [(BASE, EXP3), (BASE, EXP5), ([1, 2, 3], [2, 3, 4]),
                                 ([1.0, 1.0, 2.0], [1.0, 2.0, 2.0]),
                                 ([1, 2, 3, 4, 5], [6, 7, 8]), ([6, 7, 8, 9, 10], [1, 2, 3]),
                                 ([1, 2, 3], [4, 5, 6]), ([0.1, 0.5, 0.2, 0.9, 0.4], [0.3, 0.8, 0.6])])
def test_permutation_p_is_exact(b, e):
    c = compare(b, e)
    assert c.permutation_exact and c.permutation_count == math.comb(len(b) + len(e), len(e))
    assert close(c.permutation_p, brute_permutation_p(b, e))


def test_permutation_p_of_separated_groups_is_the_smallest_attainable():
    """STATS.md: the smallest two-sided p is 0.10 (3 vs 3), 0.036 (3 vs 5), 0.0079 (5 vs 5)."""
    assert compare([1, 2, 3, 4, 5], [6, 7, 8]).permutation_p == pytest.approx(2 / 56)
    assert compare([1, 2, 3], [4, 5, 6]).permutation_p == pytest.approx(2 / 20)
    assert compare([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).permutation_p == pytest.approx(2 / 252)


def test_permutation_monte_carlo_above_the_cap(monkeypatch):
    monkeypatch.setattr(effect, "EXACT_PERMUTATION_CAP", 10)
    monkeypatch.setattr(effect, "MONTE_CARLO_PERMUTATIONS", 20_000)
    c1 = compare(BASE, EXP5, rng=np.random.default_rng(3))
    c2 = compare(BASE, EXP5, rng=np.random.default_rng(3))
    exact = brute_permutation_p(BASE, EXP5)
    assert not c1.permutation_exact and c1.permutation_count == 20_000
    assert StatFlag.PERMUTATION_MONTE_CARLO in c1.flags
    assert c1.permutation_p == c2.permutation_p
    assert abs(c1.permutation_p - exact) < 5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4


# ---------------------------------------------------------------- edge cases

def test_identical_constants_are_degenerate_not_evidence():
    c = compare([0.5] * 5, [0.5] * 3)
    assert c.mean_diff == 0.0
    assert c.welch_t is None and c.p_value is None and c.cohens_d is None
    assert {StatFlag.ZERO_VARIANCE, StatFlag.DEGENERATE} <= set(c.flags)


def test_different_constants_never_give_inf_t_or_zero_p():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns, then reports t = inf anyway
        assert np.isinf(stats.ttest_ind([2.0] * 3, [1.0] * 5, equal_var=False).statistic)
    c = compare([1.0] * 5, [2.0] * 3)
    d = c.to_dict()
    assert d["mean_diff"] == 1.0 and d["welch_t"] is None and d["p_value"] is None
    assert d["cohens_d"] is None and d["z_base_sigma"] is None
    assert "DEGENERATE" in d["flags"] and "ZERO_VARIANCE" in d["flags"]


def test_float_noise_variance_is_treated_as_zero():
    c = compare([0.2, 0.2, 0.2], [0.3, 0.3, 0.3])
    assert c.cohens_d is None and c.p_value is None  # raw numpy d would be ~1e15
    assert StatFlag.DEGENERATE in c.flags


def test_one_constant_group_keeps_welch_but_flags_it():
    c = compare([0.2, 0.2, 0.2], [0.25, 0.3, 0.28])
    ref = stats.ttest_1samp([0.25, 0.3, 0.28], 0.2)
    assert close(c.welch_t, ref.statistic) and close(c.p_value, ref.pvalue)
    assert c.z_base_sigma is None and StatFlag.ZERO_VARIANCE in c.flags
    assert StatFlag.DEGENERATE not in c.flags


@pytest.mark.parametrize("b,e", [([0.8], EXP3), (BASE, [0.9]), ([0.8], [0.9])])
def test_single_run_group_is_insufficient(b, e):
    c = compare(b, e)
    assert StatFlag.INSUFFICIENT_DATA in c.flags
    assert c.welch_t is None and c.cohens_d is None and c.hedges_g is None
    assert close(c.mean_diff, np.mean(e) - np.mean(b)) and c.prob_improvement is not None


def test_nan_runs_are_counted_and_excluded():
    nan = float("nan")
    c = compare(BASE + [nan], EXP3 + [nan, float("-inf")])
    ref = compare(BASE, EXP3)
    assert (c.n_base, c.n_exp, c.n_failed_base, c.n_failed_exp) == (5, 3, 1, 2)
    assert close(c.welch_t, ref.welch_t) and StatFlag.FAILED_RUNS in c.flags


def test_identical_groups():
    c = compare(BASE, BASE)
    assert c.mean_diff == 0.0 and c.welch_t == 0.0 and close(c.p_value, 1.0)
    assert c.cohens_d == 0.0 and c.prob_improvement == 0.5 and c.permutation_p == 1.0
    assert c.d_label.value == "negligible"


def test_empty_group_and_bad_direction():
    assert StatFlag.INSUFFICIENT_DATA in compare([], EXP3).flags
    with pytest.raises(InputError, match="direction"):
        compare(BASE, EXP3, direction="up")
    with pytest.raises(InputError, match="numbers"):
        describe([0.1, "eight"])


def test_to_dict_has_the_documented_keys_and_is_strict_json():
    keys = {"mean_diff", "ci_low", "ci_high", "welch_t", "welch_df", "p_value", "cohens_d",
            "cohens_d_pooled", "hedges_g", "d_ci_low", "d_ci_high", "prob_improvement",
            "permutation_p", "z_base_sigma", "z_pooled_sigma", "d_label", "d_labels_spanned",
            "n_base", "n_exp", "n_failed_base", "n_failed_exp", "direction", "flags"}
    for b, e in [(BASE, EXP3), ([1.0] * 3, [2.0] * 3), ([1.0], [float("nan")])]:
        d = compare(b, e).to_dict()
        assert keys <= set(d)
        json.dumps(d, allow_nan=False)
        assert all(type(v) in (int, float, bool, str, list, type(None)) for v in d.values())


# ---------------------------------------------------------------- invariants

groups = st.lists(st.integers(-1000, 1000).map(lambda i: i / 10), min_size=2, max_size=7)


@settings(max_examples=25, deadline=None)
@given(groups, groups)
def test_ci_contains_the_difference(b, e):
    c = compare(b, e)
    if c.ci_low is not None:
        assert c.ci_low <= c.mean_diff <= c.ci_high
    if c.d_ci_low is not None:
        assert c.d_ci_low <= c.cohens_d_pooled <= c.d_ci_high


@settings(max_examples=25, deadline=None)
@given(groups, groups)
# found by hypothesis: ties with the observed split that floating point broke one way only
@example([0.0, 0.0, 0.0, -73.5, -89.8], [0.0, 0.0, 0.1, 0.0, -99.6, -99.9])
def test_swapping_groups_flips_signs(b, e):
    c, s = compare(b, e), compare(e, b)
    assert close(c.mean_diff, -s.mean_diff)
    assert close(c.prob_improvement, 1 - s.prob_improvement)
    assert close(c.permutation_p, s.permutation_p)
    if c.welch_t is not None:
        assert close(c.welch_t, -s.welch_t) and close(c.p_value, s.p_value)
        assert close(c.ci_low, -s.ci_high) and close(c.cohens_d, -s.cohens_d)
    else:
        assert s.welch_t is None


@settings(max_examples=25, deadline=None)
@given(groups, groups)
def test_lower_is_better_mirrors_higher(b, e):
    low = compare(b, e, direction="lower").to_dict()
    high = compare([-x for x in b], [-x for x in e], direction="higher").to_dict()
    for key in ("mean_diff", "ci_low", "ci_high", "welch_t", "p_value", "cohens_d",
                "hedges_g", "d_ci_low", "d_ci_high", "prob_improvement", "permutation_p",
                "z_base_sigma", "d_label", "flags"):
        if isinstance(low[key], float):
            assert close(low[key], high[key]), key
        else:
            assert low[key] == high[key], key
    assert close(low["mean_diff"], -compare(b, e).mean_diff)
