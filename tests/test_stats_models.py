"""The registered analysis models against statsmodels fits computed here (STATS.md section 5)."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.anova import anova_lm

from exante.errors import InputError
from exante.stats.blockcorr import block_correlation
from exante.stats.models import ANOVA, MIXEDLM, fit_model
from exante.stats.paired import paired_compare
from exante.stats.sensitivity import leave_one_out

TOL = 1e-9
DEPTH, ACT, WD, SEEDS = [2, 4, 8], ["relu", "gelu"], [0.0, 1e-4, 1e-3], [42, 137, 256]
REF = {"depth": 2, "act": "relu", "wd": 0.0}


def split_plot_data(seed=1, wp_sd=0.02, sp_sd=0.003):
    """A seed fixes the whole plot (depth, act, seed): its wd cells are near-clones."""
    rng = np.random.default_rng(seed)
    rows = []
    for d, a, s in itertools.product(DEPTH, ACT, SEEDS):
        plot = rng.normal() * wp_sd
        for w in WD:
            rows.append({"depth": d, "act": a, "wd": w, "seed": s,
                         "y": 0.5 + 0.03 * (d == 4) - 0.06 * (d == 8) + 0.004 * (a == "gelu")
                         + 0.002 * (w == 1e-3) + plot + rng.normal() * sp_sd})
    df = pd.DataFrame(rows)
    df["wp"] = [f"{d}/{a}/{s}" for d, a, s in zip(df.depth, df.act, df.seed)]
    return df


def blocked_data(seed=2):
    """A seed shifts every cell the same way (a randomised complete block design)."""
    rng = np.random.default_rng(seed)
    shift = {s: rng.normal() * 0.02 for s in SEEDS}
    rows = [{"depth": d, "act": a, "wd": w, "seed": s,
             "y": 0.5 + 0.01 * (d == 4) + shift[s] + rng.normal() * 0.004}
            for d, a, w, s in itertools.product(DEPTH, ACT, WD, SEEDS)]
    return pd.DataFrame(rows)


def fit(df, model, whole_plot=()):
    levels = {k: list(df[k]) for k in ("depth", "act", "wd")}
    return fit_model(levels, list(df.y), list(df.seed), model=model, whole_plot=whole_plot,
                     reference=REF)


def coding(focal, others):
    """Treatment coding for the focal factor, sum coding for the rest: the focal coefficient is
    then the marginal-mean difference from the reference level."""
    refs = {"depth": "2", "act": "'relu'", "wd": "0.0"}
    parts = [f"C({focal}, Treatment({refs[focal]}))"] + [f"C({o}, Sum)" for o in others]
    return "*".join(parts)


def sm_coef_name(focal, level):
    refs = {"depth": "2", "act": "'relu'", "wd": "0.0"}
    return f"C({focal}, Treatment({refs[focal]}))[T.{level}]"


def check_level(lv, fitted, name, df_expected):
    ci = fitted.conf_int(alpha=0.05).loc[name]
    assert lv.diff == pytest.approx(fitted.params[name], rel=TOL, abs=TOL)
    assert lv.se == pytest.approx(fitted.bse[name], rel=TOL)
    assert lv.df == df_expected == fitted.df_resid
    assert lv.ci_low == pytest.approx(ci[0], rel=TOL, abs=TOL)
    assert lv.ci_high == pytest.approx(ci[1], rel=TOL, abs=TOL)
    assert lv.p_value == pytest.approx(fitted.pvalues[name], rel=1e-7, abs=TOL)


def test_split_plot_main_effects_match_the_split_plot_anova():
    df = split_plot_data()
    got = fit(df, "split_plot", ("depth", "act"))
    assert got.method == ANOVA and "exact ANOVA" in got.df_rule
    # whole-plot factors: the whole-plot means carry the whole-plot error (df 6*(3-1) = 12)
    means = df.groupby(["depth", "act", "seed"], as_index=False).y.mean()
    for focal, other in (("depth", "act"), ("act", "depth")):
        f = smf.ols(f"y ~ {coding(focal, [other])}", data=means).fit()
        for lv in got.effect(focal).levels[1:]:
            assert lv.error == "whole_plot"
            check_level(lv, f, sm_coef_name(focal, lv.level), 12)
    # the split-plot factor: whole plots as fixed blocks, residual df 54 - 18 - 12 = 24
    with warnings.catch_warnings():  # the whole plots span depth x act: rank-deficient on purpose
        warnings.simplefilter("ignore")
        f = smf.ols(f"y ~ C(wp, Sum) + {coding('wd', ['depth', 'act'])}", data=df).fit()
    for lv in got.effect("wd").levels[1:]:
        assert lv.error == "residual"
        check_level(lv, f, sm_coef_name("wd", lv.level), 24)
    # every term's F against its own error term
    table = anova_lm(smf.ols("y ~ C(depth)*C(act)*C(wd)", data=df).fit(), typ=2)
    wp_fit = smf.ols("y ~ C(depth)*C(act)", data=means).fit()
    ms_wp = wp_fit.mse_resid * 3  # whole-plot error MS on the run scale (3 runs per plot)
    ms_sp = f.mse_resid
    for term in got.terms:
        row = table.loc[":".join(f"C({x})" for x in term.factors)]
        ms, df_err = (ms_wp, 12) if term.error == "whole_plot" else (ms_sp, 24)
        F = row["sum_sq"] / row["df"] / ms
        assert term.F == pytest.approx(F, rel=TOL)
        assert term.p_value == pytest.approx(sps.f.sf(F, row["df"], df_err), rel=1e-7, abs=TOL)
        assert term.error_df == df_err
    assert {t.term: t.error for t in got.terms}["depth:act"] == "whole_plot"
    assert {t.term: t.error for t in got.terms}["depth:wd"] == "residual"


def test_blocked_main_effects_match_the_block_anova():
    df = blocked_data()
    got = fit(df, "blocked")
    assert got.method == ANOVA
    for focal in ("depth", "act", "wd"):
        others = [o for o in ("depth", "act", "wd") if o != focal]
        f = smf.ols(f"y ~ C(seed) + {coding(focal, others)}", data=df).fit()
        for lv in got.effect(focal).levels[1:]:
            check_level(lv, f, sm_coef_name(focal, lv.level), 54 - 18 - 2)


def test_independent_matches_the_cell_means_ols():
    df = blocked_data()
    got = fit(df, "independent")
    f = smf.ols(f"y ~ {coding('depth', ['act', 'wd'])}", data=df).fit()
    for lv in got.effect("depth").levels[1:]:
        check_level(lv, f, sm_coef_name("depth", lv.level), 36)


def test_unbalanced_split_plot_is_a_reml_mixed_model():
    df = split_plot_data(seed=5)
    df.loc[[4, 31], "y"] = np.nan  # two failed runs: no longer balanced
    got = fit(df, "split_plot", ("depth", "act"))
    assert got.method == MIXEDLM and "REML" in got.df_rule and "containment" in got.df_rule
    kept = df.dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = smf.mixedlm(f"y ~ {coding('depth', ['act', 'wd'])}", data=kept,
                        groups=kept["wp"]).fit(reml=True)
    ref_depth = m.params
    for lv in got.effect("depth").levels[1:]:
        name = sm_coef_name("depth", lv.level)
        assert lv.diff == pytest.approx(ref_depth[name], rel=1e-6)
        assert lv.se == pytest.approx(m.bse[name], rel=1e-5)
        assert lv.df == 18 - 6  # every whole plot still observed: plots - whole-plot cells
        q = sps.t.ppf(0.975, lv.df)
        assert lv.ci_low == pytest.approx(lv.diff - q * lv.se, rel=TOL)
    assert got.variance["block"] == pytest.approx(float(m.cov_re.iloc[0, 0]), rel=1e-4)
    assert got.variance["residual"] == pytest.approx(m.scale, rel=1e-4)
    assert all(lv.df == 54 - 2 - 18 - 12 for lv in got.effect("wd").levels[1:])


def test_unbalanced_cell_means_parameterisation_matches_mixedlm_to_1e9():
    """The same REML fit parameterised as statsmodels would by cell means gives identical CIs."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    df = split_plot_data(seed=5)
    df.loc[[4, 31], "y"] = np.nan
    got = fit(df, "split_plot", ("depth", "act"))
    kept = df.dropna().reset_index(drop=True)
    cells = list(itertools.product(DEPTH, ACT, WD))
    x = np.array([[float((d, a, w) == c) for c in cells]
                  for d, a, w in zip(kept.depth, kept.act, kept.wd)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = MixedLM(kept.y.to_numpy(), x, groups=kept.wp.to_numpy()).fit(reml=True)
    beta, cov = np.asarray(m.fe_params), np.asarray(m.cov_params())[:18, :18]
    vec = np.array([(c[0] == 8) / 6 - (c[0] == 2) / 6 for c in cells])
    lv = got.effect("depth").levels[2]
    assert lv.diff == pytest.approx(vec @ beta, rel=TOL)
    assert lv.se == pytest.approx(math.sqrt(vec @ cov @ vec), rel=TOL)


def test_split_plot_narrows_the_split_factor_and_widens_the_whole_plot_factor():
    df = split_plot_data()
    ind, sp = fit(df, "independent"), fit(df, "split_plot", ("depth", "act"))
    width = lambda f, factor: f.effect(factor).levels[1].ci_high - f.effect(factor).levels[1].ci_low
    assert width(sp, "wd") < width(ind, "wd") / 3
    assert width(sp, "depth") > width(ind, "depth")


def test_whole_plot_must_be_a_proper_subset_of_the_factors():
    df = split_plot_data()
    with pytest.raises(InputError, match="whole_plot"):
        fit(df, "split_plot", ("depth", "act", "wd"))
    with pytest.raises(InputError, match="whole_plot"):
        fit(df, "split_plot", ("width",))
    with pytest.raises(InputError, match="model"):
        fit(df, "nested")


def test_block_correlation_matches_the_anova_mean_squares():
    df = split_plot_data()
    rows = list(zip(df.depth, df.act, df.wd))
    got = block_correlation(rows, df.y, list(df.wp))
    cells = smf.ols("y ~ C(depth)*C(act)*C(wd)", data=df).fit()
    with warnings.catch_warnings():  # the whole plots span depth x act: rank-deficient
        warnings.simplefilter("ignore")
        full = smf.ols("y ~ C(depth)*C(act)*C(wd) + C(wp)", data=df).fit()
    ms_b = (cells.ssr - full.ssr) / 12
    ms_e = full.mse_resid
    assert got.df_block == 12 and got.df_resid == 24 and got.k == 3
    assert got.rho == pytest.approx((ms_b - ms_e) / (ms_b + 2 * ms_e), rel=TOL)
    f = ms_b / ms_e
    lo = f / sps.f.ppf(0.975, 12, 24)
    assert got.ci_low == pytest.approx((lo - 1) / (lo + 2), rel=TOL)
    assert got.ci_low > 0.5 and got.p_value < 1e-6
    # seeds shared across all cells of split-plot data barely correlate
    loose = block_correlation(rows, df.y, list(df.seed))
    assert loose.ci_low < 0.1


def test_paired_compare_is_scipy_ttest_rel():
    b, e = [0.50, 0.52, 0.47, 0.55], [0.51, 0.535, 0.48, 0.56]
    got = paired_compare(b, e, direction="higher")
    ref = sps.ttest_rel(e, b)
    assert got.t == pytest.approx(ref.statistic, rel=TOL)
    assert got.p_value == pytest.approx(ref.pvalue, rel=TOL)
    ci = ref.confidence_interval(0.95)
    assert (got.ci_low, got.ci_high) == (pytest.approx(ci.low, rel=TOL),
                                         pytest.approx(ci.high, rel=TOL))
    d = np.subtract(e, b)
    assert got.d_z == pytest.approx(d.mean() / d.std(ddof=1), rel=TOL)
    low = paired_compare(b, e, direction="lower")
    assert low.delta == pytest.approx(-got.delta) and low.p_value == pytest.approx(got.p_value)
    failed = paired_compare(b, [0.51, float("nan"), 0.48, 0.56])
    assert failed.n_pairs == 3 and failed.n_failed_pairs == 1


def test_leave_one_out_keeps_only_flips():
    base = {"depth": "EFFECT", "wd": "NO_EFFECT"}
    def again(kind, unit):
        return {"depth": "INCONCLUSIVE", "wd": "NO_EFFECT"} if unit == 137 else dict(base)
    flips = leave_one_out(base, [("seed", 42), ("seed", 137), ("run", "x")], again)
    assert [(f.unit, f.target, f.before, f.after) for f in flips] == [
        (137, "depth", "EFFECT", "INCONCLUSIVE")]
