"""The runs table: `exante export --format csv|parquet|jsonl` and `exante.runs(ID)`."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

import exante
from exante import registration, runner
from exante.errors import MissingDependencyError


def finished(make_plan):
    plan = make_plan("tab")
    registration.lock(plan)
    runner.run(plan, runner.RunOptions(executor="inline"))
    return plan


def test_export_every_format_has_one_row_per_run(make_plan, cli, tmp_path):
    plan = finished(make_plan)
    rows = {}
    for fmt in ("csv", "jsonl", "parquet"):
        res = cli("export", plan, "--format", fmt, "--json")
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["schema"] == "exante.export/1" and out["runs"] == 6
        rows[fmt] = out["path"]
    with open(rows["csv"], newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["run_id"] for r in table][:3] == ["baseline__baseline__s1", "baseline__baseline__s2",
                                                "baseline__baseline__s3"]
    first = table[0]
    assert (first["cell"], first["role"], first["seed"], first["status"], first["x"]) == (
        "baseline", "baseline", "1", "ok", "0")
    assert float(first["score"]) == pytest.approx(0.01)
    lines = [json.loads(x) for x in Path(rows["jsonl"]).read_text().splitlines()]
    assert [x["score"] for x in lines] == [pytest.approx(float(r["score"])) for r in table]
    pq = pytest.importorskip("pyarrow.parquet")
    t = pq.read_table(rows["parquet"]).to_pylist()
    assert [r["run_id"] for r in t] == [r["run_id"] for r in table]
    assert t[3]["x"] == 1 and t[3]["score"] == pytest.approx(1.01)


def test_runs_frame_has_params_metrics_and_pilots(make_plan, cli, tmp_path):
    pd = pytest.importorskip("pandas")
    plan = make_plan("fr")
    src = tmp_path / "pilot.csv"
    src.write_text("x,seed,score\n0,11,0.1\n1,11,1.1\n")
    assert cli("import", src, "--into", plan).exit_code == 0  # pilots, before the lock
    registration.lock(plan)
    runner.run(plan, runner.RunOptions(executor="inline"))
    df = exante.runs(plan)
    assert isinstance(df, pd.DataFrame) and len(df) == 8
    assert list(df.columns[:9]) == ["run_id", "cell", "role", "stage", "seed", "status",
                                    "error_kind", "wall_s", "imported"]
    pilots = df[df["status"] == "pilot"]
    assert list(pilots["seed"]) == [11, 11] and list(pilots["imported"]) == ["%s" % src] * 2
    ok = df[df["status"] == "ok"]
    assert ok.groupby("cell")["score"].mean().to_dict() == pytest.approx(
        {"baseline": 0.02, "treated": 1.02})


def test_a_missing_extra_is_named(make_plan, monkeypatch):
    plan = finished(make_plan)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"exante\[interop\]"):
        exante.runs(plan)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    from exante.interop.sources import read_source

    with pytest.raises(MissingDependencyError, match=r"exante\[mlflow\]"):
        read_source("mlflow:sqlite:///x.db", experiment=["e"])
