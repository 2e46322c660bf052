"""The registry's anchor log: ledger heads kept outside the experiment's folder.

A ledger proves that no line inside it was edited, but not that none was cut
off its end, nor that the whole file was not deleted and started again. So
every LOCKED, AMENDED, KILLED, SWEEP_FINISHED and DECIDED record also lands,
as (folder, seq, hash), in ``<registry>/.exante/anchors.jsonl``: one
hash-chained log (a `Ledger` itself) for the whole registry. The audit then
asks each ledger to still hold every head anchored for it.

Writing an anchor never fails the ledger write it follows: a registry root
that cannot take the log leaves a warning, and the audit says "unanchored".
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterable

from .events import Event

ANCHORED = (Event.LOCKED, Event.AMENDED, Event.KILLED, Event.SWEEP_FINISHED, Event.DECIDED)
LEDGER_NAME = "ledger.jsonl"


def log_path(root: Path) -> Path:
    """The anchor log of the registry `root` (the folder that holds experiment folders)."""
    return Path(root) / ".exante" / "anchors.jsonl"


def root_of(ledger: Path) -> Path:
    """The registry root of an experiment ledger: the folder above the experiment's."""
    return Path(ledger).resolve().parent.parent


def note(ledger: Path, written: Iterable[dict[str, Any]]) -> None:
    """Anchor the records of `written` (just appended to `ledger`) whose event is anchored."""
    ledger = Path(ledger)
    if ledger.name != LEDGER_NAME:
        return
    rows = [(Event.ANCHOR, _anchor(ledger, r)) for r in written if r["event"] in ANCHORED]
    if not rows:
        return
    from .ledger import Ledger

    try:
        Ledger(log_path(root_of(ledger))).append_many(rows)
    except OSError as exc:
        warnings.warn(f"{log_path(root_of(ledger))}: anchor not written ({exc}); `exante audit` "
                      f"will show {ledger.parent.name} as unanchored", stacklevel=3)


def _anchor(ledger: Path, record: dict[str, Any]) -> dict[str, Any]:
    data = record.get("data") or {}
    out = {"folder": ledger.resolve().parent.name, "event": str(record["event"]),
           "seq": record["seq"], "head": record["hash"]}
    if data.get("experiment_id"):
        out["experiment_id"] = data["experiment_id"]
    return out


def lost(ledger: Path, records: list[dict[str, Any]]) -> list[str]:
    """What this ledger lost of the heads anchored for its folder ([] when nothing, or no log)."""
    ledger = Path(ledger)
    root = root_of(ledger)
    if not log_path(root).is_file():
        return []
    found, error = read(root)
    if error is not None:
        return [f"the anchor log {log_path(root)} is broken: {error}"]
    return missing(by_folder(found).get(ledger.resolve().parent.name, []), records)


def refuse_lost(ledger: Path, records: list[dict[str, Any]], what: str) -> None:
    """RefusedError when the ledger no longer holds a head anchored for it."""
    problems = lost(ledger, records)
    if problems:
        from .errors import RefusedError

        raise RefusedError(f"{ledger}: refusing to {what}: {problems[0]}. Restore the ledger "
                           "(git, a backup); `exante audit` lists every finding")


def read(root: Path) -> tuple[list[dict[str, Any]], str | None]:
    """(anchor data in order, error) for the registry `root`; the chain is verified."""
    from .errors import LedgerError
    from .ledger import parse

    path = log_path(root)
    try:  # read whole and verified from its genesis (not an experiment ledger: no checkpoint)
        return [r["data"] for r in parse(path.read_bytes(), source=str(path)).records], None
    except FileNotFoundError:
        return [], None
    except (LedgerError, OSError) as exc:
        return [], str(exc)


def by_folder(anchors: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in anchors:
        out.setdefault(str(a.get("folder")), []).append(a)
    return out


def missing(anchors: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[str]:
    """What the ledger `records` lost of its `anchors`: one sentence per anchored head."""
    by_seq = {r["seq"]: r["hash"] for r in records}
    last = records[-1]["seq"] if records else -1
    problems = []
    for a in anchors:
        seq, head = a.get("seq"), a.get("head")
        if seq not in by_seq:
            problems.append(f"the ledger ends at seq {last}, before its anchored {a.get('event')} "
                            f"at seq {seq} ({str(head)[:12]}…): trailing records were cut")
        elif by_seq[seq] != head:
            problems.append(f"seq {seq} is not the anchored {a.get('event')} ({str(head)[:12]}…): "
                            "an earlier history of this experiment was replaced (deleted and "
                            "re-locked, or rewritten)")
    return problems
