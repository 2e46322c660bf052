"""Golden files: report.md and seed 003's research note, from a fixed, checked-in ledger.

The fixture (tests/fixtures/shared_registry) was locked, run and decided for real
with a fixed clock; see tests/fixtures/build_fixtures.py. The reports contain
no timestamps, so the text is a pure function of those files. To accept an
intended change: EXANTE_UPDATE_GOLDEN=1 pytest tests/test_report_golden.py,
then review the diff of tests/golden/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import check_golden  # noqa: E402

from exante.report import render_report, write_sigma_note  # noqa: E402

SEED_003_HEADINGS = ["# Experiment: ", "## Baseline Statistics (N=", "## Experiment Statistics (N=",
                     "## Statistical Test", "## Wall Clock", "## Verdict: "]


@pytest.fixture(scope="module")
def report_md(shared_registry) -> str:
    paths = render_report(shared_registry / "lr-warmup-v1" / "prereg.yaml")
    assert paths[0].name == "report.md" and paths[1].name == "report.html"
    return paths[0].read_text(encoding="utf-8")


def test_report_md_matches_golden(report_md):
    check_golden(report_md, "report_lr-warmup-v1.md")


def test_report_md_has_seed_003_tables(report_md):
    assert "| Metric | Mean | Std | Min | Max |" in report_md
    assert "| Metric | Cohen's d | Effect Size | Significant? |" in report_md
    assert "| Baseline Mean | Experiment Mean | Delta |" in report_md
    positions = [report_md.index(h) for h in SEED_003_HEADINGS[1:]]
    assert positions == sorted(positions), "seed 003's sections are out of order"


def test_sigma_note_matches_golden(shared_registry):
    note = write_sigma_note(shared_registry / "swiglu-1M" / "prereg.yaml")
    assert note == shared_registry / "docs" / "research" / "experiment_swiglu-1M_1M.md"
    text = note.read_text(encoding="utf-8")
    check_golden(text, "experiment_swiglu-1M_1M.md")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    for want, got in zip(SEED_003_HEADINGS, headings):
        assert got.startswith(want)
    assert headings[1] == "## Baseline Statistics (N=5 runs)"
    assert re.search(r"^## Verdict: NEUTRAL$", text, re.M)


def test_no_timestamps_or_absolute_paths(report_md, shared_registry):
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", report_md)
    assert str(shared_registry) not in report_md
