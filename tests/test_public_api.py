"""The public Python surface is deliberate: names pinned, contracts that scripts depend on."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats as sps

import exante

PUBLIC = [
    "ExanteError", "FingerprintError", "InputError", "IntegrityError", "LedgerError",
    "PlanError", "RefusedError", "RuleError", "TamperedError", "Ledger", "Plan", "RunOptions",
    "amend", "compare", "holm", "load_plan", "lock", "run", "status", "verify",
    # the notebook API (issue 14): exante.api, with decide/report as callable submodules
    "audit", "decide", "export", "import_runs", "report", "result", "rollup", "runs",
]
COMPARISON_KEYS = {
    "mean_diff", "ci_low", "ci_high", "welch_t", "welch_df", "p_value", "cohens_d",
    "cohens_d_pooled", "hedges_g", "d_ci_low", "d_ci_high", "prob_improvement", "permutation_p",
    "z_base_sigma",
}


def test_all_is_pinned_and_every_name_resolves():
    assert sorted(exante.__all__) == sorted(PUBLIC)
    for name in exante.__all__:
        assert getattr(exante, name) is not None, name


def test_every_public_callable_has_a_docstring():
    for name in exante.__all__:
        assert getattr(exante, name).__doc__, name


def test_errors_form_one_tree_with_the_documented_exit_codes():
    for name in ("InputError", "PlanError", "RuleError"):
        assert issubclass(getattr(exante, name), exante.ExanteError)
        assert getattr(exante, name).exit_code == 2, name
    for name in ("IntegrityError", "TamperedError", "FingerprintError", "LedgerError",
                 "RefusedError"):
        assert issubclass(getattr(exante, name), exante.IntegrityError)
        assert getattr(exante, name).exit_code == 1, name


def test_compare_record_has_the_documented_numbers():
    base, exp = [0.70, 0.72, 0.71, 0.69, 0.73], [0.74, 0.76, 0.73]
    record = exante.compare(base, exp, direction="higher").to_dict()

    assert COMPARISON_KEYS <= set(record)
    json.dumps(record, allow_nan=False)  # JSON-safe: no NaN or Inf
    welch = sps.ttest_ind(exp, base, equal_var=False)
    assert record["mean_diff"] == pytest.approx(sum(exp) / 3 - sum(base) / 5)
    assert record["welch_t"] == pytest.approx(welch.statistic)
    assert record["p_value"] == pytest.approx(welch.pvalue)
    assert record["ci_low"] < record["mean_diff"] < record["ci_high"]
    assert record["d_ci_low"] < record["cohens_d_pooled"] < record["d_ci_high"]
    assert abs(record["hedges_g"]) < abs(record["cohens_d_pooled"])  # J < 1 shrinks it
    # 14 of 15 pairs favour the experiment and one (0.73 vs 0.73) is a tie, counted half
    assert record["prob_improvement"] == pytest.approx(14.5 / 15)
    sd_base = sps.tstd(base)
    assert record["z_base_sigma"] == pytest.approx(record["mean_diff"] / sd_base)


def test_compare_direction_lower_flips_the_sign():
    base, exp = [1.0, 1.1, 0.9], [0.8, 0.85, 0.75]
    higher = exante.compare(base, exp, direction="higher").to_dict()
    lower = exante.compare(base, exp, direction="lower").to_dict()
    assert lower["mean_diff"] == pytest.approx(-higher["mean_diff"]) and lower["mean_diff"] > 0
    assert lower["p_value"] == pytest.approx(higher["p_value"])


def test_holm_matches_the_step_down_by_hand():
    # sorted p: 0.01 (x3), 0.03 (x2), 0.04 (x1) -> 0.03, 0.06, max(0.06, 0.04) = 0.06
    assert exante.holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    adjusted = exante.holm([0.5, None, 0.01])
    assert adjusted[1] is None and adjusted[2] == pytest.approx(0.02)
    assert adjusted[0] == pytest.approx(min(1.0, 0.5))
    assert all(p is None or 0 <= p <= 1 for p in exante.holm([0.9, 0.8, 0.7]))
    assert not any(isinstance(p, float) and math.isnan(p) for p in adjusted)
