"""The ledger's bytes: canonical encoding, parsing and chain verification, fast.

A record's line is its canonical JSON: keys sorted, no spaces, UTF-8,
non-finite floats as the strings ``"NaN"``/``"Infinity"``/``"-Infinity"``,
every float spelt as Python's ``repr`` spells it. That spelling is the
contract every existing ledger was hashed under (it is what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
writes), so this module keeps it byte for byte while doing the work with
``orjson``:

- encoding: ``orjson`` writes every float like ``repr`` except magnitudes
  below 1e-4 (``0.00001`` for ``1e-05``, ``1e-7`` for ``1e-07``); those few
  are handed to it pre-spelt as ``orjson.Fragment(repr(x))``. Integers past
  64 bits, which ``orjson`` refuses, fall back to ``json.dumps``.
- reading: ``msgspec`` decodes the whole file's lines at once into `Line`
  structs, keeping each record's ``data`` as its raw JSON bytes
  (``msgspec.Raw``: syntax checked, nothing built). Verifying a chain needs
  only seq, event, prev and hash, so a read builds a handful of objects per
  record instead of a dict per JSON object; `loads_data` builds the ``data``
  of a record when something asks for it. A line ``msgspec`` will not take
  as a record (an extra or missing key, a ``NaN`` literal, a seq past 64
  bits) is read as before, as a dict, one line at a time. Two things
  ``msgspec`` would let through are checked first: a newline is whitespace
  to it, so the file is read in one call only when every value provably
  sits on one line (`_one_value_a_line`); and it does not decode the inside
  of a Raw value, so bytes that are not UTF-8 send the read the slow way,
  where ``json`` refuses them as before.
- parsing values: ``orjson.loads``, except where it would read a value
  differently from ``json.loads``: it reads integers of 19 or more digits as
  floats (those go to ``json``), and it refuses what ``json`` accepts beyond
  the JSON standard (``NaN`` literals, lone surrogates: ``json`` too, which
  is the reference).
- verifying: a line's hash is the sha256 of the line's own bytes without its
  top-level ``,"hash":"<hex>"``; nothing is re-serialised, so the check is a
  byte check (an inserted space or a re-spelt number breaks it).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterator

import msgspec
import orjson

from .errors import LedgerError

GENESIS = "0" * 64
HASH_KEY = b',"hash":"'
_SORT = orjson.OPT_SORT_KEYS
# a number token of 19+ digits: orjson reads past-64-bit integers as floats; json as ints
_FLATTEN = bytes.maketrans(b"0123456789:,[- \t\r\n", b"0" * 10 + b"!" * 8)
_DIGITS, _BANG = b"0" * 19, ord("!")


# ---------------------------------------------------------------- encoding


def finite(obj: Any) -> Any:
    """A JSON-ready copy: str keys, lists for tuples, str for paths, non-finite floats named."""
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj if type(obj) is float else float(obj)
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _respelt(obj: Any) -> Any:
    """`obj` with each float orjson would spell unlike repr (0 < |x| < 1e-4) pre-spelt."""
    if type(obj) is float:
        return orjson.Fragment(repr(obj)) if 0.0 < abs(obj) < 1e-4 else obj
    if isinstance(obj, dict):
        return {k: _respelt(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_respelt(v) for v in obj]
    return obj


def _has_tiny_float(obj: Any) -> bool:
    if type(obj) is float:
        return 0.0 < abs(obj) < 1e-4
    if isinstance(obj, dict):
        return any(_has_tiny_float(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_tiny_float(v) for v in obj)
    return False


def dumps_finite(obj: Any) -> bytes:
    """Canonical bytes of an object already passed through `finite`."""
    try:
        return orjson.dumps(_respelt(obj) if _has_tiny_float(obj) else obj, option=_SORT)
    except orjson.JSONEncodeError as exc:
        if "Integer exceeds 64-bit range" not in str(exc):
            raise TypeError(str(exc)) from exc
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")


def canonical_bytes(obj: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, non-finite floats as strings."""
    return dumps_finite(finite(obj))


def encode_record(seq: int, ts: str, event: str, data: dict[str, Any],
                  prev: str) -> tuple[dict[str, Any], bytes]:
    """(record with its hash, its line with the newline) for one new ledger record.

    The keys sort as data, event, [hash,] prev, seq, ts, so the hashed body and
    the line share every byte but the hash field: `data` is encoded once.
    """
    data = finite(data)
    event = str(event)
    head = b'{"data":' + dumps_finite(data) + b',"event":' + orjson.dumps(event)
    tail = (b',"prev":' + orjson.dumps(prev) + b',"seq":' + str(int(seq)).encode()
            + b',"ts":' + orjson.dumps(ts) + b"}")
    digest = hashlib.sha256(head + tail).hexdigest()
    record = {"seq": seq, "ts": ts, "event": event, "data": data, "prev": prev, "hash": digest}
    return record, head + HASH_KEY + digest.encode() + b'"' + tail + b"\n"


# ---------------------------------------------------------------- parsing and verifying


def split(raw: bytes) -> tuple[int, bytes]:
    """(length of the complete-lines prefix, the torn last line or b"")."""
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        return cut, raw[cut:]
    return len(raw), b""


class Line(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """One ledger record as read: every top-level field, with `data` still its raw JSON bytes
    (a `msgspec.Raw`; `loads_data` builds it). Not tracked by the cyclic GC: a read of a long
    ledger makes no container objects for it to walk."""

    data: msgspec.Raw
    event: str
    hash: str
    prev: str
    seq: int
    ts: str


_LINES = msgspec.json.Decoder(Line)
_NOT_A_LINE = (msgspec.DecodeError,)  # ValidationError is a DecodeError


def read_lines(raw: bytes, cut: int, *, source: str, verify: bool,
               checked_from: int = 0) -> list[Line | dict[str, Any]]:
    """The complete lines of `raw[:cut]`, each a `Line`, or a dict where the line is JSON but
    not shaped as a record `Line` takes (the slow way, as `json` reads it). With `verify`, check
    the links and hashes of the lines from byte offset `checked_from` on (a line boundary: the
    bytes before it are a prefix already known to verify, see `ledger_checkpoint`)."""
    body = raw[:cut]
    lines = body.split(b"\n")
    lines.pop()  # after the last newline: empty
    with paused_gc():
        records = _read_all(body, lines, source)
        if verify:
            first = raw.count(b"\n", 0, checked_from) if checked_from else 0
            _verify(records, lines, first, source)
    return records


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic GC off while records are read or their data built in bulk: that makes only
    acyclic dicts and lists, nothing for it to find, and on a long ledger its full collections,
    triggered over and over by the new objects, cost as much as the parse."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_lines(raw: bytes, cut: int, *, source: str, verify: bool,
                checked_from: int = 0) -> list[dict[str, Any]]:
    """`read_lines`, each record a dict with its `data` built (what `json.loads` of each line
    gives)."""
    return as_dicts(read_lines(raw, cut, source=source, verify=verify,
                               checked_from=checked_from), source)


def as_dicts(records: list[Line | dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Every record as a dict with its data built, in bulk."""
    with paused_gc():
        return [as_dict(r, source) for r in records]


def as_dict(record: Line | dict[str, Any], source: str = "ledger") -> dict[str, Any]:
    if type(record) is not Line:
        return record
    return {"data": loads_data(record.data, f"{source}: seq {record.seq}"),  # the line's order
            "event": record.event, "hash": record.hash, "prev": record.prev, "seq": record.seq,
            "ts": record.ts}


def loads_data(data: Any, where: str = "ledger") -> Any:
    """A record's `data` as `json.loads` reads it, from a `Line`'s raw bytes (anything else,
    already built by the slow way, is returned as it is)."""
    if type(data) is not msgspec.Raw:
        return data
    try:
        return _json_value(bytes(data))
    except (ValueError, RecursionError) as exc:
        raise LedgerError(f"{where}: the record's data is not JSON ({exc})") from exc


def _json_value(buf: bytes) -> Any:
    """`buf` as `json.loads` reads it: by orjson, except what orjson reads otherwise (a number
    token of 19+ digits) or not at all (a 1e400, a NaN literal, a lone surrogate)."""
    if _careful_lines(buf) is None:
        try:
            return orjson.loads(buf)
        except orjson.JSONDecodeError:
            pass  # json is the reference
    return json.loads(buf)


def _valid_utf8(body: bytes) -> bool:
    """Whether `json.loads` can decode these bytes (msgspec does not check the inside of a
    Raw value)."""
    if body.isascii():
        return True
    try:
        body.decode("utf-8", "surrogatepass")  # what json.loads(bytes) decodes with
    except UnicodeDecodeError:
        return False
    return True


def _one_value_a_line(body: bytes, n: int) -> bool:
    """Whether a line boundary can never fall inside a JSON value of `body` (n lines): every
    line starts with `{` and ends with `}`, and no value can hold a `}` followed by a newline
    and a `{`. msgspec reads a newline as whitespace, so without this a record split over two
    lines would read as one; with it and one value per line counted, values are the lines."""
    return body[:1] == b"{" and body.endswith(b"}\n") and body.count(b"}\n{") == n - 1


def _read_all(body: bytes, lines: list[bytes], source: str) -> list[Line | dict[str, Any]]:
    if lines and _one_value_a_line(body, len(lines)) and _valid_utf8(body):
        try:
            records = _LINES.decode_lines(body)
        except _NOT_A_LINE:
            pass  # some line is not a plain record, or is broken: go line by line
        else:
            if len(records) == len(lines):  # `{..}{..}` on one line is two values
                return records
    out: list[Line | dict[str, Any]] = []
    for i, line in enumerate(lines):
        if _valid_utf8(line):
            try:
                out.append(_LINES.decode(line))
                continue
            except _NOT_A_LINE:
                pass
        out.append(_loads_line(line, i + 1, source))
    return out


def _loads_line(line: bytes, lineno: int, source: str) -> Any:
    try:
        return _json_value(line)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError (bytes, not text)
        raise LedgerError(f"{source}:{lineno}: not a JSON record "
                          f"({getattr(exc, 'msg', exc)})") from exc


def _verify(records: list[Any], lines: list[bytes], first: int, source: str) -> None:
    """Links and line hashes of records[first:]; records[:first] are known good."""
    prev = link_of(records[first - 1])[1] if first else GENESIS
    sha = hashlib.sha256
    for i, (record, line) in enumerate(zip(records[first:], lines[first:]), first):
        if type(record) is Line:
            link, digest = record.prev, record.hash
        elif type(record) is dict and type(digest := record.get("hash")) is str:
            link = record.get("prev")
        else:
            raise LedgerError(f"{source}:{i + 1}: not a ledger record")
        if link != prev:
            raise LedgerError(f"{source}:{i + 1}: chain broken: prev does not match the hash "
                              f"of line {i} (a record was edited, removed or inserted)")
        at = line.rfind(HASH_KEY)
        if at < 0 or line[at + 73:at + 74] != b'"' or \
                sha(line[:at] + line[at + 74:]).hexdigest() != digest:
            raise LedgerError(f"{source}:{i + 1}: chain broken: the line's bytes do not match "
                              "its hash (the line was edited)")
        prev = digest


def link_of(record: Line | dict[str, Any]) -> tuple[Any, Any]:
    """(seq, hash) of a record as read."""
    if type(record) is Line:
        return record.seq, record.hash
    return record.get("seq"), record.get("hash")


def _careful_lines(body: bytes) -> set[int] | None:
    """Indexes (0-based) of lines holding a number token of 19+ digits, which json must read.

    One `translate` maps every digit to 0 and every byte a number can follow (`:`, `,`,
    `[`, a minus, a space, a line start) to `!`, so `find` spots every run of 19 digits at C
    speed and a number token is a run right after a `!`; the digits inside hex hashes or
    after a decimal point do not count (a `!` inside a string may: that line is merely read
    by json too).
    """
    flat = body.translate(_FLATTEN)
    out: set[int] = set()
    pos = flat.find(_DIGITS)  # every run of 19 digits; a token is one right after a `!`
    while pos >= 0:
        if pos == 0 or flat[pos - 1] == _BANG:
            out.add(body.count(b"\n", 0, pos))
        pos = flat.find(_DIGITS, pos + len(_DIGITS))
    return out or None
