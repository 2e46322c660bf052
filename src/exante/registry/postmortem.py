"""Postmortems: the template `exante postmortem ID` writes, and whether one was written.

A killed idea with a written postmortem is a contribution to the record
(seed 000). The template quotes what was predicted and the kill record's
numbers; the researcher replaces every line holding the marker
``TODO(postmortem)``. A postmortem counts as written when the file exists and
no marker is left; with markers left it is a draft.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError, RefusedError

MARKER = "TODO(postmortem)"
NAME = "postmortem.md"
WRITTEN, DRAFT, MISSING = "written", "draft", "missing"


def postmortem_status(folder: Path) -> str:
    """'written', 'draft' (markers left) or 'missing' for an experiment folder."""
    path = Path(folder) / NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MISSING
    except (OSError, UnicodeDecodeError):
        return DRAFT
    return DRAFT if MARKER in text or not text.strip() else WRITTEN


def write_postmortem(experiment_id: str, root: Path | str = "experiments") -> Path:
    """Write `postmortem.md` for experiment `experiment_id` under `root`; refuse to overwrite.

    Raises InputError when no such experiment exists and RefusedError when a
    postmortem is already there (edit it instead).
    """
    from .catalogue import find_entry

    entry = find_entry(root, require_id(experiment_id))
    path = Path(root) / entry.folder / NAME
    if path.exists():
        raise RefusedError(f"{path} already exists ({postmortem_status(path.parent)}); edit it "
                           "instead: a postmortem is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:  # 'x': never clobber a concurrent writer
        fh.write(template(entry.to_dict(), entry.plan_text or ""))
    return path


def _quote(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in (text or "(no hypothesis recorded)").splitlines()]


def template(entry: Mapping[str, Any], plan_text: str) -> str:
    """The postmortem skeleton for one catalogue entry (see `Entry.to_dict`)."""
    kill = entry.get("kill") or {}
    lines = [f"# Postmortem: {entry['id']}", "",
             f"Plan `{entry.get('plan_file') or '—'}` sha256 "
             f"`{entry.get('plan_sha256') or '—'}`; verdict {entry.get('verdict')}.",
             "Replace each line that starts with the TODO marker; the catalogue counts this "
             "postmortem as written when no marker is left.", "",
             "## What was predicted", "", *_quote(entry.get("hypothesis") or ""), ""]
    lines += _registered_rules(entry)
    lines += ["## What happened", ""]
    if kill:
        lines += [f"Killed by rule `{kill.get('rule')}`: `{kill.get('when')}`"
                  + (f" ({kill['why']})" if kill.get("why") else "")
                  + f", after {kill.get('runs_recorded', '?')} recorded runs.", ""]
        lines += _numbers_table(kill.get("numbers") or {})
    else:
        lines += [f"Verdict {entry.get('verdict')}: " +
                  ("; ".join(entry.get("verdict_reasons") or []) or "see report.md"), ""]
    lines += [f"{MARKER}: anything the numbers above do not say (what you saw in the runs).", "",
              "## Why it died", "",
              f"{MARKER}: the mechanism, in your words: was the idea wrong, the scope, or the "
              "measurement?", "",
              "## What not to repeat", "",
              f"{MARKER}: what a future experiment should not try again, and why.", "",
              "## What would change this conclusion", "",
              f"{MARKER}: the evidence that would make this idea worth a new, separately "
              "locked plan.", ""]
    return "\n".join(lines)


def _registered_rules(entry: Mapping[str, Any]) -> list[str]:
    rules = entry.get("rules") or []
    if not rules:
        return []
    return ["Registered rules:", "", *[f"- {r}" for r in rules], ""]


def _numbers_table(numbers: Mapping[str, Any]) -> list[str]:
    """The statistics the kill rule saw, one row per cell view."""
    rows = []
    for name, value in sorted(numbers.items()):
        views = value if isinstance(value, list) else list(value.values()) \
            if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) \
            and "mean" not in value else [value]
        for v in views:
            if isinstance(v, dict):
                rows.append(f"| {name} | {v.get('name', '')} | {v.get('n', '')} | "
                            f"{_n(v.get('mean'))} | {_n(v.get('sd'))} | {_n(v.get('min'))} | "
                            f"{_n(v.get('max'))} |")
            else:
                rows.append(f"| {name} | | | {json.dumps(v)} | | | |")
    if not rows:
        return []
    return ["The numbers the rule saw:", "", "| Name | Cell | n | mean | sd | min | max |",
            "|---|---|---|---|---|---|---|", *rows, ""]


def _n(x: Any) -> str:
    return "—" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def require_id(experiment_id: str) -> str:
    if not experiment_id or "/" in experiment_id or ".." in experiment_id:
        raise InputError(f"{experiment_id!r}: give an experiment id (a folder name under the "
                         "registry)")
    return experiment_id
