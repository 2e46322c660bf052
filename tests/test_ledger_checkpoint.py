"""The verified-prefix checkpoint speeds a read up and never lets a broken chain pass.

Each attack edits the ledger inside the prefix the checkpoint vouches for, in
the ways that would slip past a checkpoint that trusted less than it checks:
an edit that keeps the file's size, one that also rewrites the checkpoint's
digest, a checkpoint copied from another ledger, a truncation, and a line
whose own hash is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from exante import ledger_checkpoint as CP
from exante.errors import LedgerError
from exante.ledger import Ledger


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXANTE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(CP, "MIN_GAIN", 1)  # checkpoint even these small ledgers
    return tmp_path / "state"


def _ledger(tmp_path, n=40, name="a") -> Ledger:
    ledger = Ledger(tmp_path / name / "ledger.jsonl")
    ledger.append_many([("RUN_OK", {"run_id": f"r{i}", "metrics": {"acc": i / 10}})
                        for i in range(n)])
    return ledger


def _checkpointed(tmp_path, n=40, name="a") -> Ledger:
    ledger = _ledger(tmp_path, n, name)
    ledger.scan()  # a full verification writes the checkpoint
    assert CP.path_for(ledger.path).is_file()
    return ledger


def _edit_in_prefix(ledger: Ledger, old: bytes, new: bytes) -> None:
    raw = ledger.path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    ledger.path.write_bytes(raw.replace(old, new))


def test_a_checkpointed_read_checks_only_what_was_appended_since(tmp_path, monkeypatch):
    ledger = _checkpointed(tmp_path)
    point = json.loads(CP.path_for(ledger.path).read_text())
    assert point["lines"] == 40 and point["offset"] == ledger.path.stat().st_size
    ledger.append_many([("RUN_OK", {"run_id": f"more{i}"}) for i in range(5)])

    checked = []
    real = hashlib.sha256
    monkeypatch.setattr("exante.ledger_bytes.hashlib.sha256",
                        lambda data=b"": checked.append(bytes(data)) or real(data))
    records = ledger.records()

    assert [r["data"]["run_id"] for r in records[-5:]] == [f"more{i}" for i in range(5)]
    line_hashes = [d for d in checked if d.startswith(b'{"data"') and d.count(b"\n") == 0]
    assert len(records) == 45 and len(line_hashes) == 5  # five line hashes, not 45
    assert json.loads(CP.path_for(ledger.path).read_text())["lines"] == 45  # moved on


def test_an_edit_inside_the_verified_prefix_is_caught(tmp_path):
    ledger = _checkpointed(tmp_path)
    _edit_in_prefix(ledger, b'"acc":0.7', b'"acc":0.9')  # same size, same mtime second

    with pytest.raises(LedgerError, match=r":8: chain broken: the line's bytes"):
        ledger.records()


def test_rewriting_the_checkpoints_digest_to_match_the_edit_is_caught(tmp_path):
    ledger = _checkpointed(tmp_path)
    _edit_in_prefix(ledger, b'"acc":0.7', b'"acc":0.9')
    cp = CP.path_for(ledger.path)
    point = json.loads(cp.read_text())
    point["prefix_sha256"] = hashlib.sha256(ledger.path.read_bytes()[:point["offset"]]).hexdigest()
    cp.write_text(json.dumps(point))  # the MAC no longer matches: the checkpoint is ignored

    with pytest.raises(LedgerError, match="chain broken"):
        ledger.records()


def test_a_checkpoint_signed_with_another_key_is_ignored(tmp_path, state_dir):
    ledger = _checkpointed(tmp_path)
    _edit_in_prefix(ledger, b'"acc":0.7', b'"acc":0.9')
    (state_dir / "checkpoint.key").write_text("11" * 32)  # the attacker's own key
    CP.save(ledger.path, ledger.path.read_bytes(), ledger.path.stat().st_size,
            [{"seq": 39, "hash": "x"}] * 40, None)
    (state_dir / "checkpoint.key").write_text("22" * 32)  # this machine's key

    with pytest.raises(LedgerError, match="chain broken"):
        ledger.records()


def test_a_checkpoint_copied_from_an_identical_ledger_elsewhere_is_ignored(tmp_path):
    good = _checkpointed(tmp_path, name="good")
    other = Ledger(tmp_path / "other" / "ledger.jsonl")
    other.path.parent.mkdir()
    raw = good.path.read_bytes().replace(b'"acc":0.7', b'"acc":0.9')
    other.path.write_bytes(raw)  # same prefix digest would need the same bytes: they differ
    CP.path_for(other.path).write_bytes(CP.path_for(good.path).read_bytes())
    assert CP.load(other.path, raw, len(raw)) is None
    with pytest.raises(LedgerError, match="chain broken"):
        other.records()

    twin = Ledger(tmp_path / "twin" / "ledger.jsonl")  # byte-identical copy, other path
    twin.path.parent.mkdir()
    twin.path.write_bytes(good.path.read_bytes())
    CP.path_for(twin.path).write_bytes(CP.path_for(good.path).read_bytes())
    assert CP.load(twin.path, twin.path.read_bytes(), twin.path.stat().st_size) is None


def test_a_line_rehashed_after_an_edit_still_breaks_the_next_link(tmp_path):
    ledger = _checkpointed(tmp_path)
    lines = ledger.path.read_bytes().split(b"\n")
    record = json.loads(lines[5])
    record["data"]["acc"] = 9.0
    from exante.ledger import canonical, record_hash

    record["hash"] = record_hash(record)
    lines[5] = canonical(record).encode()
    ledger.path.write_bytes(b"\n".join(lines))

    with pytest.raises(LedgerError, match=r":7: chain broken: prev does not match"):
        ledger.records()


def test_a_truncated_ledger_ignores_the_checkpoint_and_verifies_from_the_start(tmp_path):
    ledger = _checkpointed(tmp_path)
    raw = ledger.path.read_bytes()
    keep = raw[:raw.index(b"\n", len(raw) // 2) + 1]
    ledger.path.write_bytes(keep)  # a prefix of a valid chain is itself valid
    assert CP.load(ledger.path, keep, len(keep)) is None
    assert len(ledger.records()) == keep.count(b"\n")


def test_full_ignores_the_checkpoint(tmp_path, monkeypatch):
    ledger = _checkpointed(tmp_path)
    monkeypatch.setattr(CP, "load", lambda *a: pytest.fail("full must not consult it"))
    assert len(ledger.scan(full=True).records) == 40


def test_no_key_no_checkpoint_and_reads_still_work(tmp_path, monkeypatch):
    monkeypatch.setattr(CP, "_key", lambda create: None)
    ledger = _ledger(tmp_path)
    assert len(ledger.records()) == 40
    assert not CP.path_for(ledger.path).exists()


def test_the_key_is_private_to_its_owner(tmp_path, state_dir):
    _checkpointed(tmp_path)
    assert (os.stat(state_dir / "checkpoint.key").st_mode & 0o777) == 0o600
