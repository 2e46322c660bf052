"""The audit's checks against records kept outside an experiment's ledger.

- ``anchors``        the ledger still holds every head the registry's anchor log
                     (`exante.anchors`) recorded for it: no trailing records cut, no
                     history deleted and started again under the same folder;
- ``result-record``  result.json is the file its DECIDED record describes (a verdict
                     edited by hand is a finding);
- ``git-history``    every committed version of the ledger is a prefix of the working
                     copy (records that git holds and the working copy lost are a finding).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from .. import anchors as A
from ..events import Event
from ..history import History
from ..ledger import parse
from ..results import loads_bytes
from . import gitlog

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"


def anchor_rows(root: Path, entries: list, reads: dict, row) -> list:
    """One `anchors` row per experiment, plus one per anchored folder that is gone."""
    if not A.log_path(root).is_file():
        return [row(e.id, "anchors", SKIP, f"no anchor log ({A.log_path(root)})")
                for e in entries]
    found, error = A.read(root)
    if error is not None:
        return [row("(registry)", "anchors", FAIL, f"the anchor log is broken: {error}")]
    grouped = A.by_folder(found)
    rows = [_entry_row(e, reads[e.folder], grouped.pop(Path(e.folder).name, []), row)
            for e in entries]
    for folder, lost in grouped.items():
        eid = next((a["experiment_id"] for a in lost if a.get("experiment_id")), folder)
        rows.append(row(eid, "anchors", FAIL, f"{folder}/ was locked ({len(lost)} anchored "
                        "head(s)) and its ledger is gone from the registry"))
    return rows


def _entry_row(e, read: History, anchored: list[dict[str, Any]], row):
    if not anchored:
        status = SKIP if not read.records else WARN
        return row(e.id, "anchors", status, "no anchored head for this ledger (locked before "
                   "anchors were kept, or the anchor could not be written)")
    problems = A.missing(anchored, read.records)
    if problems:
        return row(e.id, "anchors", FAIL, "; ".join(problems))
    return row(e.id, "anchors", OK, f"{len(anchored)} anchored head(s) present")


def result_record_row(e, folder: Path, history: History, row):
    """result.json against the DECIDED record written with it."""
    path = folder / "result.json"
    decided = history.last(Event.DECIDED)
    if not path.is_file() or decided is None:
        return None
    raw = path.read_bytes()
    last = decided.data
    if last.get("result_sha256"):
        if hashlib.sha256(raw).hexdigest() == last["result_sha256"]:
            return row(e.id, "result-record", OK, "result.json is byte for byte the decided one")
        return row(e.id, "result-record", FAIL, "result.json is not the file the last DECIDED "
                   f"record (seq {decided.seq}) wrote: edited by hand; decide again")
    try:
        result = loads_bytes(raw)
    except (ValueError, UnicodeDecodeError):
        return None  # result-lock already says it is unreadable
    keys = [k for k in ("verdict", "tier", "plan_sha256", "ledger_head")
            if k in last and result.get(k) != last.get(k)]
    if keys:
        return row(e.id, "result-record", FAIL, f"result.json disagrees with its DECIDED record "
                   f"(seq {decided.seq}) on {', '.join(keys)}: "
                   f"{', '.join(f'{k} {result.get(k)!r} vs {last.get(k)!r}' for k in keys)}")
    return row(e.id, "result-record", OK, "result.json agrees with its DECIDED record")


def git_history_row(e, folder: Path, history: History, row):
    """Every committed version of the ledger must be a prefix of the working copy."""
    ledger = folder / A.LEDGER_NAME
    repo = gitlog.toplevel(folder) if folder.is_dir() else None
    if repo is None:
        return None
    rel = str(ledger.resolve().relative_to(repo.resolve()))
    commits = gitlog._lines(repo, "log", "--format=%H", "--", rel)
    by_seq = {r.seq: r.hash for r in history}
    for commit in commits:
        committed = _committed(repo, commit, rel)
        lost = [r for r in committed if by_seq.get(r["seq"]) != r["hash"]]
        if lost:
            return row(e.id, "git-history", FAIL, f"commit {gitlog.short(commit)} holds "
                       f"{len(committed)} ledger record(s); the working copy lost or replaced "
                       f"{len(lost)} of them (from seq {lost[0]['seq']}): restore it with "
                       f"`git show {gitlog.short(commit)}:{rel}`")
    if not commits:
        return None
    return row(e.id, "git-history", OK, f"{len(commits)} committed version(s), each a prefix")


def _committed(repo: Path, commit: str, rel: str) -> list[dict[str, Any]]:
    try:
        proc = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{rel}"],
                              capture_output=True, timeout=gitlog.TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    try:
        return parse(proc.stdout, source=f"{commit}:{rel}", verify=False).records
    except Exception:  # a committed version that does not parse: nothing to compare
        return []
