"""`rollup`: regenerate SUMMARY.md, SUMMARY.json and index.html from the catalogue.

The three files are pure functions of the saved files under the registry
root (no timestamps), so regenerating them twice gives the same bytes and a
diff in git shows exactly what changed in the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..report import fmt
from ..report.doc import (Bullets, Document, Para, Section, Table, Text, badge, code, link,
                          to_markdown)
from .bets_summary import bet_folders, bets_json, bets_section, judged
from .catalogue import Catalogue, Entry, build_catalogue

SUMMARY_MD, SUMMARY_JSON, INDEX_HTML = "SUMMARY.md", "SUMMARY.json", "index.html"
HYPOTHESIS_CHARS = 160


def _href(cat: Catalogue, e: Entry, ext: str) -> str:
    for name in (f"report.{ext}", "report.md", "report.html"):
        if name in e.report_files:  # what the catalogue saw on disk
            return name if e.folder == "." else f"{e.folder}/{name}"
    return e.plan_file or f"{e.folder}/"


def _short(text: str, limit: int = HYPOTHESIS_CHARS) -> str:
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[: limit].rsplit(" ", 1)[0] + " …"


def _traps_text(e: Entry) -> str:
    t = e.traps
    if not t:
        return fmt.DASH
    text = f"{t['behaved']}/{t['judged']} behaved"
    if t["misbehaved"]:
        text += "; MISBEHAVED: " + ", ".join(t["misbehaved"])
    if t["undecided"]:
        text += "; undecided: " + ", ".join(t["undecided"])
    if t["total"] > t["judged"]:
        text += f"; {t['total'] - t['judged']} prose only"
    return text


def _tau_text(e: Entry) -> str:
    t = e.tau
    if not t:
        return fmt.DASH
    state = {True: "beaten", False: "NOT beaten", None: "undecided"}[t.get("passed")]
    return f"{state} ({fmt.num(t.get('method_mean'))} vs threshold {fmt.num(t.get('threshold'))})"


def _amend_text(e: Entry) -> str:
    return str(e.amendments) + (" (DEVIATED)" if e.deviated else "")


def _postmortem_text(e: Entry) -> str:
    return "MISSING" if e.killed and e.postmortem == "missing" else e.postmortem


def _verdict_cell(cat: Catalogue, e: Entry, ext: str) -> list:
    cell: list = [badge(e.display_verdict)]
    for r in e.retracted_by:
        by = cat.by_id(r["id"])
        cell += [" by ", link(r["id"], _href(cat, by, ext)) if by else r["id"]]
    for r in e.retracts:
        target = cat.by_id(r.get("resolved", "")) if r.get("resolved") else None
        if target is not None:
            cell += ["; retracts ", link(target.id, _href(cat, target, ext))]
    if e.stale:
        cell.append(" (result is for an earlier plan version)")
    if e.verdict_source.startswith("ledger (DECIDED"):
        cell.append(" (result.json missing; verdict from the ledger)")
    return cell


def _finding_text(f: dict[str, str]) -> str:
    """'depth: effect detected (8 vs 2: +2.98 points [+2.50, +3.47])'."""
    if f["contrast"] == fmt.DASH:
        return f"{f['factor']}: {f['finding']}"
    ci = "" if f["ci"] == fmt.DASH else f" {f['ci']}"
    return f"{f['factor']}: {f['finding']} ({f['contrast']}: {f['effect']}{ci})"


def _findings_text(e: Entry) -> str:
    return "; ".join(_finding_text(f) for f in e.findings) or fmt.DASH


def experiments_table(cat: Catalogue, ext: str) -> Table:
    rows = [[link(e.id, _href(cat, e, ext)), _verdict_cell(cat, e, ext), _short(e.hypothesis),
             _findings_text(e), _traps_text(e), _tau_text(e), _amend_text(e),
             _postmortem_text(e)]
            for e in cat.entries]
    return Table(["ID", "Verdict", "Hypothesis", "Findings (effect, 95% CI)", "Traps", "τ",
                  "Amendments", "Postmortem"], rows)


def _killed_section(cat: Catalogue, ext: str) -> Section | None:
    missing = cat.killed_without_postmortem
    if not missing:
        return None
    items: list[Text] = []
    for e in missing:
        k = e.kill or {}
        why = f"killed by rule {k.get('rule')}: {k.get('when')}" if k else "killed"
        if k.get("why"):
            why += f" ({k['why']})"
        state = "only a draft (TODO(postmortem) markers left)" if e.postmortem == "draft" \
            else "no postmortem"
        items.append([link(e.id, _href(cat, e, ext)), f" — {why}; {state}. Write it: ",
                      code(f"exante postmortem {e.id}")])
    return Section(f"Killed without a postmortem ({len(missing)})", [
        Para("A killed idea with a written postmortem is a contribution to the record; without "
             "one it is lost GPU budget.", kind="warn"), Bullets(items)])


def _retractions_section(cat: Catalogue, ext: str) -> Section | None:
    items: list[Text] = []
    for e in cat.entries:
        for r in e.retracted_by:
            by = cat.by_id(r["id"])
            items.append([link(e.id, _href(cat, e, ext)), f" (was {e.verdict}) retracted by ",
                          link(r["id"], _href(cat, by, ext)) if by else r["id"],
                          f": {r['reason']}"])
    return Section("Retractions", [Bullets(items)]) if items else None


def _ladder_sections(cat: Catalogue, ext: str) -> list[Section]:
    ladders = cat.ladders()
    if not ladders:
        return []
    out = [Section("Falsification ladders", [Para("Each rung widens the scope; a rung's verdict "
                                                  "is read in the order the ladder climbs.")])]
    for name, entries in ladders.items():
        rows = [[str(e.ladder.get("rung", fmt.DASH)), str(e.ladder.get("scope") or fmt.DASH),
                 link(e.id, _href(cat, e, ext)), [badge(e.display_verdict)]] for e in entries]
        out.append(Section(name, [Table(["Rung", "Scope", "Experiment", "Verdict"], rows)],
                           level=3))
    return out


def _problems(cat: Catalogue) -> list[str]:
    out = [f"{e.id}: {p}" for e in cat.entries for p in e.problems]
    return out + list(cat.problems)


def catalogue_document(cat: Catalogue, ext: str = "md") -> Document:
    counts = ", ".join(f"{n} {v}" for v, n in cat.counts().items()) or "none"
    intro = [Para(f"{len(cat.entries)} experiment(s): {counts}."),
             Para(["Regenerated by ", code("exante rollup"), " from the plans, ledgers and results "
                   "under this folder. Nothing is ever dropped: FAIL and KILL entries stay, and a "
                   "retracted experiment stays and says who retracted it and why."])]
    sections = [s for s in (_killed_section(cat, ext),) if s is not None]
    sections.append(Section("Experiments", [experiments_table(cat, ext)]))
    sections += [s for s in (bets_section(cat),) if s is not None]
    sections += [s for s in (_retractions_section(cat, ext),) if s is not None]
    sections += _ladder_sections(cat, ext)
    problems = _problems(cat)
    if problems:
        sections.append(Section("Problems found while reading", [Bullets(problems)]))
    return Document("Experiment catalogue", sections, intro)


def catalogue_json(cat: Catalogue) -> dict[str, Any]:
    return {
        "schema": 1,
        "counts": cat.counts(),
        "experiments": [e.to_dict() for e in cat.entries],
        "retractions": [{"id": e.id, "by": r["id"], "reason": r["reason"]}
                        for e in cat.entries for r in e.retracted_by],
        "ladders": {name: [{"rung": e.ladder.get("rung"), "scope": e.ladder.get("scope"),
                            "id": e.id, "verdict": e.display_verdict} for e in entries]
                    for name, entries in cat.ladders().items()},
        "killed_without_postmortem": [e.id for e in cat.killed_without_postmortem],
        "problems": _problems(cat),
        **({"bets": bets_json(cat)} if judged(cat) else {}),
    }


def rollup(root: Path | str = "experiments", *, catalogue: Catalogue | None = None) -> list[Path]:
    """Regenerate root/SUMMARY.md, SUMMARY.json and index.html. Returns their paths.

    Pass `catalogue` to reuse one already built (the CLI reads its
    killed-without-postmortem list for ``--strict``).
    """
    from ..report.experiment import write_text
    from ..report.html import render_document

    root = Path(root)
    cat = catalogue or build_catalogue(root)
    md = write_text(root / SUMMARY_MD, to_markdown(catalogue_document(cat, "md")))
    js = write_text(root / SUMMARY_JSON, orjson.dumps(catalogue_json(cat), default=str, option=(
        orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).decode() + "\n")
    page = write_text(root / INDEX_HTML, render_document(
        catalogue_document(cat, "html"), footer="Catalogue regenerated by exante rollup."))
    written = [md, js, page]
    for folder in bet_folders(cat):  # seed 001: experiments/bets/SUMMARY.md of its own
        written += rollup(folder)
    return written


__all__ = ["catalogue_document", "catalogue_json", "rollup"]
