"""The ledger answers ledger questions: Record / Event / History, and one scan per command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exante import ledger as L
from exante.events import Event
from exante.history import History, Record

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import cli_group, make_experiment  # noqa: E402


def _ledger(tmp_path: Path) -> L.Ledger:
    ledger = L.Ledger(tmp_path / "ledger.jsonl")
    ledger.append(Event.LOCKED, {"plan_sha256": "a" * 64, "fingerprints": {"code:t.py": "1"}})
    ledger.append(Event.RUN_STARTED, {"run_ids": ["r1", "r2"]})
    ledger.append(Event.RUN_FAILED, {"run_id": "r1", "error_kind": "crash"})
    ledger.append(Event.RUN_OK, {"run_id": "r2", "metrics": {"acc": 0.5}})
    ledger.append(Event.KILLED, {"rule": "k", "when": "x", "plan_sha256": "a" * 64})
    ledger.append(Event.AMENDED, {"plan_sha256": "b" * 64, "parent_sha256": "a" * 64,
                                  "after_runs": True, "fingerprints": {"code:t.py": "2"}})
    ledger.append(Event.RUN_OK, {"run_id": "r1", "metrics": {"acc": 0.6}})  # a retry wins
    ledger.append("SOMETHING_NEW", {"x": 1})  # an event this version does not know
    return ledger


def test_event_is_its_string_and_the_bytes_do_not_change(tmp_path):
    assert Event.RUN_OK == "RUN_OK" and L.RUN_OK is Event.RUN_OK
    ledger = _ledger(tmp_path)
    assert b'"event":"RUN_OK"' in ledger.path.read_bytes()
    assert [r["event"] for r in ledger.records()][:2] == ["LOCKED", "RUN_STARTED"]


def test_history_queries(tmp_path):
    h = History.read(_ledger(tmp_path).path)
    assert all(isinstance(r, Record) for r in h) and len(h) == 8
    assert h.records[0].event is Event.LOCKED and h.records[-1].event == "SOMETHING_NEW"
    terminal = h.terminal()
    assert {k: r.event for k, r in terminal.items()} == {"r1": Event.RUN_OK, "r2": Event.RUN_OK}
    assert terminal["r1"].data["metrics"] == {"acc": 0.6}
    assert h.failures() == {"r1": 1}
    assert h.sealed_hash == "b" * 64 and h.fingerprints == {"code:t.py": "2"}
    assert h.lock_hashes() == ["a" * 64, "b" * 64]
    assert [a["parent_sha256"] for a in h.amendments()] == ["a" * 64] and h.deviated
    assert [k["seq"] for k in h.kills()] == [4]
    assert h.kill_in_force() is None  # the amendment re-sealed the plan after the kill
    assert h.before(5).kill_in_force()["rule"] == "k"
    assert h.has_runs and h.first_run_seq() == 1 and h.head == h.records[-1].hash
    assert h.records[2]["data"]["error_kind"] == "crash"  # key access for older callers


def test_check_belongs(tmp_path):
    from exante.errors import RefusedError

    h = History.read(_ledger(tmp_path).path)
    good = {"plan_sha256": "b" * 64, "ledger_head": h.head}
    h.check_belongs(good, "b" * 64, "result.json")
    with pytest.raises(RefusedError, match="decided for plan sha256"):
        h.check_belongs({**good, "plan_sha256": "a" * 64}, "b" * 64, "result.json")
    with pytest.raises(RefusedError, match="not a record of this ledger"):
        h.check_belongs({**good, "ledger_head": "f" * 64}, "b" * 64, "result.json")
    with pytest.raises(RefusedError, match="added after this result"):
        h.check_belongs({**good, "ledger_head": h.records[5].hash}, "b" * 64, "result.json")


def test_tolerant_read_keeps_the_error(tmp_path):
    ledger = _ledger(tmp_path)
    lines = ledger.path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"crash", b"crush")
    ledger.path.write_bytes(b"\n".join(lines))
    with pytest.raises(L.LedgerError):
        History.read(ledger.path)
    h = History.read(ledger.path, tolerant=True)
    assert "chain broken" in h.error and len(h) == 8


# ---------------------------------------------------------------- one scan per command


@pytest.fixture
def count_scans(monkeypatch):
    """Count every read of a ledger file (all reads go through `Ledger.scan`)."""
    seen: list[str] = []
    original = L.Ledger.scan

    def scan(self, *args, **kwargs):
        seen.append(self.path.parent.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(L.Ledger, "scan", scan)
    return seen


def _invoke(*args):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli_group(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_one_ledger_scan_per_command(tmp_path, count_scans, monkeypatch):
    root = tmp_path / "experiments"
    plans = [make_experiment(root / f"e{i}", f"e{i}", f"hypothesis {i}", decide=False)
             for i in range(3)]
    monkeypatch.chdir(tmp_path)
    counts = {}
    for verb, args in (("decide", [plans[0]]), ("report", [plans[0]]), ("status", [plans[0]]),
                       ("rollup", [root]), ("audit", [root])):
        for p in plans[1:] if verb == "decide" else []:
            _invoke("decide", p)
        count_scans.clear()
        _invoke(verb, *args)
        counts[verb] = list(count_scans)
    assert counts["decide"] == ["e0"]
    assert counts["report"] == ["e0"]
    assert counts["status"] == ["e0"]
    assert sorted(counts["rollup"]) == ["e0", "e1", "e2"]  # one per experiment
    assert sorted(counts["audit"]) == ["e0", "e1", "e2"]


def test_import_decide_loads_no_executor():
    code = ("import sys, exante.decide; "
            "bad = sorted(m for m in sys.modules if m.startswith('exante.executors') "
            "or m in ('exante.runner', 'exante.trials', 'ray', 'submitit')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
