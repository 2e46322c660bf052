"""The readout deck opened in headless Chromium on a 1280×720 screen.

Every slide must fit its frame (no element reaches outside it, nothing scrolls inside
it), carry speaker notes, and the notes' time budgets must sum to the 25-minute readout.
The presenter view opens with P and shows the current slide's notes and a timer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import Chromium, chromium_path, copy_registry  # noqa: E402

from exante.report import render_deck  # noqa: E402

BINARY = chromium_path()
pytestmark = pytest.mark.skipif(BINARY is None, reason="headless Chromium is not installed "
                                "(apt-get install -y chromium); CI installs it")

SLIDES = """(() => Array.from(document.querySelectorAll('.slide')).map((sl, i) => {
  const r = sl.getBoundingClientRect(), out = [];
  if (sl.scrollHeight > sl.clientHeight + 1 || sl.scrollWidth > sl.clientWidth + 1)
    out.push('scrolls ' + sl.scrollWidth + 'x' + sl.scrollHeight);
  sl.querySelectorAll('*').forEach(el => {
    const e = el.getBoundingClientRect();
    if (e.width === 0 && e.height === 0) return;
    if (e.right > r.right + 1 || e.bottom > r.bottom + 1 || e.left < r.left - 1 ||
        e.top < r.top - 1) out.push(el.tagName + ' ' + (el.textContent || '').slice(0, 40));
  });
  const notes = sl.querySelector('aside.notes');
  return {title: sl.querySelector('h2').textContent, width: r.width, height: r.height,
          overflow: out, notes: notes ? notes.textContent.trim() : '',
          minutes: notes ? parseFloat(notes.dataset.minutes) : null,
          images: Array.from(sl.querySelectorAll('img')).map(i => i.complete && i.naturalWidth > 0)};
}))()"""
PRESENTER = """new Promise(r => {
  window.scrollTo(0, document.querySelectorAll('.slide')[5].offsetTop);
  setTimeout(() => {
    document.dispatchEvent(new KeyboardEvent('keydown', {key: 'p'}));
    setTimeout(() => { const p = document.getElementById('presenter');
      r({shown: getComputedStyle(p).display !== 'none',
         clock: document.getElementById('p-clock').textContent,
         title: document.getElementById('p-title').textContent,
         notes: document.getElementById('p-notes').textContent,
         budget: document.getElementById('p-budget').textContent}); }, 1200);
  }, 300);
})"""


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    root = copy_registry(tmp_path_factory.mktemp("deck") / "registry")
    browser = Chromium(BINARY, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield {name: browser.load(render_deck(root / name / "prereg.yaml").as_uri(),
                                  {"slides": SLIDES, "presenter": PRESENTER}, (1280, 720))
               for name in ("mlp-ablation-v1", "lr-warmup-v1", "swiglu-1M")}
    finally:
        browser.close()


@pytest.mark.parametrize("name", ["mlp-ablation-v1", "lr-warmup-v1", "swiglu-1M"])
def test_every_slide_fits_1280x720_and_notes_sum_to_25_minutes(decks, name):
    page = decks[name]
    assert page["exceptions"] == [] and page["dialogs"] == []
    slides = page["probes"]["slides"]
    assert 12 <= len(slides) <= 16, [s["title"] for s in slides]
    for s in slides:
        assert (s["width"], s["height"]) == (1280, 720), s["title"]
        assert s["overflow"] == [], (s["title"], s["overflow"][:3])
        assert len(s["notes"]) > 40, f"slide {s['title']!r} has no speaker notes"
        assert all(s["images"]), s["title"]
    assert sum(s["minutes"] for s in slides) == pytest.approx(25.0)


def test_deck_has_setup_findings_negatives_limits_and_take_home(decks):
    titles = [s["title"] for s in decks["mlp-ablation-v1"]["probes"]["slides"]]
    for wanted in ("Setup", "Negative and null results", "What this does not show",
                   "Take-home"):
        assert wanted in titles
    findings = [t for t in titles if t.split(":")[0] in ("Depth", "Activation", "Weight decay")]
    assert len(findings) == 3  # one slide per registered factor
    finding_slides = [s for s in decks["mlp-ablation-v1"]["probes"]["slides"]
                      if s["title"] in findings]
    assert all(len(s["images"]) == 1 for s in finding_slides)  # each with its figure


def test_presenter_view_shows_notes_and_a_timer(decks):
    p = decks["mlp-ablation-v1"]["probes"]["presenter"]
    assert p["shown"]
    assert p["title"].startswith("6. ")
    assert len(p["notes"]) > 40
    assert p["clock"].count(":") == 1 and "min of 25" in p["budget"]
