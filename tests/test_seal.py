"""The seal: byte-compatible with seed 000's published scheme, and no single-byte change escapes it."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exante import seal
from exante.errors import InputError, TamperedError
from exante.templates import write_template

SEED000 = Path(__file__).parent / "data" / "seed000_prereg.yaml"


# ---------------------------------------------------------------- seed 000, verbatim
# The lock script and entry-point check exactly as published in seed 000 (only re-indented).
# They are the contract: exante must accept what they seal and they must accept what exante seals.

import hashlib, json, sys  # noqa: E401,E402,F401  (the lock script's own import line)
import hashlib, re, sys  # noqa: E401,E402,F811  (the entry point's own import line)


def lock(path):
    text = open(path).read()
    # zero out the hash field, compute hash of the rest
    import re
    zeroed = re.sub(r'sha256: ".*"', 'sha256: ""', text)
    h = hashlib.sha256(zeroed.encode()).hexdigest()
    print(h)


def check_prereg(path):
    text = open(path).read()
    stored = re.search(r'sha256: "([a-f0-9]+)"', text).group(1)
    zeroed = re.sub(r'sha256: ".*"', 'sha256: ""', text)
    computed = hashlib.sha256(zeroed.encode()).hexdigest()
    if computed != stored:
        print("PREREG TAMPERED. Refusing to run.")
        sys.exit(1)


# ---------------------------------------------------------------- helpers


def _seed_plan(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prereg.yaml"
    shutil.copyfile(SEED000, path)
    return path


def seed(fn, path):
    """Call a seed-000 function; the published script never closes its file, so its
    ResourceWarning (an error under this project's warning filter) is silenced here only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return fn(path)


def _tampered_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------- compatibility


def test_file_sealed_by_the_seed_script_verifies_in_exante(tmp_path, cli, capsys):
    path = _seed_plan(tmp_path / "g4")
    seed(lock, path)
    digest = capsys.readouterr().out.strip()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('sha256: ""', f'sha256: "{digest}"', 1), encoding="utf-8")

    result = cli("verify", path)

    assert result.exit_code == 0, result.output
    assert digest in result.stdout
    assert seal.verify(path) == digest


def test_file_sealed_by_exante_passes_the_seed_check(tmp_path, cli, capsys):
    path = _seed_plan(tmp_path / "g4")
    before = path.read_bytes()

    result = cli("lock", path)

    assert result.exit_code == 0, result.output
    digest = re.search(r"sha256 ([0-9a-f]{64})", result.stdout).group(1)
    # sealing changes nothing but the field: the free-form seed-000 plan is kept byte for byte
    assert path.read_bytes() == before.replace(b'sha256: ""', f'sha256: "{digest}"'.encode(), 1)
    seed(check_prereg, path)  # no SystemExit
    assert "TAMPERED" not in capsys.readouterr().out
    assert cli("verify", path).exit_code == 0

    # and the seed's check is a real check: one changed byte makes it refuse, as exante does
    path.write_bytes(path.read_bytes().replace(b"rank 16", b"rank 32"))
    with pytest.raises(SystemExit) as exc:
        seed(check_prereg, path)
    assert exc.value.code == 1
    assert capsys.readouterr().out.strip() == "PREREG TAMPERED. Refusing to run."
    result = cli("verify", path)
    assert result.exit_code == 1
    assert _tampered_line(result).startswith("PREREG TAMPERED. Refusing to run.")


def test_both_hashes_agree_on_the_same_text(tmp_path, capsys):
    path = _seed_plan(tmp_path / "g4")
    seed(lock, path)
    assert capsys.readouterr().out.strip() == seal.compute_hash(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- any single-byte change is caught


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for thousands of small writes: RAM-backed when the machine has /dev/shm."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="exante-seal-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("mutants")


@pytest.fixture(scope="module")
def sealed_docs(tmp_path_factory) -> dict[str, bytes]:
    """A sealed seed-000 YAML plan and a sealed bet module (from the `bet` template)."""
    root = tmp_path_factory.mktemp("sealed")
    yaml_plan = _seed_plan(root / "g4")
    seal.lock(yaml_plan)
    bet = write_template("compression", "bet", root / "bets")
    seal.lock(bet)
    docs = {"yaml": yaml_plan.read_bytes(), "bet": bet.read_bytes()}
    for doc in docs.values():
        assert re.search(rb'sha256: "[0-9a-f]{64}"', doc)
    return docs


def _field_region(doc: bytes) -> range:
    """Positions from the line before the seal field to the end of the line after it."""
    at = doc.index(b'sha256: "')
    start = doc.rfind(b"\n", 0, doc.rfind(b"\n", 0, at)) + 1
    end = doc.find(b"\n", doc.find(b"\n", at) + 1)
    return range(start, (end if end >= 0 else len(doc)) + 1)


def _mutate(doc: bytes, op: str, pos: int, byte: int) -> bytes:
    if op == "replace":
        return doc[:pos] + bytes([byte]) + doc[pos + 1:]
    if op == "insert":
        return doc[:pos] + bytes([byte]) + doc[pos:]
    return doc[:pos] + doc[pos + 1:]


def _assert_refused(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    with pytest.raises(TamperedError) as exc:
        seal.verify(path)
    assert str(exc.value).startswith(seal.TAMPERED)


def _position(doc: bytes, op: str):
    last = len(doc) if op == "insert" else len(doc) - 1
    region = _field_region(doc)
    # half the draws land on the seal line and its neighbours, where the regex could be fooled
    return st.one_of(st.integers(0, last), st.integers(region.start, min(region.stop - 1, last)))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(["yaml", "bet"]),
       op=st.sampled_from(["replace", "insert", "delete"]), byte=st.integers(0, 255))
def test_any_single_byte_change_is_tampering(sealed_docs, scratch, data, kind, op, byte):
    """Replace, insert or delete one byte anywhere (any byte value: CR, NUL, non-UTF-8, a quote)."""
    doc = sealed_docs[kind]
    pos = data.draw(_position(doc, op), label="pos")
    if op == "replace" and doc[pos] == byte:
        byte = (byte + 1) % 256
    _assert_refused(scratch / f"plan.{'py' if kind == 'bet' else 'yaml'}",
                    _mutate(doc, op, pos, byte))


@pytest.mark.parametrize("kind", ["yaml", "bet"])
def test_every_change_around_the_seal_field_is_tampering(sealed_docs, scratch, kind):
    """Exhaustive where the regex does its work: every position of the seal line and its
    neighbours, every operation, with the bytes that could fool it (quotes, hex, space, newline)."""
    doc = sealed_docs[kind]
    path = scratch / f"edge.{'py' if kind == 'bet' else 'yaml'}"
    region = _field_region(doc)
    assert len(region) > 64
    for pos in region:
        for byte in b'"a0f :\n\\x':
            _assert_refused(path, _mutate(doc, "insert", pos, byte))
            if pos < len(doc) and doc[pos] != byte:
                _assert_refused(path, _mutate(doc, "replace", pos, byte))
        if pos < len(doc):
            _assert_refused(path, _mutate(doc, "delete", pos, 0))


@pytest.mark.parametrize("label, edit", [
    ("a word of the hypothesis", lambda t: t.replace(b"rank 16", b"rank 17", 1)),
    ("one hex digit of the stored hash", lambda t: re.sub(rb'(sha256: ")(.)',
                                                          lambda m: m.group(1) + (b"0" if m.group(2) != b"0" else b"1"), t, count=1)),
    ("the closing quote of the seal field", lambda t: re.sub(rb'(sha256: "[0-9a-f]{64})"', rb"\1", t)),
    ("a CRLF line ending", lambda t: t.replace(b"\n", b"\r\n", 1)),
    ("a byte that is not UTF-8", lambda t: t.replace(b"rank", b"r\xffnk", 1)),
])
def test_cli_refuses_a_changed_plan_with_the_seed_wording(sealed_docs, tmp_path, cli, label, edit):
    path = tmp_path / "prereg.yaml"
    tampered = edit(sealed_docs["yaml"])
    assert tampered != sealed_docs["yaml"], label
    path.write_bytes(tampered)

    result = cli("verify", path)

    assert result.exit_code == 1, (label, result.output)
    assert _tampered_line(result).startswith("PREREG TAMPERED. Refusing to run."), label
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- what lock refuses


def test_lock_refuses_carriage_returns(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes(b'experiment_id: x\r\nsha256: ""\r\n')
    with pytest.raises(InputError, match="carriage returns"):
        seal.lock(path)
    assert b"\r\n" in path.read_bytes() and b'sha256: ""' in path.read_bytes()  # untouched


def test_lock_refuses_a_second_seal_field(tmp_path):
    # the seed's regex blanks every match, so text inside a second field would be unhashed
    path = tmp_path / "plan.yaml"
    path.write_text('experiment_id: x\nsha256: ""\nnotes: |\n  sha256: "cafe"\n', encoding="utf-8")
    with pytest.raises(TamperedError, match="2 seal fields"):
        seal.lock(path)


def test_lock_refuses_a_file_without_a_seal_field(tmp_path, cli):
    path = tmp_path / "plan.yaml"
    path.write_text("experiment_id: x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no seal field"):
        seal.lock(path)


def test_unsealed_plan_does_not_verify(tmp_path, cli):
    path = _seed_plan(tmp_path / "g4")
    result = cli("verify", path)
    assert result.exit_code == 1
    assert "not sealed" in _tampered_line(result)
