"""W&B: offline run folders written by `wandb` itself (offline mode, no network), and a
project's exported CSV, imported into a sealed plan as a retrospective analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exante import ledger as L
from exante import registration

wandb = pytest.importorskip("wandb")
pytestmark = pytest.mark.slow

PLAN = """\
experiment_id: wb
hypothesis: Wider layers raise validation accuracy over width 64.
metrics: {primary: {name: val_acc, direction: higher}}
design:
  baseline: {width: 64}
  arms: {wide: {width: 256}}
  seeds: [1, 2]
decision: {rule: threshold, acceptance: "experiment.mean > baseline.mean"}
sha256: ""
"""


def write_offline_runs(folder: Path, monkeypatch) -> list[str]:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(folder))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(folder / ".config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(folder / ".cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(folder / ".data"))
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    ids = []
    for width in (64, 256):
        for seed in (1, 2):
            run = wandb.init(project="their-sweep", dir=str(folder), mode="offline",
                             config={"model": {"width": width}, "seed": seed}, reinit="finish_previous")
            for step in range(3):  # the summary keeps the last logged value
                run.log({"val/acc": 0.5 + step * 0.1 + width / 10000 + seed / 1000})
            run.summary["best"] = 1.0
            ids.append(run.id)
            run.finish()
    return ids


def test_offline_runs_written_by_wandb_are_imported(tmp_path, monkeypatch, cli):
    ids = write_offline_runs(tmp_path / "theirs", monkeypatch)
    runs = sorted((tmp_path / "theirs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 4 and all(list(r.glob("run-*.wandb")) for r in runs)

    root = tmp_path / "experiments"
    (root / "wb").mkdir(parents=True)
    plan = root / "wb" / "prereg.yaml"
    plan.write_text(PLAN)
    registration.lock(plan)
    res = cli("import", tmp_path / "theirs" / "wandb", "--into", "wb", "--root", root,
              "--param", "width=model.width", "--metric", "val_acc=val/acc", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["format"], out["imported"], out["mode"]) == ("wandb-offline", 4, "retrospective")
    records = L.Ledger(plan.parent / "ledger.jsonl").records()
    ok = {r["data"]["run_id"]: r["data"] for r in records if r["event"] == "RUN_OK"}
    assert ok["arm__wide__s2"]["metrics"]["val_acc"] == pytest.approx(0.7 + 0.0256 + 0.002)
    assert {d["imported"]["ref"] for d in ok.values()} == {f"wandb:{i}" for i in ids}

    res = cli("import", runs[0], "--into", "wb", "--root", root, "--param",
              "width=model.width", "--metric", "val_acc=val/acc")
    assert res.exit_code == 1 and "already has a result" in res.stderr  # nothing overwritten

    (root / "wb2").mkdir()  # one offline-run folder on its own; a dry run records nothing
    plan2 = root / "wb2" / "prereg.yaml"
    plan2.write_text(PLAN.replace("experiment_id: wb", "experiment_id: wb2"))
    registration.lock(plan2)
    before = (plan2.parent / "ledger.jsonl").read_bytes()
    res = cli("import", runs[0], "--into", "wb2", "--root", root, "--param",
              "width=model.width", "--metric", "val_acc=val/acc", "--dry-run")
    assert res.exit_code == 0 and "would import 1 run(s)" in res.output
    assert (plan2.parent / "ledger.jsonl").read_bytes() == before


def test_a_wandb_project_csv_export(tmp_path, cli):
    root = tmp_path / "experiments"
    (root / "wb").mkdir(parents=True)
    plan = root / "wb" / "prereg.yaml"
    plan.write_text(PLAN)
    registration.lock(plan)
    export = tmp_path / "wandb_export_2026-11-30.csv"
    export.write_text(
        '"Name","State","Notes","User","Tags","Created","Runtime","Sweep","model.width",'
        '"seed","val/acc","_step"\n'
        '"fresh-sun-1","finished","-","ann","","2026-11-30T10:00:00.000Z","61","",64,1,0.801,2\n'
        '"calm-sea-2","finished","-","ann","","2026-11-30T10:02:00.000Z","60","",64,2,0.795,2\n'
        '"bold-sky-3","finished","-","ann","","2026-11-30T10:04:00.000Z","63","",256,1,0.842,2\n'
        '"wild-oak-4","crashed","-","ann","","2026-11-30T10:06:00.000Z","12","",256,2,,0\n')
    res = cli("import", export, "--into", "wb", "--root", root, "--param", "width=model.width",
              "--metric", "val_acc=val/acc")
    assert res.exit_code == 0, res.output
    assert "imported 4 run(s)" in res.output and "1 without a usable metric" in res.output
    records = L.Ledger(plan.parent / "ledger.jsonl").records()
    assert [r["data"]["run_id"] for r in records if r["event"] == "RUN_FAILED"] == [
        "arm__wide__s2"]
