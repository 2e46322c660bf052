"""HTML rendering with Jinja2, autoescape always on.

Every user string (hypothesis, cell names, reasons, amendment text) reaches a
template as data and is escaped there; no builder writes markup. Links pass
through `safe_href`, which keeps relative paths and http(s) only.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path
from typing import Any

from . import doc as D

_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*):")
_IMAGE_DATA = re.compile(r"^data:image/(svg\+xml|png);base64,[A-Za-z0-9+/=]*$")


@functools.lru_cache(maxsize=1)
def environment():
    """The Jinja2 environment for exante's templates (autoescape on for every template)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("exante.report", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["blocktype"] = blocktype
    env.filters["spans"] = D.spans
    env.filters["safe_href"] = safe_href
    env.filters["safe_src"] = safe_src
    env.filters["slug"] = D.slug
    env.filters["plain"] = D.plain
    env.filters["badge_class"] = D.badge_class
    return env


def blocktype(block: Any) -> str:
    return type(block).__name__.lower()


def safe_href(href: str | None) -> str:
    """A link target that cannot run script: relative paths, anchors and http(s) only."""
    href = str(href or "")
    m = _SCHEME.match(href)
    if m and m.group(1).lower() not in ("http", "https"):
        return "./" + href
    return href


def safe_src(src: str | None) -> str:
    """An image source: like `safe_href`, plus embedded SVG/PNG data URIs (for slides)."""
    src = str(src or "")
    if _IMAGE_DATA.match(src):
        return src
    return safe_href(src)


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_document(document: D.Document, template: str = "report.html.j2", **context: Any) -> str:
    """A Document as a complete HTML page."""
    return render_template(template, doc=document, **context)


def data_uri(path: Path) -> str:
    """A file as a data: URI (for self-contained slides); SVG and PNG only."""
    mime = {".svg": "image/svg+xml", ".png": "image/png"}[Path(path).suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
