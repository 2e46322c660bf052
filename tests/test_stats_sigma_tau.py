"""Seed-003 sigma protocol, outlier sensitivity and the tau baseline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from exante.errors import InputError
from exante.stats import (SigmaRule, StatFlag, Tier, Verdict, needs_extension, outlier_sensitive,
                          sigma_protocol, sigma_verdict, sigma_z, tau_summary)
from exante.stats.simulate import protocol_z_rows

BASE = [3.10, 3.14, 3.12, 3.16, 3.08]  # val_loss, lower is better; s_b ~ 0.0316
SB = float(np.std(BASE, ddof=1))
MB = float(np.mean(BASE))


def exp_at(z, sd=0.02, n=3):
    """Experiment runs whose mean is z baseline-sigmas better (lower) than the baseline."""
    offsets = np.linspace(-sd, sd, n) if n > 1 else np.zeros(1)
    return list(MB - z * SB + offsets)


@pytest.mark.parametrize("z,verdict,tier", [
    (2.0, Verdict.WINNER, None), (3.5, Verdict.WINNER, None),
    (1.999, Verdict.NEUTRAL, Tier.SUGGESTIVE), (1.0, Verdict.NEUTRAL, Tier.SUGGESTIVE),
    (0.999, Verdict.NEUTRAL, Tier.NOISE), (0.0, Verdict.NEUTRAL, Tier.NOISE),
    (-0.999, Verdict.NEUTRAL, Tier.NOISE), (-1.0, Verdict.NEUTRAL, Tier.SUGGESTIVE_WORSE),
    (-1.999, Verdict.NEUTRAL, Tier.SUGGESTIVE_WORSE), (-2.0, Verdict.LOSER, None)])
def test_rule_a_thresholds_are_inclusive(z, verdict, tier):
    # nudge away from the float edge in the direction the inclusive rule favours
    z_eff = z + math.copysign(1e-9, z) if abs(z) in (1.0, 2.0) else z
    v = sigma_verdict(BASE, exp_at(z_eff), direction="lower")
    assert v.z == pytest.approx(z, abs=1e-6)
    assert (v.verdict, v.tier) == (verdict, tier)


def test_both_z_values_follow_their_definitions():
    exp = [3.05, 3.02, 3.07]
    v = sigma_verdict(BASE, exp, direction="lower", rule="B")
    delta = MB - np.mean(exp)
    se = np.std(exp, ddof=1)
    assert v.z_rule_a == pytest.approx(delta / SB, rel=1e-12)
    assert v.z_rule_b == pytest.approx(delta / math.sqrt((SB**2 + se**2) / 2), rel=1e-12)
    assert v.z == v.z_rule_b and v.rule is SigmaRule.B
    assert v.welch_p == pytest.approx(stats.ttest_ind(exp, BASE, equal_var=False).pvalue)


def test_rules_can_disagree_and_say_so():
    # a noisy experiment: 2+ baseline sigmas better, but not 2 pooled sigmas
    exp = exp_at(2.3, sd=0.08)
    v = sigma_verdict(BASE, exp, direction="lower")
    assert v.verdict_rule_a is Verdict.WINNER and v.verdict_rule_b is Verdict.NEUTRAL
    assert StatFlag.SIGMA_DEFINITION in v.flags
    assert StatFlag.VERDICT_TEST_DISAGREE in v.flags  # Welch p is not < .05 here


def test_direction_higher_mirrors_lower():
    exp = [3.05, 3.02, 3.07]
    lo = sigma_verdict(BASE, exp, direction="lower")
    hi = sigma_verdict([-x for x in BASE], [-x for x in exp], direction="higher")
    assert lo.z == pytest.approx(hi.z) and lo.verdict is hi.verdict


@pytest.mark.parametrize("base", [[3.1] * 5, [0.2, 0.2, 0.2, 0.2, 0.2]])
@pytest.mark.parametrize("rule", ["A", "B"])
def test_zero_baseline_sd_never_gives_a_winner(base, rule):
    v = sigma_verdict(base, [0.0, 0.01, 0.02], direction="lower", rule=rule)
    assert v.verdict is Verdict.INCONCLUSIVE and v.z is None
    assert StatFlag.ZERO_VARIANCE in v.flags
    d = sigma_verdict(base, [base[0] - 1] * 3, direction="lower", rule=rule)
    assert d.verdict is Verdict.INCONCLUSIVE and StatFlag.DEGENERATE in d.flags
    json.dumps(d.to_dict(), allow_nan=False)


def test_insufficient_and_failed_runs():
    assert sigma_verdict([3.1], [3.0] * 3, direction="lower").verdict is Verdict.INCONCLUSIVE
    v = sigma_verdict(BASE + [float("nan")], exp_at(2.5) + [float("inf")], direction="lower")
    assert v.verdict is Verdict.WINNER and (v.n_failed_base, v.n_failed_exp) == (1, 1)
    assert StatFlag.FAILED_RUNS in v.flags
    one = sigma_verdict(BASE, [3.0], direction="lower", rule="B")
    assert one.verdict is Verdict.INCONCLUSIVE and StatFlag.INSUFFICIENT_DATA in one.flags
    assert one.z_rule_a is not None and StatFlag.SIGMA_DEFINITION not in one.flags
    with pytest.raises(InputError, match="rule"):
        sigma_verdict(BASE, [3.0], direction="lower", rule="C")


def test_extension_and_the_two_stage_protocol():
    stage1, stage2 = exp_at(1.5), exp_at(3.0, n=2)
    assert needs_extension(BASE, stage1, direction="lower")
    assert not needs_extension(BASE, exp_at(2.5), direction="lower")
    assert not needs_extension(BASE, exp_at(-2.5), direction="lower")
    assert not needs_extension([3.1] * 5, stage1, direction="lower")
    v = sigma_protocol(BASE, stage1, stage2, direction="lower")
    assert v.extended and v.n_exp == 5 and StatFlag.OPTIONAL_STOPPING in v.flags
    assert v.z == pytest.approx(sigma_z(BASE, stage1 + stage2, direction="lower")[0])
    early = sigma_protocol(BASE, exp_at(2.5), stage2, direction="lower")
    assert not early.extended and early.n_exp == 3 and early.verdict is Verdict.WINNER
    missing = sigma_protocol(BASE, stage1, None, direction="lower")
    assert StatFlag.EXTENSION_MISSING in missing.flags and missing.n_exp == 3


def test_vectorised_protocol_agrees_with_the_scalar_one():
    rng = np.random.default_rng(11)
    b = rng.normal(size=(200, 5))
    e1, e2 = rng.normal(0.8, 1, (200, 3)), rng.normal(0.8, 1, (200, 2))
    for rule in "AB":
        z, ext = protocol_z_rows(b, e1, e2, rule=rule)
        for i in range(0, 200, 7):
            v = sigma_protocol(b[i], e1[i], e2[i], direction="higher", rule=rule)
            assert v.z == pytest.approx(z[i], rel=1e-12) and v.extended == ext[i]


def test_outlier_sensitive():
    def verdict(b, e):
        return sigma_verdict(b, e, direction="higher").verdict

    base = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert outlier_sensitive(base, [1.05, 1.1, 1.6], verdict)  # one lucky seed makes the winner
    assert not outlier_sensitive(base, [2.0, 2.1, 2.05], verdict)


def test_to_dict_keys_of_the_sigma_record():
    d = sigma_verdict(BASE, exp_at(2.5), direction="lower").to_dict()
    assert {"verdict", "tier", "rule", "z", "z_rule_a", "z_rule_b", "verdict_rule_a",
            "verdict_rule_b", "mean_diff", "sigma_base", "sigma_pooled", "welch_p",
            "extended", "flags"} <= set(d)
    assert d["verdict"] == "WINNER" and d["rule"] == "A"
    json.dumps(d, allow_nan=False)


# ---------------------------------------------------------------- tau

TAU = [0.31, 0.28, 0.35, 0.30, 0.33, 0.29, 0.27, 0.34, 0.32, 0.30]


def test_tau_higher_is_better():
    method = [0.45, 0.41, 0.43]
    s = tau_summary(TAU, method, direction="higher")
    assert s.tau == 0.35 and s.threshold == pytest.approx(0.385)
    assert s.tau_mean == pytest.approx(np.mean(TAU))
    assert s.tau_sd == pytest.approx(np.std(TAU, ddof=1))
    ref = stats.ttest_1samp(method, 0.385, alternative="greater")
    assert s.t_stat == pytest.approx(ref.statistic, rel=1e-9)
    assert s.p_value == pytest.approx(ref.pvalue, rel=1e-9) and s.df == 2
    assert s.frac_beyond_threshold == 1.0 and s.all_beat_tau
    assert s.rank_null_p == pytest.approx(1 / math.comb(13, 3))
    assert s.passed is True and not s.refused


def test_tau_lower_is_better_and_partial_pass():
    tau = [2.0, 2.2, 2.1]
    method = [1.7, 1.95, 1.85]  # threshold 0.9 * 2.0 = 1.8
    s = tau_summary(tau, method, direction="lower")
    assert s.tau == 2.0 and s.threshold == pytest.approx(1.8)
    assert s.frac_beyond_threshold == pytest.approx(1 / 3)
    ref = stats.ttest_1samp(method, 1.8, alternative="less")
    assert s.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    # every seed beats tau itself, though the mean misses the 10% margin
    assert s.passed is False and s.all_beat_tau and s.rank_null_p == pytest.approx(1 / 20)
    assert tau_summary(tau, [1.7, 2.05], direction="lower").rank_null_p is None


def test_tau_threshold_is_inclusive_and_one_run_rank_p():
    s = tau_summary(TAU, [0.385], direction="higher")
    assert s.passed and s.rank_null_p == pytest.approx(1 / 11) and s.t_stat is None
    assert StatFlag.INSUFFICIENT_DATA in s.flags


@pytest.mark.parametrize("tau,method,flag", [
    ([-0.1, 0.2, 0.1], [0.5, 0.6], StatFlag.SIGN_CHANGE),
    ([0.1, 0.2], [-0.5, 0.6], StatFlag.SIGN_CHANGE),
    ([-0.3, -0.2], [-0.1, -0.05], StatFlag.NONPOSITIVE_TAU),
    ([0.0, 0.0], [0.1, 0.2], StatFlag.NONPOSITIVE_TAU)])
def test_tau_refuses_without_a_ratio_scale(tau, method, flag):
    s = tau_summary(tau, method, direction="higher")
    assert s.refused and s.passed is None and s.threshold is None and flag in s.flags
    json.dumps(s.to_dict(), allow_nan=False)


def test_tau_failed_scores_are_counted():
    s = tau_summary(TAU[:9] + [float("nan")], [0.45, float("nan"), 0.41], direction="higher")
    assert (s.n_tau, s.n_failed_tau, s.n_method, s.n_failed_method) == (9, 1, 2, 1)
    assert StatFlag.FAILED_RUNS in s.flags
    d = s.to_dict()
    assert {"tau", "threshold", "tau_mean", "tau_sd", "frac_beyond_threshold", "method_mean",
            "t_stat", "p_value", "rank_null_p", "passed", "refused", "flags"} <= set(d)
