"""`exante import` from CSV / JSON lines: pilots before the lock, RETROSPECTIVE after it.

The retrospective label must reach every output (result.json, report, SUMMARY,
audit) and must not be removable by editing result.json.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from exante import ledger as L
from exante import registration
from exante.decide import decide
from exante.registry.audit import audit
from exante.registry.rollup import rollup
from exante.report import render_report

PLAN = """\
experiment_id: {id}
hypothesis: Wider layers raise validation accuracy over width 64.
metrics: {{primary: {{name: val_acc, direction: higher}}}}
design:
  baseline: {{width: 64}}
  arms: {{wide: {{width: 256}}}}
  fixed: {{lr: 0.001}}
  seeds: [1, 2, 3]
decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean"}}
sha256: ""
"""

CSV = """\
model_width,run_seed,acc,lr,notes
64,1,0.801,0.001,first
64,2,0.795,0.001,
64,3,0.806,0.001,
256,1,0.842,0.001,
256,2,0.851,0.001,
256,3,0.838,0.001,late
"""


def plan(root: Path, eid: str = "wide") -> Path:
    folder = root / eid
    folder.mkdir(parents=True)
    path = folder / "prereg.yaml"
    path.write_text(PLAN.format(id=eid))
    return path


def test_csv_import_after_the_lock_is_retrospective_in_every_output(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    (tmp_path / "theirs.csv").write_text(CSV)
    registration.lock(p)
    res = cli("import", tmp_path / "theirs.csv", "--into", "wide", "--root", root,
              "--param", "width=model_width", "--seed", "run_seed", "--metric", "val_acc=acc",
              "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["schema"] == "exante.import/1" and out["mode"] == "retrospective"
    assert out["imported"] == 6 and out["unmatched"] == 0

    records = L.Ledger(p.parent / "ledger.jsonl").records()
    imported = [r for r in records if r["event"] == "IMPORTED"]
    assert len(imported) == 1 and imported[0]["data"]["source_sha256"]
    oks = [r["data"] for r in records if r["event"] == "RUN_OK"]
    assert {d["run_id"] for d in oks} == {"baseline__baseline__s1", "baseline__baseline__s2",
                                          "baseline__baseline__s3", "arm__wide__s1",
                                          "arm__wide__s2", "arm__wide__s3"}
    assert all(d["imported"]["mode"] == "retrospective" for d in oks)
    assert {d["imported"]["ref"] for d in oks} == {f"theirs.csv:{i}" for i in range(2, 8)}

    result = decide(p)
    assert result["verdict"] == "PASS"
    assert result["retrospective"]["runs"] == 6
    assert result["caveats"][0]["code"] == "RETROSPECTIVE"
    assert json.loads((p.parent / "result.json").read_text())["retrospective"]["runs"] == 6

    render_report(p)
    md = (p.parent / "report.md").read_text()
    assert "RETROSPECTIVE" in md.split("\n## ")[0]  # before the first section, beside the verdict
    assert "not pre-registered" in md
    assert "RETROSPECTIVE" in (p.parent / "report.html").read_text()

    rollup(root)
    summary = (root / "SUMMARY.md").read_text()
    assert "PASS — RETROSPECTIVE" in summary
    entry = json.loads((root / "SUMMARY.json").read_text())
    assert "RETROSPECTIVE" in json.dumps(entry)

    rows = audit(root)
    lock_rows = [r for r in rows if r.check == "result-lock"]
    assert lock_rows and all("before every run" not in r.detail for r in lock_rows)
    assert any(r.status == "warn" and r.detail.startswith("RETROSPECTIVE") for r in lock_rows)
    assert any(r.check == "retrospective" and r.status == "warn" for r in rows)
    res = cli("audit", root)
    assert res.exit_code == 0 and "RETROSPECTIVE" in res.output


def test_dropping_the_label_from_result_json_is_an_audit_finding(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    (tmp_path / "theirs.csv").write_text(CSV)
    registration.lock(p)
    assert cli("import", tmp_path / "theirs.csv", "--into", "wide", "--root", root, "--param",
               "width=model_width", "--seed", "run_seed", "--metric", "val_acc=acc"
               ).exit_code == 0
    decide(p)
    path = p.parent / "result.json"
    result = json.loads(path.read_text())
    result["retrospective"] = None
    result["caveats"] = [c for c in result["caveats"] if c["code"] != "RETROSPECTIVE"]
    path.write_text(json.dumps(result))
    rows = audit(root)
    assert any(r.check == "retrospective" and r.status == "FAIL" for r in rows)
    assert cli("audit", root).exit_code == 1
    rollup(root)  # the catalogue reads the label from the ledger, not the edited file
    assert "RETROSPECTIVE" in (root / "SUMMARY.md").read_text()


def test_an_ordinary_run_says_locked_before_every_run(tmp_path, make_plan):
    from exante import runner

    p = make_plan("plain")
    registration.lock(p)
    runner.run(p, runner.RunOptions(executor="inline"))
    result = decide(p)
    assert result["retrospective"] is None
    assert not any(c["code"] == "RETROSPECTIVE" for c in result["caveats"])
    rows = audit(p.parent.parent)
    assert any(r.check == "result-lock" and "before every run" in r.detail for r in rows)
    assert not any(r.check == "retrospective" for r in rows)


def test_jsonl_import_with_nested_config_and_default_names(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    registration.lock(p)
    lines = [{"config": {"width": w}, "seed": s, "val_acc": 0.8 + 0.01 * s + (w == 256) * 0.05}
             for w in (64, 256) for s in (1, 2, 3)]
    lines[-1]["val_acc"] = None  # a run that produced nothing: a failed run, not a dropped one
    src = tmp_path / "runs.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = cli("import", src, "--into", p, "--param", "width=config.width")
    assert res.exit_code == 0, res.output
    assert "RETROSPECTIVE" in res.output
    records = L.Ledger(p.parent / "ledger.jsonl").records()
    failed = [r["data"] for r in records if r["event"] == "RUN_FAILED"]
    assert [f["run_id"] for f in failed] == ["arm__wide__s3"]
    assert failed[0]["error_kind"] == "missing_metric"


def test_refusals_name_the_row_and_overwrite_nothing(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    registration.lock(p)
    src = tmp_path / "theirs.csv"
    src.write_text(CSV + "128,1,0.9,0.001,\n")  # width 128 is not registered
    args = ["--into", "wide", "--root", root, "--param", "width=model_width", "--seed",
            "run_seed", "--metric", "val_acc=acc"]
    res = cli("import", src, *args)
    assert res.exit_code == 2 and "theirs.csv:8" in res.stderr and "--allow-unmatched" in res.stderr
    before = (p.parent / "ledger.jsonl").read_bytes()
    assert b"IMPORTED" not in before  # nothing written by a refused import

    res = cli("import", src, *args, "--allow-unmatched", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["unmatched"] == 1
    res = cli("import", src, *args, "--allow-unmatched")  # the same runs again
    assert res.exit_code == 1 and "already has a result" in res.stderr

    other = tmp_path / "lr.csv"  # a fixed parameter the source records must agree
    other.write_text("model_width,run_seed,acc,lr\n64,1,0.8,0.1\n")
    res = cli("import", other, "--into", "wide", "--root", root, "--param", "width=model_width",
              "--seed", "run_seed", "--metric", "val_acc=acc")
    assert res.exit_code == 2 and "match no registered run" in res.stderr

    res = cli("import", src, "--into", "wide", "--root", root, "--param", "depth=model_width")
    assert res.exit_code == 2 and "no parameter 'depth'" in res.stderr
    res = cli("import", src, "--into", "wide", "--root", root, "--as", "pilot")
    assert res.exit_code == 1 and "locked" in res.stderr


def test_pilots_before_the_lock_are_pilot_records_on_other_seeds(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    src = tmp_path / "pilot.csv"
    src.write_text("width,seed,val_acc\n64,101,0.80\n64,102,0.81\n256,101,0.84\n")
    res = cli("import", src, "--into", "wide", "--root", root, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["mode"] == "pilot"
    records = L.Ledger(p.parent / "ledger.jsonl").records()
    pilots = [r["data"] for r in records if r["event"] == "PILOT"]
    assert [(d["cell"], d["seed"]) for d in pilots] == [("baseline", 101), ("baseline", 102),
                                                      ("wide", 101)]
    assert not any(r["event"] in ("RUN_OK", "RUN_FAILED") for r in records)
    registration.lock(p)  # pilots do not count as runs before the lock
    assert not any(r.status == "FAIL" for r in audit(root))

    clash = tmp_path / "clash.csv"
    clash.write_text("width,seed,val_acc\n64,2,0.80\n")
    q = plan(root, "wide2")
    res = cli("import", clash, "--into", "wide2", "--root", root)
    assert res.exit_code == 1 and "registered seeds" in res.stderr
    res = cli("import", clash, "--into", "wide2", "--root", root, "--as", "retrospective")
    assert res.exit_code == 1 and "not locked" in res.stderr
    assert not (q.parent / "ledger.jsonl").exists()


def test_a_plan_without_a_trial_counts_its_imported_runs(tmp_path, cli):
    root = tmp_path / "experiments"
    p = plan(root)
    (tmp_path / "theirs.csv").write_text(CSV)
    registration.lock(p)
    cli("import", tmp_path / "theirs.csv", "--into", "wide", "--root", root, "--param",
        "width=model_width", "--seed", "run_seed", "--metric", "val_acc=acc")
    flow = decide(p)["flow"]
    assert (flow["planned"], flow["ok"], flow["not_run"]) == (6, 6, 0)
    res = cli("status", p, "--json")
    assert json.loads(res.stdout)["completed"] == 6
