"""The design check held against the data: assumed σ beside observed, and what it implies.

The plan assumes σ = 0.005; the runs scatter with σ ≈ 0.02. At that σ the
registered ±0.01 equivalence margin for factor b cannot be met (the CI
half-width is wider than the margin), and result.json, the caveats (LOW_POWER
reads the observed figures; UNTESTABLE says it plainly, with the seed count
that would make it testable) and the report say so.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
from scipy import stats as sps

from exante import registration, runner
from exante.decide import decide
from exante.report import render_deck, render_paper, render_report

TRIAL = """\
import math


def train(params, seed, ctx):
    wobble = 0.02 * math.sin(7 * seed + 3 * params["a"] + 5 * params["b"])
    return {"score": 0.7 + 0.05 * params["a"] + wobble}
"""

FACTORIAL = """\
experiment_id: {name}
hypothesis: a raises the score; b does nothing.
metrics: {{primary: {{name: score, direction: higher}}}}
design:
  factors: {{a: [0, 1], b: [0, 1]}}
  baseline: {{a: 0, b: 0}}
  seeds: [1, 2, 3]
trial: {{python: {module}:train}}
decision: {{rule: factorial, equivalence_margin: 0.01, smallest_effect: 1.0, sigma_guess: 0.005}}
sha256: ""
"""

ARMS = """\
experiment_id: {name}
hypothesis: the arm scores higher.
metrics: {{primary: {{name: score, direction: higher}}}}
design:
  baseline: {{a: 0, b: 0}}
  arms: {{treated: {{a: 0, b: 1}}}}
  seeds: [1, 2, 3, 4]
trial: {{python: {module}:train}}
decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean", sigma_guess: 0.005}}
sha256: ""
"""


def run(tmp_path: Path, name: str, body: str) -> tuple[Path, dict]:
    folder = tmp_path / name
    folder.mkdir()
    module = f"trial_observed_{name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TRIAL)
    plan = folder / "prereg.yaml"
    plan.write_text(body.format(name=name, module=module))
    registration.lock(plan)
    runner.run(plan, runner.RunOptions(executor="inline"))
    return plan, decide(plan)


def pooled(cells: list[dict]) -> float:
    ss = df = 0.0
    for c in cells:
        xs = [v for v in c["values"] if v is not None]
        m = sum(xs) / len(xs)
        ss += sum((x - m) ** 2 for x in xs)
        df += len(xs) - 1
    return math.sqrt(ss / df)


def power(ncp: float, df: float) -> float:
    t = sps.t.ppf(0.975, df)
    return sps.nct.sf(t, df, ncp) + sps.nct.cdf(-t, df, ncp)


def test_observed_sigma_power_and_equivalence_width_sit_beside_the_assumed(tmp_path):
    plan, result = run(tmp_path, "observed-factorial", FACTORIAL)
    seen = result["design_check_observed"]
    cells = [c for c in result["cells"] if c["role"] in ("baseline", "arm")]
    assert seen["sigma_assumed"] == 0.005 and seen["sigma_source"] == "decision.sigma_guess"
    assert seen["sigma_observed"] == pytest.approx(pooled(cells), rel=1e-12)
    assert seen["sigma_observed_df"] == 8
    assert seen["sigma_ratio"] == pytest.approx(pooled(cells) / 0.005)

    effect = next(e for e in result["factorial"]["main_effects"]["effects"] if e["factor"] == "b")
    level = next(lv for lv in effect["levels"] if lv.get("se"))
    half = (level["ci_high"] - level["ci_low"]) / 2
    b = seen["factors"]["b"]
    assert b["ci_half_width"] == pytest.approx(half, rel=1e-9)
    assert half > 0.01 and b["equivalence_testable"] is False
    se, df = level["se"], result["factorial"]["main_effects"]["df_resid"]
    need = next(m for m in range(2, 200)
                if sps.t.ppf(0.975, df * (m - 1) / 2) * se * math.sqrt(3 / m) < 0.01)
    assert b["seeds_to_test_equivalence"] == need and need > 3
    assert b["power"] == pytest.approx(power(0.005 / se, df), rel=1e-9)  # smallest effect 1 σ
    assert seen["power"] == min(f["power"] for f in seen["factors"].values())

    sure = next(m for m in range(2, 200) if 2 * sps.norm.cdf(
        (0.01 - sps.t.ppf(0.975, df * (m - 1) / 2) * se * math.sqrt(3 / m))
        / (se * math.sqrt(3 / m))) - 1 >= 0.8)
    assert b["seeds_for_80_equivalence"] == sure and sure > need
    assert result["factorial"]["factor_verdicts"]["a"]["verdict"] == "EFFECT"
    assert not any(line.startswith("a:") for line in seen["lines"])  # an effect was found

    said = " ".join(seen["lines"])
    assert "b: a NO_EFFECT (equivalence) claim could not have succeeded" in said
    assert f"{need} seeds per cell would make it testable, {sure} seeds per cell give an 80% " \
           "chance of showing equivalence" in said
    caveats = {c["code"]: c["message"] for c in result["caveats"]}
    assert f"{need} seeds per cell would make it testable" in caveats["UNTESTABLE"]
    assert "at the observed σ" in caveats["LOW_POWER"] and "assumed σ 0.005" in \
        caveats["LOW_POWER"]
    md = render_report(plan)[0].read_text()
    assert "σ observed" in md and "equivalence NOT testable" in md
    assert "could not have succeeded" in md
    paper = render_paper(plan, pdf=False)[0].read_text()
    assert "Held against the data" in paper and "could not have succeeded" in paper
    deck = render_deck(plan).read_text()
    assert "σ assumed at lock / observed" in deck and "Power at the observed σ" in deck


def test_arms_get_the_two_sample_power_at_the_observed_sigma(tmp_path):
    _, result = run(tmp_path, "observed-arms", ARMS)
    seen = result["design_check_observed"]
    arms = seen["arms"]
    se = seen["sigma_observed"] * math.sqrt(1 / 4 + 1 / 4)
    assert arms["power"] == pytest.approx(power(0.005 / se, 6), rel=1e-9)
    assert seen["factors"] is None and seen["power"] == arms["power"]
    need = arms["seeds_for_80_power"]
    assert power(0.005 / (seen["sigma_observed"] * math.sqrt(2 / need)), 2 * need - 2) >= 0.8
    assert power(0.005 / (seen["sigma_observed"] * math.sqrt(2 / (need - 1))),
                 2 * need - 4) < 0.8


def test_an_older_result_without_the_block_still_reads(tmp_path):
    from exante.results import Result

    r = Result.from_dict({"schema": 1, "plan_sha256": "x", "verdict": "PASS", "cells": []})
    assert r.design_check_observed is None and r.untrained == ()


def test_strata_and_per_level_error_terms_of_a_fitted_model_are_read(tmp_path):
    """Under a split-plot model the factorial block carries its error strata and each level's
    own stratum, SE and df (stats.fit_model); the observed figures use them as they are."""
    from exante import observed
    from exante.spec import load_plan

    folder = tmp_path / "sp"
    folder.mkdir()
    plan_path = folder / "prereg.yaml"
    plan_path.write_text(FACTORIAL.format(name="sp", module="m"))
    plan = load_plan(plan_path)
    factorial = {
        "model": {"type": "split_plot",
                  "strata": [{"name": "whole_plot", "df": 4, "sum_sq": 4 * 0.03 ** 2,
                              "ms": 0.03 ** 2},
                             {"name": "residual", "df": 4, "sum_sq": 4 * 0.002 ** 2,
                              "ms": 0.002 ** 2}]},
        "main_effects": {"df_resid": 4, "effects": [
            {"factor": "a", "levels": [{"level": 0, "se": None},
                                       {"level": 1, "se": 0.0173, "df": 4.0,
                                        "error": "whole_plot"}]},
            {"factor": "b", "levels": [{"level": 0, "se": None},
                                       {"level": 1, "se": 0.00115, "df": 4.0,
                                        "error": "residual"}]}]}}
    cells = [{"role": "baseline", "values": [0.7, 0.72, 0.68]},
             {"role": "arm", "values": [0.75, 0.77, 0.73]}]
    seen = observed.check(plan, cells, factorial, {"sigma": 0.005, "sigma_source": "guess"})
    assert seen["strata"] == [{"name": "whole_plot", "df": 4, "sigma": pytest.approx(0.03)},
                              {"name": "residual", "df": 4, "sigma": pytest.approx(0.002)}]
    a, b = seen["factors"]["a"], seen["factors"]["b"]
    assert a["levels"][0]["error"] == "whole_plot" and b["levels"][0]["error"] == "residual"
    assert a["ci_half_width"] == pytest.approx(sps.t.ppf(0.975, 4) * 0.0173)
    assert a["equivalence_testable"] is False and b["equivalence_testable"] is True
    assert any(line.startswith("a: a NO_EFFECT") for line in seen["lines"])
    assert not any(line.startswith("b: a NO_EFFECT") for line in seen["lines"])
