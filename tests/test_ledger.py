"""The ledger: append-only, hash-chained, safe against torn writes, edits and concurrent writers."""

from __future__ import annotations

import multiprocessing
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exante.errors import LedgerError
from exante.ledger import GENESIS, Ledger, parse


def _fill(ledger: Ledger, n: int = 5) -> list[dict]:
    """A realistic mix: a lock, runs with float metrics (one in exponent form), text, NaN."""
    records = [ledger.append("LOCKED", {"plan_sha256": "ab" * 32})]
    for i in range(n - 1):
        records.append(ledger.append("RUN_OK", {
            "run_id": f"arm__x-1__s{i}", "metrics": {"acc": 0.5 + i / 100, "lr": 1e-05,
                                                     "loss": float("nan")},
            "note": "café ✓", "seed": i}))
    return records


# ---------------------------------------------------------------- torn last line


def test_torn_last_line_keeps_every_earlier_record_and_the_chain(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    written = _fill(ledger, 6)
    raw = ledger.path.read_bytes()
    last_start = raw.rstrip(b"\n").rfind(b"\n") + 1
    cut = last_start + (len(raw) - last_start) // 2  # a crash half-way through the last write
    ledger.path.write_bytes(raw[:cut])

    scan = ledger.scan()  # verifies the chain; raises if broken

    assert scan.records == written[:-1]
    assert scan.torn == raw[last_start:cut]
    assert scan.head == written[-2]["hash"]

    # the next append sets the torn bytes aside and continues the chain from the last good record
    new = ledger.append("RUN_OK", {"run_id": "after-the-crash"})
    aside = tmp_path / "ledger.jsonl.torn-0"
    assert aside.read_bytes() == raw[last_start:cut]
    assert new["prev"] == written[-2]["hash"] and new["seq"] == written[-2]["seq"] + 1
    records = ledger.records()
    assert records == written[:-1] + [new]
    assert ledger.scan().torn == b""

    # a second crash gets its own file; nothing is overwritten
    ledger.path.write_bytes(ledger.path.read_bytes()[:-7])
    ledger.append("RUN_OK", {"run_id": "again"})
    assert (tmp_path / "ledger.jsonl.torn-1").exists() and aside.read_bytes() == raw[last_start:cut]
    assert [r["seq"] for r in ledger.records()] == list(range(len(written)))  # `new` was torn


def test_log_shows_records_and_chain_ok_after_a_torn_line(tmp_path, cli, make_plan):
    plan = make_plan("torn")
    assert cli("lock", plan).exit_code == 0
    path = plan.parent / "ledger.jsonl"
    good = Ledger(path).records()
    with open(path, "ab") as fh:
        fh.write(b'{"seq": 99, "ev')  # a torn line

    result = cli("log", plan)

    assert result.exit_code == 0, result.output
    assert f"chain OK, {len(good)} records" in result.stdout
    assert "LOCKED" in result.stdout


# ---------------------------------------------------------------- edits break the chain


@pytest.fixture(scope="module")
def chained(tmp_path_factory) -> bytes:
    ledger = Ledger(tmp_path_factory.mktemp("chain") / "ledger.jsonl")
    _fill(ledger, 5)
    return ledger.path.read_bytes()


def _line_of(raw: bytes, pos: int) -> int:
    return raw.count(b"\n", 0, pos) + 1


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), op=st.sampled_from(["replace", "insert", "delete"]),
       byte=st.one_of(st.integers(0, 255), st.sampled_from(b' \t\nEe0"\\')))
def test_editing_any_earlier_byte_breaks_the_chain_naming_the_line(chained, data, op, byte):
    """Every byte of every record but the last (an edit to the last line could look torn)."""
    last_start = chained.rstrip(b"\n").rfind(b"\n") + 1
    pos = data.draw(st.integers(0, last_start - 1), label="pos")
    if op == "replace":
        byte = byte if byte != chained[pos] else (byte + 1) % 256
        edited = chained[:pos] + bytes([byte]) + chained[pos + 1:]
    elif op == "insert":
        edited = chained[:pos] + bytes([byte]) + chained[pos:]
    else:
        edited = chained[:pos] + chained[pos + 1:]
    line = _line_of(chained, pos)

    with pytest.raises(LedgerError) as exc:
        parse(edited, source="ledger.jsonl")

    # the error names the edited line (a removed or added newline shifts the blame by one)
    named = int(re.match(r"ledger\.jsonl:(\d+):", str(exc.value)).group(1))
    assert named in (line, line + 1) if chained[pos:pos + 1] == b"\n" or byte == 10 else named == line


@pytest.mark.parametrize("label, edit", [
    ("a space after a colon", lambda raw: raw.replace(b'"seq":1,', b'"seq": 1,', 1)),
    ("an exponent written E instead of e", lambda raw: raw.replace(b"1e-05", b"1E-05", 1)),
    ("an escaped character", lambda raw: raw.replace("é".encode(), b"\\u00e9", 1)),
])
def test_edits_that_keep_the_parsed_content_still_break_the_chain(tmp_path, label, edit):
    """The hash covers the parsed record, so the bytes must also be exactly what was written."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    _fill(ledger, 4)
    raw = ledger.path.read_bytes()
    edited = edit(raw)
    assert edited != raw, label
    with pytest.raises(LedgerError, match=r"ledger\.jsonl:2:"):
        parse(edited, source="ledger.jsonl")


def test_removing_a_record_breaks_the_chain(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    _fill(ledger, 4)
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    ledger.path.write_bytes(b"".join(lines[:1] + lines[2:]))
    with pytest.raises(LedgerError, match=r"ledger\.jsonl:2: chain broken"):
        ledger.records()


def test_log_exits_1_on_an_edited_ledger(tmp_path, cli, make_plan):
    plan = make_plan("edited")
    assert cli("lock", plan).exit_code == 0
    path = plan.parent / "ledger.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"LOCKED"', b'"LOCKEX"', 1))

    result = cli("log", plan)

    assert result.exit_code == 1
    assert re.fullmatch(r".*ledger\.jsonl:1: chain broken.*\n", result.stderr)


# ---------------------------------------------------------------- concurrent writers

WRITERS, PER_WRITER = 3, 200


def _writer(path: str, writer: int, n: int) -> None:
    ledger = Ledger(path)
    for i in range(n):
        if i % 10 == 9:  # batches too: one lock, one write for several records
            ledger.append_many([("RUN_OK", {"writer": writer, "i": i, "batch": True})])
        else:
            ledger.append("RUN_OK", {"writer": writer, "i": i, "pad": "x" * (i * 37 % 500)})


def test_concurrent_processes_never_interleave_or_lose_a_record(tmp_path):
    path = tmp_path / "ledger.jsonl"
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, PER_WRITER)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0

    records = Ledger(path).records()  # every line parses and every link holds

    assert len(records) == WRITERS * PER_WRITER
    assert [r["seq"] for r in records] == list(range(WRITERS * PER_WRITER))
    assert records[0]["prev"] == GENESIS
    seen = {(r["data"]["writer"], r["data"]["i"]) for r in records}
    assert seen == {(w, i) for w in range(WRITERS) for i in range(PER_WRITER)}
    for w in range(WRITERS):  # each writer's own records stay in its order
        mine = [r["data"]["i"] for r in records if r["data"]["writer"] == w]
        assert mine == sorted(mine)
    assert path.read_bytes().count(b"\n") == WRITERS * PER_WRITER
