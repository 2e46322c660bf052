"""Issue 13: the worked bet suite under examples/bets runs end to end and matches its record.

The suite is copied (modules, harness, runner only) into a fresh project, unsealed, locked,
run (bets 01 and 03 with seed 001's `python -m examples.bets.NN`, 02 and 04 with `exante
run`), rolled up and audited. The regenerated SUMMARY.md must be byte for byte the one
committed in examples/bets/: the verdicts come from real computation, through the ledgers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "examples" / "bets"


def test_the_example_suite_runs_end_to_end_and_regenerates_its_summary(tmp_path):
    folder = tmp_path / "examples" / "bets"
    folder.mkdir(parents=True)
    for path in SUITE.glob("*.py"):
        shutil.copy(path, folder / path.name)
    done = subprocess.run([sys.executable, str(folder / "run_suite.py"), str(folder), "--fresh"],
                          cwd=tmp_path, text=True, capture_output=True, timeout=300,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit: 4 experiment(s), 0 failure(s)" in done.stdout
    assert (folder / "SUMMARY.md").read_text() == (SUITE / "SUMMARY.md").read_text()

    summary = json.loads((folder / "SUMMARY.json").read_text())
    verdicts = {b["id"]: b["verdict"] for b in summary["bets"]}
    assert verdicts == {"01_ridge_beats_mean": "STRICT",
                        "02_nuisance_features": "RETRACTED (was STRICT)",
                        "03_nuisance_features_heldout": "FAIL",
                        "04_selected_features": "INCONCLUSIVE"}
    via = {b["id"]: b["runs"][0]["via"] for b in summary["bets"]}
    assert via["01_ridge_beats_mean"] == "python -m" and via["02_nuisance_features"] == "exante run"

    rerun = subprocess.run([sys.executable, "-m", "examples.bets.01_ridge_beats_mean"],
                           cwd=tmp_path, text=True, capture_output=True, timeout=120,
                           env={"PATH": str(Path(sys.executable).parent),
                                "PYTHONPATH": str(ROOT / "src")})
    assert rerun.returncode == 1 and "Refusing to run again" in rerun.stderr


def test_the_committed_suite_audits_clean():
    from exante.registry import audit

    rows = audit(SUITE)
    assert [r for r in rows if r.status == "FAIL"] == []
    assert {r.experiment for r in rows} == {"01_ridge_beats_mean", "02_nuisance_features",
                                            "03_nuisance_features_heldout",
                                            "04_selected_features"}
