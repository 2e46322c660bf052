"""A tiny document model that both the Markdown and the HTML renderers draw.

Report builders produce a `Document` of `Section`s holding blocks (paragraphs,
tables, lists, quotes, code, figures). Text is plain: a string, or a list of
`Span`s for bold, code and links. Renderers escape it for their format, so no
builder ever writes markup and no user string can become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence, Union


@dataclass(frozen=True)
class Span:
    """A run of inline text: style is '' (plain), 'b' (bold), 'code', 'link' (with href) or
    'badge' (a verdict: bold in Markdown, a coloured label in HTML)."""

    text: str
    style: str = ""
    href: str | None = None


Text = Union[str, Span, Sequence[Union[str, Span]]]


@dataclass(frozen=True)
class Para:
    text: Text
    kind: str = ""  # '' | 'note' | 'warn' | 'verdict': a hint for HTML styling only


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Text]]
    caption: str | None = None


@dataclass(frozen=True)
class Bullets:
    items: Sequence[Text]


@dataclass(frozen=True)
class Quote:
    text: str


@dataclass(frozen=True)
class Code:
    text: str
    lang: str = ""


@dataclass(frozen=True)
class Figure:
    src: str  # relative to the document
    caption: str
    alt: str


Block = Union[Para, Table, Bullets, Quote, Code, Figure]


@dataclass(frozen=True)
class Section:
    title: str
    blocks: Sequence[Block] = ()
    level: int = 2
    anchor: str | None = None


@dataclass(frozen=True)
class Document:
    title: str
    sections: Sequence[Section] = field(default_factory=tuple)
    intro: Sequence[Block] = ()


def b(text: str) -> Span:
    return Span(str(text), "b")


def code(text: str) -> Span:
    return Span(str(text), "code")


def link(text: str, href: str) -> Span:
    return Span(str(text), "link", href)


def badge(text: str) -> Span:
    return Span(str(text), "badge")


def badge_class(text: str) -> str:
    """The CSS class of a verdict badge: its first word, letters only."""
    m = re.match(r"[A-Z]+", str(text))
    return m.group(0) if m else ""


def spans(text: Text) -> list[Span]:
    """Normalise Text to a list of spans."""
    if isinstance(text, str):
        return [Span(text)]
    if isinstance(text, Span):
        return [text]
    return [Span(x) if isinstance(x, str) else x for x in text]


def plain(text: Text) -> str:
    """Text without styling."""
    return "".join(s.text for s in spans(text))


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


# ---------------------------------------------------------------- Markdown

_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # what CommonMark can read as raw HTML or autolink


def md_escape(text: str, *, cell: bool = False) -> str:
    """Escape for Markdown so a renderer shows user text as text: a `<` that could open a tag,
    comment or autolink, and `&` before an entity; table pipes and line breaks in cells."""
    out = _TAG_START.sub("&lt;", _ENTITY.sub("&amp;", str(text)))
    if cell:
        out = out.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return out


def md_text(text: Text, *, cell: bool = False) -> str:
    parts = []
    for s in spans(text):
        t = md_escape(s.text, cell=cell)
        if s.style in ("b", "badge"):
            parts.append(f"**{t}**" if t else "")
        elif s.style == "code":
            parts.append(_md_code(s.text, cell))
        elif s.style == "link":
            parts.append(f"[{t}]({s.href})")
        else:
            parts.append(t)
    return "".join(parts)


def _md_code(text: str, cell: bool) -> str:
    text = text.replace("\n", " ")
    if cell:
        text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Text]]) -> list[str]:
    lines = ["| " + " | ".join(md_escape(h, cell=True) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(md_text(c, cell=True) for c in row) + " |")
    return lines


def md_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [md_text(block.text)]
    if isinstance(block, Table):
        lines = md_table(block.headers, block.rows)
        return lines + (["", f"*{md_escape(block.caption)}*"] if block.caption else [])
    if isinstance(block, Bullets):
        return [f"- {md_text(item)}" for item in block.items] or ["- (none)"]
    if isinstance(block, Quote):
        return [f"> {md_escape(line)}".rstrip() for line in block.text.strip().splitlines()]
    if isinstance(block, Code):
        fence = "~~~~" if "```" in block.text else "```"
        return [f"{fence}{block.lang}", block.text.rstrip("\n"), fence]
    if isinstance(block, Figure):
        return [f"![{md_escape(block.alt)}]({block.src})", "", f"*{md_escape(block.caption)}*"]
    raise TypeError(f"unknown block {block!r}")


def to_markdown(doc: Document) -> str:
    """The whole document as Markdown, ending with one newline."""
    out = [f"# {md_escape(doc.title)}", ""]
    for block in doc.intro:
        out += md_block(block) + [""]
    for section in doc.sections:
        out += ["#" * section.level + " " + md_escape(section.title), ""]
        for block in section.blocks:
            out += md_block(block) + [""]
    return "\n".join(out).rstrip("\n") + "\n"
