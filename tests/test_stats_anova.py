"""Factorial ANOVA and main effects against statsmodels fits computed here."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from exante.errors import InputError
from exante.stats import AVERAGED_TAG, StatFlag, factorial_anova, main_effects

TOL = 1e-9
LR, DEPTH, AUG = ["1e-3", "3e-3", "1e-2"], [2, 4], ["none", "flip", "crop"]


def ablation(seed=0, seeds=3, interaction=0.0):
    """3x2x3 cells x `seeds` runs; returns (levels, y)."""
    rng = np.random.default_rng(seed)
    rows = [c for c in itertools.product(LR, DEPTH, AUG) for _ in range(seeds)]
    y = [0.8 * (a == "3e-3") + 0.3 * (b == 4) + interaction * (a == "1e-2") * (c == "crop")
         + rng.normal() for a, b, c in rows]
    levels = {"lr": [r[0] for r in rows], "depth": [r[1] for r in rows],
              "aug": [r[2] for r in rows]}
    return levels, y


def statsmodels_table(levels, y, formula="y ~ C(lr)*C(depth)*C(aug)"):
    df = pd.DataFrame({**levels, "y": y}).dropna()
    fit = smf.ols(formula, data=df).fit()
    return anova_lm(fit, typ=2), fit


def sm_name(term):
    return ":".join(f"C({f})" for f in term.split(":"))


@pytest.mark.parametrize("drop", [[], [0, 7, 30]])
def test_anova_matches_statsmodels_type2(drop):
    levels, y = ablation()
    y = [float("nan") if i in drop else v for i, v in enumerate(y)]
    table = factorial_anova(levels, y)
    ref, fit = statsmodels_table(levels, y)
    assert table.df_resid == fit.df_resid == 36 - len(drop)
    assert table.ms_resid == pytest.approx(fit.mse_resid, rel=TOL)
    assert len(table.terms) == 7
    for t in table.terms:
        row = ref.loc[sm_name(t.term)]
        assert t.df == row["df"]
        assert t.sum_sq == pytest.approx(row["sum_sq"], rel=TOL)
        assert t.F == pytest.approx(row["F"], rel=TOL)
        assert t.p_value == pytest.approx(row["PR(>F)"], rel=TOL, abs=TOL)
        assert t.partial_eta_sq == pytest.approx(row["sum_sq"] / (row["sum_sq"] + fit.ssr), rel=TOL)
    assert (StatFlag.UNBALANCED in table.flags) == bool(drop)
    assert (StatFlag.FAILED_RUNS in table.flags) == bool(drop)
    assert table.n_failed == len(drop)


def test_balanced_type2_equals_type1():
    levels, y = ablation(seed=1)
    table = factorial_anova(levels, y)
    df = pd.DataFrame({**levels, "y": y})
    type1 = anova_lm(smf.ols("y ~ C(lr)*C(depth)*C(aug)", data=df).fit(), typ=1)
    for t in table.terms:
        assert t.sum_sq == pytest.approx(type1.loc[sm_name(t.term), "sum_sq"], rel=1e-8)


def test_additive_model_has_its_own_f():
    levels, y = ablation(seed=2)
    table = factorial_anova(levels, y, additive=True)
    ref, fit = statsmodels_table(levels, y, "y ~ C(lr) + C(depth) + C(aug)")
    assert table.additive and table.df_resid == fit.df_resid == 54 - 6
    assert table.term("lr").F == pytest.approx(ref.loc["C(lr)", "F"], rel=TOL)
    assert table.term("lr").F != pytest.approx(factorial_anova(levels, y).term("lr").F)


def test_missing_cell_falls_back_to_additive_and_says_so():
    levels, y = ablation()
    gone = [i for i in range(54) if levels["lr"][i] == "1e-2" and levels["depth"][i] == 4
            and levels["aug"][i] == "crop"]
    y = [float("nan") if i in gone else v for i, v in enumerate(y)]
    table = factorial_anova(levels, y)
    assert {StatFlag.MISSING_CELLS, StatFlag.ADDITIVE_FALLBACK} <= set(table.flags)
    assert table.n_cells == 17 and table.n_cells_expected == 18 and table.n_failed == 3
    ref, _ = statsmodels_table(levels, y, "y ~ C(lr) + C(depth) + C(aug)")
    assert table.term("aug").F == pytest.approx(ref.loc["C(aug)", "F"], rel=TOL)
    effects = main_effects(levels, y)
    assert StatFlag.MISSING_CELLS in effects.flags
    json.dumps(effects.to_dict(), allow_nan=False)


def test_one_run_per_cell_has_no_residual_df():
    levels, y = ablation(seeds=1)
    table = factorial_anova(levels, y)
    assert StatFlag.NO_RESIDUAL_DF in table.flags and table.ms_resid is None
    assert table.terms == () and table.df_resid == 0
    json.dumps(table.to_dict(), allow_nan=False)
    effects = main_effects(levels, y, anova=table)
    assert all(le.ci_low is None for e in effects.effects for le in e.levels)


def test_length_mismatch_names_the_factor():
    levels, y = ablation()
    levels["depth"] = levels["depth"][:-1]
    with pytest.raises(InputError, match="levels.depth"):
        factorial_anova(levels, y)


def cell_means_contrast(levels, y, factor, level, ref):
    """Reference: cell-means OLS (the full model), contrast of unweighted marginal means."""
    df = pd.DataFrame({**levels, "y": y}).dropna()
    df["cell"] = df["lr"].astype(str) + "|" + df["depth"].astype(str) + "|" + df["aug"]
    fit = smf.ols("y ~ C(cell) - 1", data=df).fit()
    names = list(fit.params.index)
    key = {"lr": 0, "depth": 1, "aug": 2}[factor]

    def weights(lvl):
        at = [n for n in names if n[len("C(cell)["):-1].split("|")[key] == str(lvl)]
        return np.array([1.0 / len(at) if n in at else 0.0 for n in names])

    return fit.t_test(weights(level) - weights(ref)), fit


@pytest.mark.parametrize("drop", [[], [1, 2, 40]])
def test_main_effects_match_the_cell_means_model(drop):
    levels, y = ablation(seed=3)
    y = [float("nan") if i in drop else v for i, v in enumerate(y)]
    effects = main_effects(levels, y)
    assert effects.df_resid == 36 - len(drop)
    for factor, lvls in (("lr", LR), ("depth", DEPTH), ("aug", AUG)):
        eff = effects.effect(factor)
        assert eff.reference == lvls[0]
        for le in eff.levels[1:]:
            test, _ = cell_means_contrast(levels, y, factor, le.level, lvls[0])
            lo, hi = test.conf_int(alpha=0.05)[0]
            assert le.diff == pytest.approx(float(test.effect[0]), rel=TOL, abs=TOL)
            assert le.se == pytest.approx(float(test.sd[0, 0]), rel=TOL)
            assert (le.ci_low, le.ci_high) == pytest.approx((lo, hi), rel=TOL, abs=TOL)


def test_main_effects_match_sum_coding_when_balanced():
    levels, y = ablation(seed=4)
    df = pd.DataFrame({**levels, "y": y})
    fit = smf.ols("y ~ C(lr, Sum)*C(depth, Sum)*C(aug, Sum)", data=df).fit()
    # Sum coding sorts levels: ['1e-2', '1e-3', '3e-3']; marginal mean = b0 + coef (last = -sum)
    names = list(fit.params.index)
    marg = {"1e-2": "C(lr, Sum)[S.1e-2]", "1e-3": "C(lr, Sum)[S.1e-3]"}
    contrast = np.zeros(len(names))
    contrast[names.index(marg["1e-2"])] = 1.0  # mean(1e-2) - mean(1e-3)
    contrast[names.index(marg["1e-3"])] = -1.0
    test = fit.t_test(contrast)
    le = next(x for x in main_effects(levels, y).effect("lr").levels if x.level == "1e-2")
    assert le.diff == pytest.approx(float(test.effect[0]), rel=TOL)
    assert le.se == pytest.approx(float(test.sd[0, 0]), rel=TOL)


def test_interaction_tags_the_main_effects_it_involves():
    levels, y = ablation(seed=5, interaction=4.0)
    effects = main_effects(levels, y, reference={"aug": "flip"})
    assert effects.effect("lr").tag == AVERAGED_TAG
    assert "lr:aug" in effects.effect("aug").interactions
    assert effects.effect("depth").tag is None
    assert effects.effect("aug").reference == "flip"
    assert len(effects.cells) == 18 and all(c.n == 3 for c in effects.cells)
    d = effects.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["cells"][0]["levels"] == {"lr": "1e-3", "depth": 2, "aug": "none"}


def test_direction_lower_flips_differences():
    levels, y = ablation(seed=6)
    hi = main_effects(levels, y).effect("lr").levels[1]
    lo = main_effects(levels, y, direction="lower").effect("lr").levels[1]
    assert lo.diff == pytest.approx(-hi.diff) and lo.ci_low == pytest.approx(-hi.ci_high)


def test_unknown_reference_level_is_an_input_error():
    levels, y = ablation()
    with pytest.raises(InputError, match="reference"):
        main_effects(levels, y, reference={"lr": "1e-5"})
