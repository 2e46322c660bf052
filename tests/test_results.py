"""The typed result and the one reader of result.json: old files still read, unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exante.results import Caveat, Result, ResultError, read_result
from exante.verdicts import Verdict

ROOT = Path(__file__).resolve().parent.parent
OLD = sorted([*ROOT.glob("tests/fixtures/registry/*/result.json"),
              *ROOT.glob("examples/seed003/experiments/*/result.json")])


@pytest.mark.parametrize("path", OLD, ids=lambda p: p.parent.name)
def test_old_result_files_read_and_round_trip(path):
    raw = json.loads(path.read_text())
    result = read_result(path.parent)
    assert result.to_dict() == raw  # every key kept, nothing renamed
    assert list(result.to_dict()) == list(raw)  # in the same order
    assert result.verdict == raw["verdict"] and isinstance(result.verdict, Verdict)
    assert result.plan_sha256 == raw["plan_sha256"] and result["ledger_head"] == raw["ledger_head"]
    assert [c.name for c in result.cells] == [c["name"] for c in raw["cells"]]
    assert [c.code for c in result.caveats] == [c["code"] for c in raw["caveats"]]
    assert all(c.to_dict() == r for c, r in zip(result.comparisons, raw["comparisons"]))


def test_the_reader_refuses_what_a_report_cannot_use(tmp_path):
    with pytest.raises(ResultError, match="no result yet"):
        read_result(tmp_path)
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(ResultError, match="not a readable result file"):
        read_result(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps({"schema": 2, "verdict": "PASS"}))
    with pytest.raises(ResultError, match='expected a result with "schema": 1'):
        read_result(tmp_path)
    assert read_result(tmp_path, strict=False).verdict is Verdict.PASS  # the catalogue's view
    (tmp_path / "result.json").write_text(json.dumps({"schema": 1, "verdict": "PASS"}))
    with pytest.raises(ResultError, match="missing 'plan_sha256'"):
        read_result(tmp_path)


def test_records_from_dict_to_dict():
    c = Caveat.from_dict({"code": "LOW_POWER", "message": "only 3 runs"})
    assert (c.code, c.message) == ("LOW_POWER", "only 3 runs")
    assert c.to_dict() == {"code": "LOW_POWER", "message": "only 3 runs"}
    r = Result.from_dict({"schema": 1, "plan_sha256": "a", "verdict": "TOY", "cells": []})
    assert r.verdict == "TOY"  # a plug-in family's own verdict stays a string


def test_the_module_does_not_shadow_the_public_exante_result():
    import exante
    import exante.results  # noqa: F401

    assert callable(exante.result)  # the API's exante.result(ID), not a module


def test_what_only_json_reads_still_reads(tmp_path):
    """result.json is read with orjson; json.dumps's NaN/Infinity tokens and integers past
    64 bits (which orjson refuses) fall back to json, with the same values."""
    path = OLD[0]
    raw = json.loads(path.read_text())
    raw["extra"] = {"nan": float("nan"), "inf": float("inf"), "big": 2 ** 70}
    (tmp_path / "result.json").write_text(json.dumps(raw))
    result = read_result(tmp_path)
    assert result["extra"]["big"] == 2 ** 70 and result["extra"]["inf"] == float("inf")
    assert result["extra"]["nan"] != result["extra"]["nan"]
    (tmp_path / "result.json").write_bytes(b"\xff not utf-8")
    with pytest.raises(ResultError, match="not a readable result file"):
        read_result(tmp_path)
