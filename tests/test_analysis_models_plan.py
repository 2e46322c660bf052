"""The registered analysis model end to end (issue 11, items 1-3, 7, 8).

Each case writes a sealed table (table.csv, registered under `data:`) and a Python
trial that reads it, locks the plan, runs it with the inline executor and decides
from the ledger. The checks recompute the registered model with statsmodels in the
test itself: the split-plot and blocked ANOVA error terms from statsmodels' OLS
(sequential sums of squares), the unbalanced case with statsmodels MixedLM (REML),
and Holm with statsmodels' multipletests.
"""

from __future__ import annotations

import csv
import itertools
import math
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as sps
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.multitest import multipletests

from exante import registration, runner
from exante.decide import decide
from exante.errors import PlanError
from exante.spec import load_plan

DEPTHS, ACTS, WDS, SEEDS = (2, 4), ("relu", "gelu"), (0, 1, 2), (1, 2, 3, 4)

TRIAL = """\
import csv
import math
from pathlib import Path

ROWS = {}
with open(Path(__file__).with_name("table.csv"), newline="") as fh:
    for row in csv.DictReader(fh):
        ROWS[(row["depth"], row["act"], row["wd"], row["seed"])] = row["y"]


def train(params, seed, ctx):
    y = ROWS[(str(params["depth"]), str(params["act"]), str(params["wd"]), str(seed))]
    if y == "fail":
        raise RuntimeError("planted failure")
    return {"score": float(y)}
"""


def split_plot_table() -> list[dict]:
    """Whole plots (depth x act x seed) share a large random effect; wd moves within them."""
    rng = np.random.default_rng(20261202)
    wp = {k: rng.normal(0, 0.02) for k in itertools.product(DEPTHS, ACTS, SEEDS)}
    rows = []
    for d, a, w, s in itertools.product(DEPTHS, ACTS, WDS, SEEDS):
        y = (0.5 + 0.06 * (d == 4) + 0.002 * (a == "gelu") + 0.0005 * w + wp[(d, a, s)]
             + rng.normal(0, 0.002))
        rows.append({"depth": d, "act": a, "wd": w, "seed": s, "y": repr(float(y))})
    return rows


def make_plan(tmp_path: Path, rows: list[dict], model: str | None, *, margin: float = 0.01,
              correction: str = "holm", extra: str = "") -> Path:
    folder = tmp_path / f"exp_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    module = f"trial_{uuid.uuid4().hex[:12]}"
    (folder / f"{module}.py").write_text(TRIAL)
    with open(folder / "table.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["depth", "act", "wd", "seed", "y"])
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"experiment_id: {folder.name}",
        "hypothesis: depth changes the score; activation and weight decay do not.",
        "metrics: {primary: {name: score, direction: higher}}",
        "design:",
        "  factors: {depth: [2, 4], act: [relu, gelu], wd: [0, 1, 2]}",
        "  baseline: {depth: 2, act: relu, wd: 0}",
        "  seeds: [1, 2, 3, 4]",
        f'trial: {{python: "{module}:train"}}',
        "data: [table.csv]",
        f"code: [{module}.py]",
        "analysis:",
        f"  correction: {correction}",
        *([f"  model: {model}"] if model else []),
        f"decision: {{rule: factorial, equivalence_margin: {margin}}}",
        "failures: {policy: exclude}",
        *([extra] if extra else []),
        'sha256: ""',
    ]
    text = "\n".join(lines) + "\n"
    (folder / "prereg.yaml").write_text(text)
    return folder / "prereg.yaml"


def run_and_decide(plan: Path) -> dict:
    registration.lock(plan)
    runner.run(plan, runner.RunOptions(executor="inline"))
    return decide(plan)


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([r for r in rows if r["y"] != "fail"])
    df["y"] = df["y"].astype(float)
    df["depth"], df["wd"] = df["depth"].astype(str), df["wd"].astype(str)
    df["plot"] = df["depth"] + df["act"] + df["seed"].astype(str)
    df["cell"] = df["depth"] + "_" + df["act"] + "_" + df["wd"]
    return df


def strata_by_statsmodels(df: pd.DataFrame, error_term: str) -> dict[str, tuple[float, float]]:
    """{'residual': (MS, df), 'between': (MS, df)} from statsmodels' sequential ANOVA."""
    fit = smf.ols(f"y ~ C(depth)*C(act)*C(wd) + {error_term}", df).fit()
    table = anova_lm(fit, typ=1)
    row = table.loc[error_term]
    return {"residual": (fit.mse_resid, fit.df_resid),
            "between": (row["sum_sq"] / row["df"], row["df"])}


def expected_ci(df: pd.DataFrame, factor: str, level: str, ref: str, ms: float,
                dof: float) -> tuple[float, float, float]:
    """Marginal-mean difference with its t interval on (ms, dof), from pandas means."""
    means = df.groupby(factor)["y"].mean()
    n_level = (df[factor] == level).sum()
    diff = means[level] - means[ref]
    half = sps.t.ppf(0.975, dof) * math.sqrt(ms * (2.0 / n_level))
    return diff, diff - half, diff + half


def levels_of(result: dict) -> dict[tuple[str, str], dict]:
    me = result["factorial"]["main_effects"]["effects"]
    return {(e["factor"], str(lv["level"])): lv for e in me for lv in e["levels"]
            if lv.get("ci_low") is not None}


REFS = {"depth": "2", "act": "relu", "wd": "0"}


def check_cis(result: dict, df: pd.DataFrame, ms_of) -> None:
    got = levels_of(result)
    assert len(got) == 4  # depth 4, act gelu, wd 1, wd 2
    for (factor, level), lv in got.items():
        ms, dof = ms_of(factor)
        diff, lo, hi = expected_ci(df, factor, level, REFS[factor], ms, dof)
        assert lv["diff"] == pytest.approx(diff, abs=1e-9)
        assert lv["ci_low"] == pytest.approx(lo, abs=1e-9)
        assert lv["ci_high"] == pytest.approx(hi, abs=1e-9)
        assert lv["df"] == pytest.approx(dof)


def test_split_plot_cis_match_statsmodels_split_plot_anova(tmp_path: Path) -> None:
    rows = split_plot_table()
    plan = make_plan(tmp_path, rows, "{type: split_plot, block: seed, whole_plot: [depth, act]}")
    result = run_and_decide(plan)
    df = frame(rows)
    st = strata_by_statsmodels(df, "C(depth):C(act):C(seed)")
    whole = {"depth", "act"}
    check_cis(result, df, lambda f: st["between"] if f in whole else st["residual"])
    model = result["factorial"]["model"]
    assert (model["type"], model["method"], model["whole_plot"]) == ("split_plot", "anova",
                                                                     ["depth", "act"])
    assert "exact ANOVA error terms" in model["df_rule"]
    effects = {e["factor"]: e for e in result["factorial"]["main_effects"]["effects"]}
    assert (effects["depth"]["error"], effects["depth"]["error_df"]) == ("whole_plot", 12)
    assert (effects["wd"]["error"], effects["wd"]["error_df"]) == ("residual", 24)
    verdicts = {k: v["verdict"] for k, v in result["factorial"]["factor_verdicts"].items()}
    assert verdicts["depth"] == "EFFECT" and verdicts["wd"] == "NO_EFFECT"
    assert "SEEDS_CORRELATED" not in [c["code"] for c in result["caveats"]]


def test_blocked_cis_match_statsmodels_rcbd(tmp_path: Path) -> None:
    rows = split_plot_table()
    result = run_and_decide(make_plan(tmp_path, rows, "{type: blocked, block: seed}"))
    df = frame(rows)
    st = strata_by_statsmodels(df, "C(seed)")
    check_cis(result, df, lambda f: st["residual"])
    model = result["factorial"]["model"]
    assert (model["type"], model["block"], model["method"]) == ("blocked", "seed", "anova")


def test_holm_covers_every_factor_level_contrast(tmp_path: Path) -> None:
    rows = split_plot_table()
    result = run_and_decide(make_plan(tmp_path, rows, "{type: split_plot, block: seed, "
                                                      "whole_plot: [depth, act]}"))
    got = levels_of(result)
    raw = [lv["p_value"] for lv in got.values()]
    expected = multipletests(raw, method="holm")[1]
    assert [lv["p_adjusted"] for lv in got.values()] == pytest.approx(list(expected), abs=1e-12)
    mult = result["factorial"]["multiplicity"]
    assert mult["correction"] == "holm" and mult["k"] == 4
    assert set(mult["family"]) == {"depth=4", "act=gelu", "wd=1", "wd=2"}
    assert "intersection-union" in mult["equivalence_claims"]


def test_correction_none_means_unadjusted(tmp_path: Path) -> None:
    rows = split_plot_table()
    result = run_and_decide(make_plan(tmp_path, rows, "{type: blocked, block: seed}",
                                      correction="none"))
    for lv in levels_of(result).values():
        assert lv["p_adjusted"] == lv["p_value"]
    assert result["factorial"]["multiplicity"]["correction"] == "none"


def test_unbalanced_split_plot_matches_statsmodels_mixedlm(tmp_path: Path) -> None:
    rows = split_plot_table()
    dropped = next(r for r in rows if (r["depth"], r["act"], r["wd"], r["seed"]) ==
                   (4, "gelu", 2, 3))
    dropped["y"] = "fail"
    plan = make_plan(tmp_path, rows, "{type: split_plot, block: seed, whole_plot: [depth, act]}")
    result = run_and_decide(plan)
    model = result["factorial"]["model"]
    assert model["method"] == "mixedlm" and model["n_failed"] == 1
    assert "REML" in model["df_rule"]
    df = frame(rows)
    cells = sorted(df["cell"].unique())
    with warnings.catch_warnings():  # statsmodels' boundary warning at this small scale
        warnings.simplefilter("ignore")  # (sigma^2 = 5e-6); exante records it in the flags
        fit = smf.mixedlm("y ~ 0 + C(cell)", df, groups=df["plot"]).fit(reml=True)
    beta = np.asarray(fit.fe_params)
    cov = np.asarray(fit.cov_params())[: len(cells), : len(cells)]
    # containment df: whole plots minus whole-plot cells; residual after cells and plots
    x = np.hstack([pd.get_dummies(df["cell"]).to_numpy(float),
                   pd.get_dummies(df["plot"]).to_numpy(float)])
    df_res = len(df) - np.linalg.matrix_rank(x)
    df_wp = df["plot"].nunique() - 4
    for (factor, level), lv in levels_of(result).items():
        vec = np.array([_weight(c, factor, level) for c in cells])
        diff = float(vec @ beta)
        se = math.sqrt(float(vec @ cov @ vec))
        dof = df_wp if factor in ("depth", "act") else df_res
        half = sps.t.ppf(0.975, dof) * se
        assert lv["df"] == dof
        assert lv["diff"] == pytest.approx(diff, abs=1e-6)
        assert lv["ci_low"] == pytest.approx(diff - half, abs=1e-6)
        assert lv["ci_high"] == pytest.approx(diff + half, abs=1e-6)


def _weight(cell: str, factor: str, level: str) -> float:
    """Contrast weight of a cell: level's marginal mean minus the reference's (cells averaged)."""
    d, a, w = cell.split("_")
    value = {"depth": d, "act": a, "wd": w}[factor]
    per_level = 12 / (2 if factor != "wd" else 3)
    return (value == level) / per_level - (value == REFS[factor]) / per_level


def test_independent_on_correlated_seeds_gives_seeds_correlated(tmp_path: Path) -> None:
    rows = split_plot_table()
    result = run_and_decide(make_plan(tmp_path, rows, None))
    assert result["factorial"]["model"]["type"] == "independent"
    caveat = next(c for c in result["caveats"] if c["code"] == "SEEDS_CORRELATED")
    assert "seed within depth × act: intra-block correlation" in caveat["message"]
    assert "{type: split_plot, block: seed, whole_plot: [depth, act]}" in caveat["message"]
    assert "wd NO_EFFECT" in caveat["message"]  # what the blocked model would have given
    # the verdict stays the registered (independent) model's
    assert result["factorial"]["factor_verdicts"]["wd"]["verdict"] == "INCONCLUSIVE"


def fragile_table() -> list[dict]:
    """depth has a clear effect, except for one planted run that failed to train."""
    rng = np.random.default_rng(7)
    rows = []
    for d, a, w, s in itertools.product(DEPTHS, ACTS, WDS, SEEDS):
        y = 0.5 + 0.01 * (d == 4) + rng.normal(0, 0.004)
        if (d, a, w, s) == (4, "gelu", 1, 3):
            y = 0.2  # the planted run
        rows.append({"depth": d, "act": a, "wd": w, "seed": s, "y": repr(float(y))})
    return rows


def test_fragile_names_the_run_that_flips_a_factor_verdict(tmp_path: Path) -> None:
    result = run_and_decide(make_plan(tmp_path, fragile_table(), None, margin=0.5))
    assert result["factorial"]["factor_verdicts"]["depth"]["verdict"] != "EFFECT"
    flips = result["sensitivity"]["flips"]
    planted = [f for f in flips if f["unit"] == "depth=4, act=gelu, wd=1 seed 3"]
    assert {"kind": "run", "target": "depth", "after": "EFFECT"}.items() <= planted[0].items()
    assert result["sensitivity"]["units"] == 48 + 4
    caveat = next(c for c in result["caveats"] if c["code"] == "FRAGILE")
    assert "leaving out run depth=4, act=gelu, wd=1 seed 3 turns depth" in caveat["message"]


def test_robust_verdicts_are_not_fragile(tmp_path: Path) -> None:
    rows = fragile_table()
    planted = next(r for r in rows if (r["depth"], r["act"], r["wd"], r["seed"]) ==
                   (4, "gelu", 1, 3))
    planted["y"] = "0.51"  # the run trained like its neighbours
    result = run_and_decide(make_plan(tmp_path, rows, None, margin=0.5))
    assert result["factorial"]["factor_verdicts"]["depth"]["verdict"] == "EFFECT"
    assert result["sensitivity"]["flips"] == []
    assert "FRAGILE" not in [c["code"] for c in result["caveats"]]


def test_one_level_factor_is_refused_at_lock(tmp_path: Path, cli) -> None:
    plan = make_plan(tmp_path, split_plot_table(), None)
    plan.write_text(plan.read_text().replace("depth: [2, 4]", "depth: [2]").replace(
        "baseline: {depth: 2,", "baseline: {depth: 2,"))
    out = cli("lock", str(plan))
    assert out.exit_code == 2
    assert "design.factors.depth" in out.stderr and "at least 2 levels" in out.stderr


@pytest.mark.parametrize("model, path, words", [
    ("{type: nested}", "analysis.model.type", "one of independent, blocked, split_plot"),
    ("{type: split_plot, block: seed}", "analysis.model", "needs whole_plot"),
    ("{type: split_plot, whole_plot: [width]}", "analysis.model.whole_plot[0]", "names no factor"),
    ("{type: blocked, block: gpu}", "analysis.model.block", "one of seed"),
    ("{type: split_plot, whole_plot: [depth, act, wd]}", "analysis.model.whole_plot",
     "lists every factor"),
    ("{type: independent, block: seed}", "analysis.model.block", "no block"),
])
def test_bad_models_name_their_yaml_path(tmp_path: Path, model: str, path: str,
                                         words: str) -> None:
    plan = make_plan(tmp_path, split_plot_table(), model)
    with pytest.raises(PlanError) as err:
        load_plan(plan)
    assert path in str(err.value) and words in str(err.value)


def test_plan_records_the_model() -> None:
    from exante.spec import AnalysisModel

    plan = load_plan(Path(__file__).parents[1] / "src/exante/studies/mlp_ablation.yaml")
    assert plan.analysis.model == AnalysisModel("split_plot", "seed", ("depth", "activation"))


PAIRED_TRIAL = """\
VALUES = {"base": {1: 0.50, 2: 0.60, 3: 0.55, 4: 0.65, 5: 0.52},
          "arm": {1: 0.52, 2: 0.61, 3: 0.58, 4: 0.66, 5: 0.55}}


def train(params, seed, ctx):
    return {"score": VALUES[params["which"]][seed]}
"""


@pytest.mark.parametrize("rule", ["threshold", "sigma"])
def test_blocked_threshold_and_sigma_compare_paired_by_seed(tmp_path: Path, rule: str) -> None:
    folder = tmp_path / f"paired_{rule}"
    folder.mkdir()
    module = f"trial_{uuid.uuid4().hex[:12]}"
    (folder / f"{module}.py").write_text(PAIRED_TRIAL)
    decision = ('{rule: threshold, acceptance: "experiment.p_holm < 0.05"}' if rule ==
                "threshold" else "{rule: sigma}")
    (folder / "prereg.yaml").write_text("\n".join([
        f"experiment_id: paired-{rule}", "hypothesis: the arm scores higher on the same seed.",
        "metrics: {primary: {name: score, direction: higher}}",
        "design: {baseline: {which: base}, arms: {arm: {which: arm}}, seeds: [1, 2, 3, 4, 5]}",
        f'trial: {{python: "{module}:train"}}',
        "analysis: {model: {type: blocked, block: seed}}", f"decision: {decision}",
        'sha256: ""']) + "\n")
    result = run_and_decide(folder / "prereg.yaml")
    comp = result["comparisons"][0]
    base = [0.50, 0.60, 0.55, 0.65, 0.52]
    arm = [0.52, 0.61, 0.58, 0.66, 0.55]
    ref = sps.ttest_rel(arm, base)
    ci = ref.confidence_interval(0.95)
    diffs = np.subtract(arm, base)
    paired = comp["paired"]
    assert comp["test"] == "paired t by seed" and paired["seeds"] == [1, 2, 3, 4, 5]
    assert paired["p_value"] == pytest.approx(ref.pvalue, abs=1e-12)
    assert (paired["ci_low"], paired["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert paired["d_z"] == pytest.approx(diffs.mean() / diffs.std(ddof=1), abs=1e-12)
    assert comp["p_holm"] == pytest.approx(ref.pvalue, abs=1e-12)  # one comparison
    assert comp["p_value"] != comp["p_holm"]  # Welch stays beside, the paired test decides
    assert any("paired by seed (blocked model, 5 pairs)" in r for r in result["verdict_reasons"])
    if rule == "threshold":
        assert result["verdict"] == "PASS"  # paired p ≈ 0.003; Welch p ≈ 0.6 would fail


OUTLIER_TRIAL = """\
VALUES = {"base": {1: 0.50, 2: 0.51, 3: 0.49, 4: 0.50, 5: 0.60},
          "arm": {1: 0.62, 2: 0.63, 3: 0.61, 4: 0.62, 5: 0.62}}


def train(params, seed, ctx):
    return {"score": VALUES[params["which"]][seed]}
"""


def outlier_plan(tmp_path: Path, decision: str) -> Path:
    folder = tmp_path / f"outlier_{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    module = f"trial_{uuid.uuid4().hex[:12]}"
    (folder / f"{module}.py").write_text(OUTLIER_TRIAL)
    (folder / "prereg.yaml").write_text("\n".join([
        f"experiment_id: {folder.name}", "hypothesis: the arm scores higher.",
        "metrics: {primary: {name: score, direction: higher}}",
        "design: {baseline: {which: base}, arms: {arm: {which: arm}}, seeds: [1, 2, 3, 4, 5]}",
        f'trial: {{python: "{module}:train"}}', f"decision: {decision}", 'sha256: ""']) + "\n")
    return folder / "prereg.yaml"


def test_caveats_judge_the_registered_rule_not_the_2sigma_rule(tmp_path: Path) -> None:
    """One baseline run flips the per-cell 2σ verdict (z 2.2 -> 1.9); the registered threshold
    rule does not move, so neither OUTLIER_SENSITIVE nor FRAGILE may be said of it."""
    result = run_and_decide(outlier_plan(
        tmp_path, '{rule: threshold, acceptance: "experiment.mean > baseline.mean + 0.05"}'))
    codes = [c["code"] for c in result["caveats"]]
    assert result["verdict"] == "PASS"
    assert "OUTLIER_SENSITIVE" not in codes and "FRAGILE" not in codes
    assert result["sensitivity"]["flips"] == [] and result["sensitivity"]["units"] == 10 + 5


def test_under_the_2sigma_rule_the_same_run_is_fragile(tmp_path: Path) -> None:
    result = run_and_decide(outlier_plan(tmp_path, "{rule: sigma}"))
    codes = [c["code"] for c in result["caveats"]]
    assert result["verdict"] == "WINNER"
    assert "OUTLIER_SENSITIVE" in codes and "FRAGILE" in codes
    flipped = {(f["kind"], f["unit"], f["after"]) for f in result["sensitivity"]["flips"]}
    assert ("run", "baseline seed 1", "NEUTRAL") in flipped


def test_lock_explains_the_registered_model(tmp_path: Path, cli) -> None:
    plan = make_plan(tmp_path, split_plot_table(),
                     "{type: split_plot, block: seed, whole_plot: [depth, act]}")
    out = cli("lock", str(plan))
    assert out.exit_code == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "analysis model:" in x)
    assert "split plot: a block is one seed within one combination of depth, act" in line


def test_result_reads_the_new_fields_and_old_results_still_read(tmp_path: Path) -> None:
    from exante.results import read_result

    plan = make_plan(tmp_path, split_plot_table(), "{type: blocked, block: seed}")
    run_and_decide(plan)
    result = read_result(plan.parent)
    assert result.analysis_model["type"] == "blocked"
    assert set(result.sensitivity) == {"units", "method", "flips"}
    old = read_result(Path(__file__).parent / "fixtures/registry/mlp-ablation-v1")
    assert old.sensitivity is None and old.analysis_model is None


def test_report_intervals_use_the_split_plot_strata(tmp_path: Path) -> None:
    """Simple effects within whole plots use the split-plot error; two-way means and
    differences across whole plots the whole-plot error (the larger, here)."""
    from exante.report import derived
    from exante.results import read_result

    plan = make_plan(tmp_path, split_plot_table(),
                     "{type: split_plot, block: seed, whole_plot: [depth, act]}")
    run_and_decide(plan)
    result = read_result(plan.parent)
    df = frame(split_plot_table())
    st = strata_by_statsmodels(df, "C(depth):C(act):C(seed)")
    assert derived._error_term(result, ("wd",)) == pytest.approx(st["residual"], abs=1e-12)
    assert derived._error_term(result, ("depth",)) == pytest.approx(st["between"], abs=1e-12)
    assert derived._error_term(result) == pytest.approx(st["between"], abs=1e-12)
    levels = {"depth": [2, 4], "act": ["relu", "gelu"], "wd": [0, 1, 2]}
    wd_in_depth = derived.simple_effects(result, "wd", "depth", levels)
    half = sps.t.ppf(0.975, st["residual"][1]) * math.sqrt(st["residual"][0] * 2 / 8)
    assert wd_in_depth[0].ci_high - wd_in_depth[0].diff == pytest.approx(half, abs=1e-12)


def test_design_check_uses_the_registered_strata_and_holm(tmp_path: Path) -> None:
    from exante.designcheck import design_check

    plan = load_plan(make_plan(tmp_path, split_plot_table(),
                               "{type: split_plot, block: seed, whole_plot: [depth, act]}"))
    check = design_check(plan, sigma=0.01, sigma_source="test", reps=100)
    rows = check["per_factor"]
    # whole plots: 4 depth x act cells x (4 seeds - 1); split-plot error: 48 - 12 - 12
    assert (rows["depth"]["error_df"], rows["act"]["error_df"], rows["wd"]["error_df"]) == \
        (12, 12, 24)
    assert check["k"] == 4 and check["familywise_false_pass"] == 0.05
    se = math.sqrt(2 / 24)  # depth: 24 runs per level
    tcrit = sps.t.ppf(1 - 0.05 / 4 / 2, 12)  # Holm's worst step: alpha / k
    power = sps.nct.sf(tcrit, 12, 1 / se) + sps.nct.cdf(-tcrit, 12, 1 / se)
    assert rows["depth"]["power_at_smallest_effect"] == pytest.approx(power, abs=1e-12)
    assert "split plot" in check["analysis_model"]
