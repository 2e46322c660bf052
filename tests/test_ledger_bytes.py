"""The fast ledger codec writes and reads exactly what the plain-json one did.

Every ledger written before orjson must verify, re-encode to the same bytes
and parse to the same values; and for any JSON-like value the canonical bytes
equal `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exante import ledger_bytes as B
from exante.errors import LedgerError
from exante.ledger import Ledger, canonical, parse, record_hash

REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted([*REPO.glob("tests/fixtures/**/ledger.jsonl"),
                    *REPO.glob("examples/seed003/**/ledger.jsonl")])


def reference_canonical(obj) -> str:
    """The encoding every existing ledger was hashed under (before orjson)."""
    return json.dumps(B.finite(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def reference_parse(raw: bytes) -> list[dict]:
    """The plain-json reader and verifier the fast one replaces."""
    prev, out = B.GENESIS, []
    for line in raw.split(b"\n")[:-1]:
        record = json.loads(line)
        assert record["prev"] == prev
        at = line.rfind(B.HASH_KEY)
        assert hashlib.sha256(line[:at] + line[at + 74:]).hexdigest() == record["hash"]
        prev = record["hash"]
        out.append(record)
    return out


def test_the_committed_ledgers_are_there():
    assert len(COMMITTED) >= 8, COMMITTED


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(REPO)))
def test_committed_ledgers_verify_parse_and_reencode_byte_for_byte(path):
    raw = path.read_bytes()
    records = parse(raw, source=str(path)).records
    assert records == reference_parse(raw)
    lines = raw.split(b"\n")[:-1]
    for record, line in zip(records, lines, strict=True):
        again, encoded = B.encode_record(record["seq"], record["ts"], record["event"],
                                         record["data"], record["prev"])
        assert encoded == line + b"\n"
        assert again == record
        assert record_hash(record) == record["hash"]
        assert canonical(record).encode() == line


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=1e-12, max_value=1e-3) | st.floats(min_value=1e14, max_value=1e18)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4)
    | st.tuples(children, children),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_is_json_dumps_byte_for_byte(value):
    assert canonical(value) == reference_canonical(value)
    assert B.canonical_bytes({"k": value}) == reference_canonical({"k": value}).encode()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5), st.text(max_size=10))
def test_an_encoded_record_parses_back_to_itself_as_json_reads_it(data, event):
    record, line = B.encode_record(3, "2026-12-01T00:00:00.000001+00:00", event or "X", data,
                                   "ab" * 32)
    assert json.loads(line) == record
    assert B.parse_lines(line, len(line), source="t", verify=False) == [json.loads(line)]
    assert record["hash"] == record_hash(record)


def test_floats_keep_pythons_spelling_where_orjson_differs():
    for x in (1e-05, 1.8358340988917728e-05, -7.1850441006303285e-09, 1e-07, 5e-324, 1e16,
              1.5e300, 0.1, -0.0, 123456789012345.6):
        assert canonical(x) == repr(x), x
    assert canonical(float("nan")) == '"NaN"' and canonical(-math.inf) == '"-Infinity"'


def test_long_integers_read_as_integers_not_floats():
    ledger_line = B.encode_record(0, "t", "RUN_OK", {"big": 2**64 + 1, "neg": -(2**70),
                                                     "edge": 2**63}, B.GENESIS)[1]
    [record] = B.parse_lines(ledger_line, len(ledger_line), source="t", verify=True)
    assert record["data"] == {"big": 2**64 + 1, "neg": -(2**70), "edge": 2**63}
    assert all(type(v) is int for v in record["data"].values())
    odd = (b'{"a": 12345678901234567890123, "b":[-98765432109876543210]}\n'
           b'12345678901234567890\n{"h":"0123456789012345678901234a","f":0.12345678901234567891}\n')
    assert B.parse_lines(odd, len(odd), source="t", verify=False) == \
        [json.loads(x) for x in odd.split(b"\n")[:-1]]
    assert B._careful_lines(odd) == {0, 1}  # not the hex string, not the decimals
    # long digit runs inside strings right before a long integer do not hide it
    runs = (b'{"h":"' + b"1" * 40 + b'","n":' + b"7" * 19 + b'}\n{"h":"' + b"2" * 57 + b'"}\n'
            b'{"t":[' + b"3" * 25 + b"]}\n")
    assert B._careful_lines(runs) == {0, 2}


def test_what_only_json_reads_is_still_read_and_what_neither_reads_names_the_line():
    lines = b'{"a":NaN}\n{"s":"\\ud800"}\n'
    assert [json.dumps(r) for r in B.parse_lines(lines, len(lines), source="t", verify=False)] \
        == [json.dumps(json.loads(x)) for x in lines.split(b"\n")[:-1]]
    with pytest.raises(LedgerError, match=r"t:2: not a JSON record"):
        B.parse_lines(b'{"a":1}\n{"a":\n', 15, source="t", verify=False)


def test_misaligned_lines_do_not_parse_as_records(tmp_path):
    """Lines that only make JSON together (a record split over two lines) are refused."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append("LOCKED", {"a": [1, 2]})
    raw = ledger.path.read_bytes().replace(b"[1,2]", b"[1,\n2]")
    with pytest.raises(LedgerError, match=":1: not a JSON record"):
        parse(raw)


def _three_records(tmp_path) -> bytes:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append_many([("LOCKED", {"plan": "p", "n": [1, 2]}),
                        ("RUN_OK", {"run_id": "a", "metrics": {"acc": 0.5, "big": 2**70}}),
                        ("RUN_OK", {"run_id": "b", "s": "caf\u00e9 \u2603", "tiny": 1e-07})])
    return ledger.path.read_bytes()


def test_a_plain_ledger_reads_as_lines_and_builds_data_only_when_asked(tmp_path):
    import pickle

    from exante.history import History

    raw = _three_records(tmp_path)
    scan = Ledger(tmp_path / "ledger.jsonl").scan(full=True)
    assert all(type(r) is B.Line for r in scan.lines)  # the fast way, not the line-by-line one
    expected = [json.loads(x) for x in raw.split(b"\n")[:-1]]
    assert scan.records == expected
    history = History.read(tmp_path / "ledger.jsonl")
    assert not any("data" in r.__dict__ for r in history)  # nothing built by the read
    assert [r.data for r in history] == [e["data"] for e in expected]
    assert type(history[1].data["metrics"]["big"]) is int  # 70 bits: json's reading, not a float
    again = pickle.loads(pickle.dumps(history[2]))
    assert again == history[2] and again.data["s"] == "caf\u00e9 \u2603"


def test_a_line_boundary_moved_inside_the_records_does_not_read_as_records(tmp_path):
    """Two records joined on one line and a third split over two: as many JSON values as
    lines, so a reader that counted values would misalign every record with its line."""
    lines = _three_records(tmp_path).split(b"\n")[:-1]
    at = lines[2].index(b',"event"')
    moved = lines[0] + lines[1] + b"\n" + lines[2][:at] + b"\n" + lines[2][at:] + b"\n"
    assert moved.count(b"\n") == 3
    for verify in (True, False):
        with pytest.raises(LedgerError, match=r":1: not a JSON record"):
            B.parse_lines(moved, len(moved), source="t", verify=verify)


def test_bytes_json_cannot_decode_inside_data_are_refused_as_json_refuses_them(tmp_path):
    raw = _three_records(tmp_path).replace("caf\u00e9".encode(), b"caf\xff")
    for verify in (True, False):
        with pytest.raises(LedgerError, match=r":3: not a JSON record"):
            B.parse_lines(raw, len(raw), source="t", verify=verify)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_one_byte_edit_reads_as_json_reads_it_or_fails_as_json_fails(tmp_path_factory, data):
    """The reader against the line-by-line `json.loads` it replaces, on every kind of damage:
    a byte inserted, deleted or changed anywhere in a real ledger."""
    raw = bytearray(_three_records(tmp_path_factory.mktemp("l")))
    at = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.sampled_from(b'{}[],:"\\\n 0123456789.eE-+aNItn\xff\xc3'))
    how = data.draw(st.sampled_from(("insert", "delete", "replace")))
    if how == "insert":
        raw[at:at] = bytes([byte])
    elif how == "delete":
        del raw[at]
    else:
        raw[at] = byte
    raw = bytes(raw)
    cut, _ = B.split(raw)
    try:
        expected = [json.loads(x) for x in raw[:cut].split(b"\n")[:-1]]
    except ValueError:
        with pytest.raises(LedgerError, match="not a JSON record"):
            B.parse_lines(raw, cut, source="t", verify=False)
        return
    got = B.parse_lines(raw, cut, source="t", verify=False)
    assert json.dumps(got) == json.dumps(expected)
