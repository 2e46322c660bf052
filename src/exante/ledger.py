"""The ledger: an append-only, hash-chained JSON-lines log, the only store of run state.

Each line is one record::

    {"seq": 7, "ts": "2026-11-21T18:31:02.123456+00:00", "event": "RUN_OK",
     "data": {...}, "prev": "<hash of record 6>", "hash": "<sha256 of this record>"}

`hash` is the sha256 of the canonical JSON of the record without `hash`, so
editing any byte of any earlier line breaks the chain from there on. Appends
happen under a file lock, as one `write` of a whole line followed by fsync:
a kill -9 loses at most the line being written, and a torn last line (a
crash mid-write, a full disk) is detected, moved aside to
``ledger.jsonl.torn-<n>`` and never mistaken for data.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator

from filelock import FileLock

from . import ledger_bytes as B
from . import ledger_checkpoint as CP
from .errors import LedgerError
from .events import Event

GENESIS = B.GENESIS

# Events: the `Event` enum is their one spelling; these names stay for existing callers.
LOCKED = Event.LOCKED
AMENDED = Event.AMENDED
DESIGN_CHECK = Event.DESIGN_CHECK
RUN_STARTED = Event.RUN_STARTED
RUN_OK = Event.RUN_OK
RUN_FAILED = Event.RUN_FAILED
KILLED = Event.KILLED
STAGE = Event.STAGE
DECIDED = Event.DECIDED
SWEEP_STARTED = Event.SWEEP_STARTED
SWEEP_FINISHED = Event.SWEEP_FINISHED


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, non-finite floats as strings."""
    return B.canonical_bytes(obj).decode("utf-8")


_finite = B.finite


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(B.canonical_bytes(body)).hexdigest()


@dataclass(frozen=True)
class Scan:
    """The result of reading a ledger: its good records and what, if anything, was torn.

    `lines` are the records as read (`ledger_bytes.Line`, each `data` still raw JSON bytes);
    `records` builds them as dicts on first use."""

    lines: list[B.Line | dict[str, Any]]
    good_bytes: int  # length of the intact prefix
    torn: bytes  # an incomplete last line, or b""
    source: str = "ledger"

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        return B.as_dicts(self.lines, self.source)

    @property
    def head(self) -> str:
        return B.link_of(self.lines[-1])[1] if self.lines else GENESIS


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


class Ledger:
    """One experiment's ledger file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._filelock: FileLock | None = None

    @property
    def _lock(self) -> FileLock:
        """The append lock, made on the first append (a catalogue reads a thousand ledgers and
        appends to none)."""
        if self._filelock is None:
            self._filelock = FileLock(str(self.path) + ".lock")
        return self._filelock

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    # ------------------------------------------------------------ reading

    def scan(self, *, verify: bool = True, full: bool = False) -> Scan:
        """Parse every record; with `verify`, check every hash and link of the chain.

        A verified read re-checks only the lines past this ledger's verified-prefix
        checkpoint when one holds (see `ledger_checkpoint`); `full` ignores it and
        checks from the genesis (the audit does).
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Scan([], 0, b"")
        if not verify:
            return parse(raw, source=str(self.path), verify=False)
        cut, torn = B.split(raw)
        source = str(self.path)
        point = None if full else CP.load(self.path, raw, cut)
        lines = B.read_lines(raw, cut, source=source, verify=True,
                             checked_from=point.offset if point else 0)
        if point is not None and not CP.agrees(point, lines):
            point = None
            lines = B.read_lines(raw, cut, source=source, verify=True)
        CP.save(self.path, raw, cut, lines, point)
        return Scan(lines, cut, torn, source)

    def records(self, *, verify: bool = True) -> list[dict[str, Any]]:
        return self.scan(verify=verify).records

    def events(self, *names: str) -> Iterator[dict[str, Any]]:
        wanted = set(names)
        return (r for r in self.records() if not wanted or r["event"] in wanted)

    def head(self) -> str:
        return self.scan().head

    # ------------------------------------------------------------ writing

    def append(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record and return it (with its hash)."""
        return self.append_many([(event, data or {})])[0]

    def append_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append several records with one lock, one write and one fsync."""
        items = list(items)
        if not items:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            seq, prev = self._tail_after_repair()
            lines, out = [], []
            for event, data in items:
                record, line = B.encode_record(seq, _now(), event, data, prev)
                lines.append(line)
                out.append(record)
                seq, prev = seq + 1, record["hash"]
            _write_durably(self.path, b"".join(lines))
        from . import anchors  # the heads outside the folder (lock, kill, sweep end, decide)

        anchors.note(self.path, out)
        return out

    def _tail_after_repair(self) -> tuple[int, str]:
        """Next seq and prev hash; sets aside a torn last line first. Caller holds the lock."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size == 0:
            return 0, GENESIS
        tail, start = _read_tail(self.path, size)
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n") + 1
            self._set_aside(tail[cut:], start + cut)
            tail = tail[:cut]
        lines = tail.rstrip(b"\n").split(b"\n")
        if not lines or not lines[-1]:
            return 0, GENESIS
        try:
            last = json.loads(lines[-1])
        except ValueError as exc:
            raise LedgerError(f"{self.path}: last complete line is not JSON ({exc}); "
                              "run `exante audit` to see where the chain breaks") from exc
        return last["seq"] + 1, last["hash"]

    def _set_aside(self, torn: bytes, keep: int) -> None:
        n = 0
        while (aside := self.path.with_name(f"{self.path.name}.torn-{n}")).exists():
            n += 1
        aside.write_bytes(torn)
        with open(self.path, "r+b") as fh:
            fh.truncate(keep)
            os.fsync(fh.fileno())


def _read_tail(path: Path, size: int, chunk: int = 1 << 16) -> tuple[bytes, int]:
    """The file from the start of its last complete line on, and that offset.

    Reads backwards in `chunk`s, so finding the head of a long ledger costs
    one small read rather than the whole file.
    """
    start = max(0, size - chunk)
    with open(path, "rb") as fh:
        while True:
            fh.seek(start)
            data = fh.read(size - start)
            last_nl = data.rfind(b"\n")
            if start == 0:
                return data, 0
            before = data.rfind(b"\n", 0, last_nl) if last_nl > 0 else -1
            if before >= 0:
                return data[before + 1:], start + before + 1
            start = max(0, start - chunk)


def _write_durably(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        try:
            written = os.write(fd, payload)
        except OSError as exc:  # ENOSPC with nothing written: name the ledger in the error
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        if written != len(payload):  # a full disk: leave a torn line that the next append sets aside
            raise LedgerError(f"{path}: short write ({written} of {len(payload)} bytes): the disk "
                              "is full? free space and run the command again; the torn last "
                              "line is set aside on the next write")
        os.fsync(fd)
    finally:
        os.close(fd)


def parse(raw: bytes, *, source: str = "ledger", verify: bool = True) -> Scan:
    """Parse ledger bytes. A torn last line is returned separately; anything else broken raises."""
    cut, torn = B.split(raw)
    return Scan(B.read_lines(raw, cut, source=source, verify=verify), cut, torn, source)
