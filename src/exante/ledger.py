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
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from filelock import FileLock

from .errors import LedgerError
from .events import Event

GENESIS = "0" * 64

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
    return json.dumps(_finite(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Scan:
    """The result of reading a ledger: its good records and what, if anything, was torn."""

    records: list[dict[str, Any]]
    good_bytes: int  # length of the intact prefix
    torn: bytes  # an incomplete last line, or b""

    @property
    def head(self) -> str:
        return self.records[-1]["hash"] if self.records else GENESIS


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


class Ledger:
    """One experiment's ledger file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock")

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    # ------------------------------------------------------------ reading

    def scan(self, *, verify: bool = True) -> Scan:
        """Parse every record; with `verify`, check every hash and link of the chain."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Scan([], 0, b"")
        return parse(raw, source=str(self.path), verify=verify)

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
                record = {"seq": seq, "ts": _now(), "event": event, "data": _finite(data),
                          "prev": prev}
                record["hash"] = record_hash(record)
                lines.append(canonical(record) + "\n")
                out.append(record)
                seq, prev = seq + 1, record["hash"]
            _write_durably(self.path, "".join(lines).encode("utf-8"))
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
        written = os.write(fd, payload)
        if written != len(payload):  # a full disk: leave a torn line that the next append sets aside
            raise LedgerError(f"{path}: short write ({written} of {len(payload)} bytes); disk full?")
        os.fsync(fd)
    finally:
        os.close(fd)


def parse(raw: bytes, *, source: str = "ledger", verify: bool = True) -> Scan:
    """Parse ledger bytes. A torn last line is returned separately; anything else broken raises."""
    torn = b""
    cut = len(raw)
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        torn = raw[cut:]
    records: list[dict[str, Any]] = []
    prev = GENESIS
    for lineno, line in enumerate(raw[:cut].split(b"\n")[:-1], start=1):
        try:
            record = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError (bytes, not text)
            raise LedgerError(f"{source}:{lineno}: not a JSON record "
                              f"({getattr(exc, 'msg', exc)})") from exc
        if verify:
            _check_link(record, line, prev, lineno, source)
        prev = record.get("hash", "")
        records.append(record)
    return Scan(records, cut, torn)


_HASH_KEY = b',"hash":"'


def _check_link(record: Any, line: bytes, prev: str, lineno: int, source: str) -> None:
    """The record links to `prev`, and the line's exact bytes hash to its `hash` field.

    Keys are written sorted (data, event, hash, prev, seq, ts) with no spaces,
    so the line without its top-level `,"hash":"<hex>"` is exactly the hashed
    body: hashing those bytes checks content and spelling at once (an inserted
    space or a re-spelt number breaks it) without re-serialising the record.
    """
    if not isinstance(record, dict) or not isinstance(record.get("hash"), str):
        raise LedgerError(f"{source}:{lineno}: not a ledger record")
    if record.get("prev") != prev:
        raise LedgerError(f"{source}:{lineno}: chain broken: prev does not match the hash of "
                          f"line {lineno - 1} (a record was edited, removed or inserted)")
    at = line.rfind(_HASH_KEY)
    end = at + len(_HASH_KEY) + 64
    body = line[:at] + line[end + 1:] if at >= 0 and line[end:end + 1] == b'"' else b""
    if not body or hashlib.sha256(body).hexdigest() != record["hash"]:
        raise LedgerError(f"{source}:{lineno}: chain broken: the line's bytes do not match its "
                          "hash (the line was edited)")
