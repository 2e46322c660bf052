"""report.html, index.html and deck.html opened in real headless Chromium.

Driven over the DevTools protocol (--remote-debugging-pipe): the test sees
every console message, uncaught exception, failed resource load and
JavaScript dialog. A hypothesis of ``<script>alert(1)</script>`` must render
as text: no dialog opens and the quoted text equals the string.

CI installs Chromium with: apt-get update && apt-get install -y chromium
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import Chromium, chromium_path, copy_registry, make_experiment  # noqa: E402

from exante.registry import rollup  # noqa: E402
from exante.report import render_deck, render_report  # noqa: E402

XSS = "<script>alert(1)</script>"
BINARY = chromium_path()
pytestmark = pytest.mark.skipif(
    BINARY is None, reason="headless Chromium is not installed (apt-get install -y chromium); "
                           "CI installs it")

IMAGES = ("Array.from(document.images).map(i => ({src: i.getAttribute('src').slice(0, 40), "
          "ok: i.complete && i.naturalWidth > 0}))")
PROBES = {
    "images": IMAGES,
    "scripts": "document.querySelectorAll('script').length",
    "text": "document.body.innerText",
    "quote": "(document.querySelector('blockquote.hypothesis') || {}).textContent",
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A registry with an experiment whose hypothesis is a script tag, reported and rolled up,
    loaded in one Chromium."""
    root = copy_registry(tmp_path_factory.mktemp("browser") / "registry")
    plan = make_experiment(root / "xss", "xss-check", XSS)
    report = render_report(plan)[1]
    warmup = render_report(root / "lr-warmup-v1" / "prereg.yaml")[1]
    deck = render_deck(plan)
    index = rollup(root)[2]
    browser = Chromium(BINARY, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield {name: browser.load(path.as_uri(), PROBES | extra)
               for name, path, extra in (
                   ("report", report, {}), ("warmup", warmup, {}), ("index", index, {}),
                   ("deck", deck, {"scrolled": (
                       "new Promise(r => { document.dispatchEvent(new KeyboardEvent('keydown', "
                       "{key: 'ArrowRight'})); setTimeout(() => r(window.scrollY), 300); })")}))}
    finally:
        browser.close()


def _clean(page: dict) -> None:
    assert page["dialogs"] == [], f"a script ran: {page['dialogs']}"
    assert page["exceptions"] == []
    assert [c for c in page["console"] if c.get("type") in ("error", "warning", "assert")] == []
    assert [e for e in page["log"] if e.get("level") in ("error", "warning")] == []
    images = page["probes"]["images"]
    assert all(i["ok"] for i in images), f"an image did not load: {images}"


def test_report_renders_the_script_hypothesis_as_text(pages):
    page = pages["report"]
    _clean(page)
    assert page["probes"]["quote"] == XSS
    assert page["probes"]["scripts"] == 0
    assert len(page["probes"]["images"]) >= 2


def test_report_with_every_figure_loads_cleanly(pages):
    page = pages["warmup"]
    _clean(page)
    assert [i["src"] for i in page["probes"]["images"]] == [
        "figures/cells.svg", "figures/forest.svg", "figures/controls.svg"]
    assert "Verdict: PASS" in page["probes"]["text"]


def test_index_shows_retraction_missing_postmortem_and_escaped_text(pages):
    page = pages["index"]
    _clean(page)
    text = page["probes"]["text"]
    assert XSS in text
    assert "RETRACTED (was PASS)" in text
    assert "Killed without a postmortem (1)" in text
    assert "exante postmortem compress-16-layer" in text
    assert page["probes"]["scripts"] == 0


def test_deck_is_clean_and_keys_move_between_slides(pages):
    page = pages["deck"]
    _clean(page)
    assert page["probes"]["scripts"] == 1
    assert page["probes"]["scrolled"] > 0
    assert XSS in page["probes"]["text"]
