"""The paper as a reader gets it: the PDF rendered, its pages counted and its text read back.

Checks the issue's contract on a factorial study: exactly six pages of body before the
appendices, every required section heading in the body, no unfilled placeholder, an
abstract that states each factor's finding with its interval, and figure text at 8 pt
or more at print size.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import copy_registry  # noqa: E402

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

from exante.report import render_paper  # noqa: E402
from exante.report.paper import BODY_PAGES  # noqa: E402

HEADINGS = ("Abstract", "1 Introduction", "2 Background and related work", "3 Setup",
            "4 Pre-registration and deviations", "5 Results", "5.1 Main effects",
            "6 Negative and null results", "7 Discussion", "8 Threats to validity",
            "9 Reproducibility", "References")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{%|\bNone\b|\bnan\b|\bNaN\b|TODO|\?\?|<[a-z]+>|"
                         r"-1\.111e|e-0\d")


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    root = copy_registry(tmp_path_factory.mktemp("paper") / "registry")
    plan = root / "mlp-ablation-v1" / "prereg.yaml"
    html_path, pdf_path = render_paper(plan)
    pages = [p.extract_text() or "" for p in pypdf.PdfReader(str(pdf_path)).pages]
    result = json.loads((plan.parent / "result.json").read_text())
    return {"pages": pages, "result": result, "folder": plan.parent, "html": html_path}


def _body(pages: list[str]) -> tuple[int, str]:
    first = next(i for i, t in enumerate(pages) if re.search(r"^Appendices\s*$", t, re.M))
    return first, "\n".join(pages[:first])


def test_body_is_exactly_six_pages_then_appendices(paper):
    n, _ = _body(paper["pages"])
    assert n == BODY_PAGES == 6
    rest = "\n".join(paper["pages"][n:])
    for heading in ("Appendix A. Glossary", "Appendix B. Every cell", "Appendix E. The sealed plan"):
        assert heading in rest
    assert "sha256:" in rest  # the raw YAML is quoted, in the appendix only
    _, body = _body(paper["pages"])
    assert "experiment_id:" not in body and "sha256: \"" not in body


def test_every_required_heading_is_in_the_body(paper):
    _, body = _body(paper["pages"])
    for heading in HEADINGS:
        assert re.search(rf"^{re.escape(heading)}\s*$", body, re.M), heading
    for ref in ("Welch", "Cohen", "Hedges", "Holm", "Lakens", "Bouthillier", "Agarwal",
                "CONSORT"):
        assert ref in body.split("References")[-1], ref


def test_no_unfilled_placeholder(paper):
    text = "\n".join(paper["pages"])
    body = _body(paper["pages"])[1]
    assert not PLACEHOLDER.search(body), PLACEHOLDER.search(body).group(0)
    assert "—  —" not in text
    assert not re.search(r"Figure \d+\.\s*$", body, re.M)  # a caption without its text


def test_abstract_states_each_factor_finding_with_its_interval(paper):
    page = re.sub(r"\s+", " ", paper["pages"][0])
    abstract = page.split("Abstract", 1)[1].split("1 Introduction", 1)[0].strip()
    phrases = {"EFFECT": "effect detected", "NO_EFFECT": "no effect detected",
               "INCONCLUSIVE": "inconclusive"}
    for factor, v in paper["result"]["factorial"]["factor_verdicts"].items():
        name = factor.replace("_", " ").capitalize()
        m = re.search(rf"{name}: ([^—]+) — (.+?)\.(?= [A-Z0-9]|$)", abstract)
        assert m, f"no finding for {factor} in the abstract"
        assert m.group(1).startswith(phrases[v["verdict"]])
        assert "95% CI" in m.group(2) and "points" in m.group(2)


def test_figure_text_is_at_least_8_pt_at_print_size(paper):
    svgs = sorted((paper["folder"] / "figures").glob("paper-*.svg"))
    assert {p.name for p in svgs} >= {"paper-cells.svg", "paper-main_effects.svg",
                                      "paper-interactions.svg"}
    for svg in svgs:
        text = svg.read_text()
        width = float(re.search(r'<svg[^>]*width="([0-9.]+)pt"', text).group(1))
        assert abs(width - 7 * 72) < 1, svg.name  # drawn at the printed width: no scaling
        sizes = [float(s) for s in re.findall(r"font-size: ?([0-9.]+)px", text)] + \
                [float(s) for s in re.findall(r"font: (?:[a-z]+ )*([0-9.]+)px", text)]
        assert sizes and min(sizes) >= 8.0, (svg.name, min(sizes or [0]))
