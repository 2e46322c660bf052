"""What the per-experiment report, the paper and the deck say, and what they refuse to read."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

from exante import ledger as L  # noqa: E402
from exante.errors import (InputError, MissingDependencyError, RefusedError,  # noqa: E402
                           TamperedError)
from exante.report import (render_deck, render_paper, render_report,  # noqa: E402
                           render_sigma_markdown)
from exante.report import doc as D  # noqa: E402
from exante.report.html import render_document, safe_href, safe_src  # noqa: E402

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def ablation(shared_registry) -> dict[str, str]:
    plan = shared_registry / "mlp-ablation-v1" / "prereg.yaml"
    paths = render_report(plan)
    html_path, pdf_path = render_paper(plan, pdf=False)
    assert pdf_path is None
    return {"md": paths[0].read_text(encoding="utf-8"),
            "paper": html_path.read_text(encoding="utf-8"),
            "figures": [p.name for p in paths[2:]]}


def _fresh(tmp_path: Path, shared_registry: Path, name: str) -> Path:
    import shutil

    shutil.copytree(shared_registry / name, tmp_path / name)
    return tmp_path / name / "prereg.yaml"


# ---------------------------------------------------------------- the report


def test_factorial_report_sections_and_figures(ablation):
    md = ablation["md"]
    for heading in ("## Hypothesis", "## Pre-registered plan", "## Design check",
                    "## Factorial analysis", "## Verdict: PASS", "## Caveats",
                    "## Amendments and deviations", "## Flow of runs",
                    "## What this does not show", "## Appendix: the sealed plan"):
        assert heading in md
    assert ablation["figures"][:4] == ["cells.svg", "main_effects.svg", "interactions.svg",
                                       "forest.svg"]
    assert sorted(ablation["figures"][4:]) == ["factor-activation.svg", "factor-depth.svg",
                                               "factor-weight_decay.svg"]
    assert "| activation | no effect detected: equivalent within ±0.005 |" in md
    assert "| weight_decay | inconclusive |" in md
    assert "That activation has no effect at all: only that its effect is equivalent within " \
           "±0.005" in md
    assert "Whether weight_decay matters: the data show neither an effect nor its absence." in md


def test_neutral_is_not_evidence_of_no_effect(shared_registry):
    md = render_report(shared_registry / "swiglu-1M" / "prereg.yaml")[0].read_text(encoding="utf-8")
    assert "A NEUTRAL verdict is not evidence of no effect at this power" in md
    assert "(suggestive but inconclusive)" in md


def test_killed_report_shows_the_kill_and_the_runs_not_run(shared_registry):
    md = render_report(shared_registry / "compress-16-layer" / "prereg.yaml")[0].read_text("utf-8")
    assert "## Verdict: KILL" in md
    assert "Killed by rule `any_cell_worse`" in md
    assert "2 registered run(s) never started (stopped by the kill rule)" in md


def test_missing_result_is_an_input_error(shared_registry):
    with pytest.raises(InputError, match="exante decide"):
        render_report(shared_registry / "lr-warmup-v2" / "prereg.yaml")


def test_bet_module_is_reported_by_the_catalogue_not_report(shared_registry):
    with pytest.raises(InputError, match="rollup"):
        render_report(shared_registry / "bets" / "07_noise_floor.py")


def test_refuses_a_tampered_plan(tmp_path, shared_registry):
    plan = _fresh(tmp_path, shared_registry, "compress-4-layer")
    plan.write_text(plan.read_text().replace("15%", "5%"), encoding="utf-8")
    with pytest.raises(TamperedError):
        render_report(plan)


def test_refuses_a_result_for_another_plan_version(tmp_path, shared_registry):
    plan = _fresh(tmp_path, shared_registry, "compress-4-layer")
    result = json.loads((plan.parent / "result.json").read_text())
    result["plan_sha256"] = "ab" * 32
    (plan.parent / "result.json").write_text(json.dumps(result))
    with pytest.raises(RefusedError, match="decided for plan"):
        render_report(plan)


def test_refuses_a_result_from_another_ledger(tmp_path, shared_registry):
    plan = _fresh(tmp_path, shared_registry, "compress-4-layer")
    result = json.loads((plan.parent / "result.json").read_text())
    result["ledger_head"] = "cd" * 32
    (plan.parent / "result.json").write_text(json.dumps(result))
    with pytest.raises(RefusedError, match="not a record of this ledger"):
        render_report(plan)


def test_refuses_a_stale_result(tmp_path, shared_registry):
    plan = _fresh(tmp_path, shared_registry, "compress-4-layer")
    L.Ledger(plan.parent / "ledger.jsonl").append(L.RUN_FAILED, {"run_id": "x", "cell": "x"})
    with pytest.raises(RefusedError, match="decide` again"):
        render_report(plan)


# ---------------------------------------------------------------- seed 003 note


def test_sigma_markdown_names_a_reused_baseline(shared_registry):
    result = json.loads((shared_registry / "swiglu-1M" / "result.json").read_text())
    result["reused_baseline"] = {"source": "swiglu-1M", "store": "docs/research/b.json"}
    text = render_sigma_markdown(result, name="rope")
    assert text.startswith("# Experiment: rope\n")
    assert "Baseline reused from `swiglu-1M` (`docs/research/b.json`)" in text
    assert "under rule A (σ = baseline SD)" in text and "under rule B (σ pooled)" in text
    assert "Welch p = 0.018" in text


def test_sigma_markdown_keeps_seed_003_format_exactly(shared_registry):
    """The seed's headings and columns as printed; exante's tables only after the verdict."""
    result = json.loads((shared_registry / "swiglu-1M" / "result.json").read_text())
    text = render_sigma_markdown(result)
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[:5] == ["## Baseline Statistics (N=5 runs)", "## Experiment Statistics (N=5 runs)",
                         "## Statistical Test", "## Wall Clock", "## Verdict: NEUTRAL"]
    seed_part = text[text.index("## Statistical Test"):text.index("## Verdict")]
    assert "| Metric | Cohen's d | Effect Size | Significant? |" in seed_part
    assert "|  | Baseline Mean | Experiment Mean | Delta |" in seed_part
    assert "Welch t" not in seed_part and "Hedges g" not in seed_part
    additions = text[text.index("## exante additions"):]
    assert "| Cell | Δ | 95% CI of Δ | Welch t |" in additions


# ---------------------------------------------------------------- escaping


def test_markdown_shows_user_markup_as_text(shared_registry):
    result = json.loads((shared_registry / "swiglu-1M" / "result.json").read_text())
    result["hypothesis"] = XSS
    result["cells"][1]["name"] = "<img src=x onerror=alert(1)>|pipe"
    text = render_sigma_markdown(result)
    assert "<script" not in text and "<img" not in text
    assert "> &lt;script>alert(1)&lt;/script>" in text
    assert "Cell &lt;img src=x onerror=alert(1)>|pipe (" in text
    assert D.md_escape("p < 0.05 & R&D") == "p < 0.05 & R&D"


def test_html_escapes_every_user_string():
    document = D.Document(XSS, [D.Section(XSS, [
        D.Para([D.b(XSS), D.code(XSS), D.link(XSS, "javascript:alert(1)"), D.badge(XSS)]),
        D.Table([XSS], [[XSS]], caption=XSS), D.Bullets([XSS]), D.Quote(XSS), D.Code(XSS),
        D.Figure("javascript:alert(1)", XSS, XSS)])], [D.Para(XSS)])
    page = render_document(document, footer=XSS)
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 12
    assert 'href="javascript:' not in page and 'src="javascript:' not in page


def test_link_and_image_targets():
    assert safe_href("javascript:alert(1)") == "./javascript:alert(1)"
    assert safe_href("lr-warmup-v2/report.html") == "lr-warmup-v2/report.html"
    assert safe_href("https://example.org/x") == "https://example.org/x"
    assert safe_src("data:image/svg+xml;base64,PHN2Zz4=") == "data:image/svg+xml;base64,PHN2Zz4="
    assert safe_src("data:text/html;base64,PHN2Zz4=").startswith("./")


# ---------------------------------------------------------------- paper and deck


def _abstract(page: str) -> str:
    m = re.search(r'<section id="abstract">.*?<p>(.*?)</p>', page, re.S)
    assert m, "no abstract"
    return m.group(1)


def test_paper_abstract_is_honest_about_every_factor(ablation):
    abstract = _abstract(ablation["paper"])
    assert "Depth: effect detected — 4 vs 2: +2.42 points (95% CI +1.93 to +2.90)" in abstract
    assert "Activation: no effect detected: equivalent within ±0.50 points — gelu vs relu" \
        in abstract
    assert "Weight decay: inconclusive — " in abstract
    assert "the intervals include zero and reach beyond the margin" in abstract
    assert "sealed the plan (sha256 2f143ed27056)" in abstract
    wd = abstract.split("Weight decay:")[1].split(".")[0]
    assert "no effect" not in wd and "detected" not in wd


def test_paper_gives_negative_results_the_same_space(ablation):
    page = ablation["paper"]
    negatives = re.search(r'<section id="6-negative-and-null-results">(.*?)</section>', page,
                          re.S).group(1)
    assert "Activation: no effect detected" in negatives  # the bounded null, stated as such
    assert "Weight decay: inconclusive" in negatives
    assert "rules out effects larger than ±0.50 points, not every effect" in negatives
    for heading in ("1 Introduction", "2 Background and related work", "3 Setup",
                    "4 Pre-registration and deviations", "5 Results", "5.1 Main effects",
                    "6 Negative and null results", "7 Discussion", "8 Threats to validity",
                    "9 Reproducibility", "References", "Appendices",
                    "Appendix E. The sealed plan"):
        assert f">{heading}<" in page


def test_paper_pdf(shared_registry):
    pytest.importorskip("weasyprint")
    html_path, pdf_path = render_paper(shared_registry / "compress-4-layer" / "prereg.yaml")
    assert html_path.name == "paper.html"
    assert pdf_path.read_bytes().startswith(b"%PDF")


def test_paper_pdf_names_the_extra_when_weasyprint_is_missing(shared_registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(MissingDependencyError, match=r"exante\[pdf\]"):
        render_paper(shared_registry / "compress-4-layer" / "prereg.yaml")


def test_deck_is_self_contained(shared_registry):
    deck = render_deck(shared_registry / "mlp-ablation-v1" / "prereg.yaml").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", deck)
    assert "@import" not in deck and "url(" not in deck
    srcs = re.findall(r'<img src="([^"]+)"', deck)
    assert srcs and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    slides = re.findall(r'<section class="slide', deck)
    assert 12 <= len(slides) <= 20
    for title in ("The question", "Negative and null results", "What this does not show"):
        assert f"<h2>{title}</h2>" in deck
    assert "ArrowRight" in deck


def test_result_spelled_as_in_the_issue_renders_the_same(shared_registry):
    """result.json written with the issue's names (p, partial_eta2, marginal_mean,
    fraction_beating …) reads exactly like decide's record names."""
    from exante.report.inputs import load_inputs
    from exante.report.markdown import render_markdown

    for name in ("mlp-ablation-v1", "lr-warmup-v1"):
        inputs = load_inputs(shared_registry / name / "prereg.yaml")
        r = json.loads(json.dumps(inputs.result))
        if r.get("factorial"):
            f = r["factorial"]
            f["df_resid"] = f["anova"]["df_resid"]
            f["anova"] = [{"term": t["term"], "df": t["df"], "F": t["F"], "p": t["p_value"],
                           "partial_eta2": t["partial_eta_sq"]} for t in f["anova"]["terms"]]
            f["cell_means"] = f["main_effects"]["cells"]
            f["main_effects"] = [{"factor": e["factor"], "reference": e["reference"],
                                  "tag": e["tag"], "levels": [
                                      {"level": lv["level"], "marginal_mean": lv["mean"],
                                       "diff": lv["diff"], "ci_low": lv["ci_low"],
                                       "ci_high": lv["ci_high"]} for lv in e["levels"]]}
                                 for e in f["main_effects"]["effects"]]
        if r.get("tau"):
            t = r["tau"]
            r["tau"] = {"tau": t["tau"], "threshold": t["threshold"], "margin": t["margin"],
                        "scores": t["scores"], "mean": t["tau_mean"], "sd": t["tau_sd"],
                        "method": t["method_cell"], "method_mean": t["method_mean"],
                        "fraction_beating": t["frac_beyond_threshold"], "t_p": t["p_value"],
                        "null_probability": t["rank_null_p"], "passed": t["passed"]}
        renamed = type(inputs)(inputs.plan_path, inputs.folder, inputs.plan, inputs.plan_text,
                               inputs.records, r)
        assert render_markdown(renamed) == render_markdown(inputs)
