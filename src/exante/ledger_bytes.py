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
- parsing: ``orjson.loads`` per line, except where it would read a value
  differently from ``json.loads``: it reads integers of 19 or more digits as
  floats (those lines, found by one regex over the file, go to ``json``), and
  it refuses what ``json`` accepts beyond the JSON standard (``NaN`` literals,
  lone surrogates: those lines go to ``json`` too, which is the reference).
- verifying: a line's hash is the sha256 of the line's own bytes without its
  top-level ``,"hash":"<hex>"``; nothing is re-serialised, so the check is a
  byte check (an inserted space or a re-spelt number breaks it).
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
from pathlib import Path
from typing import Any

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


def _loads_reference(line: bytes, lineno: int, source: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError (bytes, not text)
        raise LedgerError(f"{source}:{lineno}: not a JSON record "
                          f"({getattr(exc, 'msg', exc)})") from exc


def parse_lines(raw: bytes, cut: int, *, source: str, verify: bool,
                checked_from: int = 0) -> list[dict[str, Any]]:
    """Parse the complete lines of `raw[:cut]`; with `verify`, check the links and hashes of
    the lines from byte offset `checked_from` on (a line boundary: the bytes before it are a
    prefix already known to verify, see `ledger_checkpoint`)."""
    lines = raw[:cut].split(b"\n")
    lines.pop()  # after the last newline: empty
    enabled = gc.isenabled()
    gc.disable()  # a bulk parse makes only acyclic dicts and lists: nothing for the GC to find
    try:
        records = _loads_all(lines, _careful_lines(raw[:cut]), source)
        if verify:
            first = raw.count(b"\n", 0, checked_from) if checked_from else 0
            _verify(records, lines, first, source)
    finally:
        if enabled:
            gc.enable()
    return records


def _loads_all(lines: list[bytes], careful: set[int] | None, source: str) -> list[Any]:
    if careful is None:
        try:
            return list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            pass  # some line needs json's reading, or is broken: go line by line
    careful = careful or set()
    out = []
    for i, line in enumerate(lines):
        if i in careful:
            out.append(_loads_reference(line, i + 1, source))
            continue
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            out.append(_loads_reference(line, i + 1, source))
    return out


def _verify(records: list[Any], lines: list[bytes], first: int, source: str) -> None:
    """Links and line hashes of records[first:]; records[:first] are known good."""
    prev = records[first - 1]["hash"] if first else GENESIS
    sha = hashlib.sha256
    for i, (record, line) in enumerate(zip(records[first:], lines[first:]), first):
        if type(record) is not dict or type(digest := record.get("hash")) is not str:
            raise LedgerError(f"{source}:{i + 1}: not a ledger record")
        if record.get("prev") != prev:
            raise LedgerError(f"{source}:{i + 1}: chain broken: prev does not match the hash "
                              f"of line {i} (a record was edited, removed or inserted)")
        at = line.rfind(HASH_KEY)
        if at < 0 or line[at + 73:at + 74] != b'"' or \
                sha(line[:at] + line[at + 74:]).hexdigest() != digest:
            raise LedgerError(f"{source}:{i + 1}: chain broken: the line's bytes do not match "
                              "its hash (the line was edited)")
        prev = digest


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
