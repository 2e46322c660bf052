"""Fit the paper's body to exactly six pages by choosing figure heights.

The body's length is not known until it is laid out (fonts, table widths), so
this renders it with weasyprint and measures: the page holding the appendices
anchor is the first page after the body, and an anchor at the end of the body
says how full its last page is. Figures are redrawn at a height scale
(widths and font sizes stay at print size). From one layout the free space
(or the overflow) is known in pixels, and the figures' total height at scale
1 is known from the SVGs, so the next scale is computed, not searched for;
two or three layouts usually suffice. If even the shortest figures overflow,
results subsections move to the appendices one at a time (the least central
first). A body that is shorter than six pages at the tallest figures is left
at its own length.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from .figures import FigureFile, write_figures
from .inputs import ReportInputs
from .paper import BODY_PAGES, END_ANCHOR, SCALES, Layout, body_page_count

DEMOTE_ORDER = ("Every cell", "Controls: traps and τ", "Interactions and simple effects")
MAX_LAYOUTS = 6
BOTTOM_MARGIN_PX = 17 / 25.4 * 96  # the @page bottom margin of paper.html.j2
TOP_MARGIN_PX = 15 / 25.4 * 96
_HEIGHT = re.compile(rb'<svg[^>]*\sheight="([0-9.]+)pt"')


def figure_height_px(folder: Path, figures: list[FigureFile]) -> float:
    """Total printed height of the figures in CSS px (SVG pt at 7 in wide = print size)."""
    total = 0.0
    for f in figures:
        m = _HEIGHT.search((folder / f.src).read_bytes()[:2000])
        if m:
            total += float(m.group(1)) * 96 / 72
    return total


def _slack(document: Any, pages: int | None) -> float | None:
    """Free px left before the body would reach page BODY_PAGES + 1 (negative: overflow)."""
    if pages is None:
        return None
    end = next((p for p in document.pages if END_ANCHOR in p.anchors), None)
    if end is None:
        return None
    content = end.height - TOP_MARGIN_PX - BOTTOM_MARGIN_PX
    left_on_page = end.height - BOTTOM_MARGIN_PX - end.anchors[END_ANCHOR][1]
    return left_on_page + (BODY_PAGES - pages) * content


def fit(inputs: ReportInputs, weasyprint: Any,
        to_html: Callable[..., str]) -> tuple[Layout, str, Any]:
    """(layout, html text, rendered weasyprint document) with the body fitted."""
    folder = inputs.folder
    lo, hi = SCALES
    tried: dict[tuple[float, frozenset[str]], tuple[int | None, float | None, float | None]] = {}

    def render(scale: float, demoted: frozenset[str]):
        key = (round(scale, 3), demoted)
        if key not in tried:
            figures = write_figures(inputs.result, folder, scale=key[0], prefix="paper-")
            text = to_html(inputs, figures, Layout(key[0], demoted), body_only=True)
            doc = weasyprint.HTML(string=text, base_url=str(folder)).render()
            pages, fill = body_page_count(doc)
            per_unit = figure_height_px(folder, figures) / key[0]
            tried[key] = (pages, fill, _slack(doc, pages), per_unit)
        return tried[key]

    demoted: frozenset[str] = frozenset()
    scale = 1.0
    for _ in range(MAX_LAYOUTS):
        pages, fill, slack, per_unit = render(scale, demoted)
        if slack is None or not per_unit:
            break
        if pages <= BODY_PAGES and (scale >= hi or slack < 0.04 * per_unit):
            break  # full enough: the next step would be under 4% of the figures' height
        want = scale + (slack - 6.0) / per_unit  # keep a few px spare
        if want < lo and pages > BODY_PAGES:
            left = [n for n in DEMOTE_ORDER if n not in demoted]
            if not left:
                scale = lo
                break
            demoted, scale = demoted | {left[0]}, 1.0
            continue
        nxt = round(min(hi, max(lo, want)), 3)
        if (nxt, demoted) in tried:
            break
        scale = nxt
    fitting = [(k[0], v) for k, v in tried.items() if k[1] == demoted and v[0] is not None
               and v[0] <= BODY_PAGES]
    if fitting:
        scale = max(fitting)[0]
    pages, fill = render(scale, demoted)[:2]
    # every trial render overwrote the same files: draw the chosen scale again, so paper.html
    # shows what paper.pdf shows, and lay out the whole paper once
    figures = write_figures(inputs.result, folder, scale=scale, prefix="paper-")
    layout = Layout(scale, demoted, pages, fill)
    text = to_html(inputs, figures, layout)
    return layout, text, weasyprint.HTML(string=text, base_url=str(folder)).render()
