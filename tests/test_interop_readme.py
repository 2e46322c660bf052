"""The README's interop examples, executed as written: the worked retrospective analysis
(CLI, from a CSV of someone else's runs) and the notebook-style Python API."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def block(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", text, re.S)
    assert m, f"README has no example {name!r}"
    return m.group(1)


def exante(cwd: Path, line: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exante", *shlex.split(line)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_worked_retrospective_example(tmp_path):
    (tmp_path / "sweep.csv").write_text(block("retro-csv"))
    plan = tmp_path / "experiments" / "cosine-retro" / "prereg.yaml"
    plan.parent.mkdir(parents=True)
    plan.write_text(block("retro-plan"))
    outputs = []
    for line in block("retro-commands").splitlines():
        assert line.startswith("exante ")
        proc = exante(tmp_path, line.removeprefix("exante "))
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        outputs.append(proc.stdout)
    lock, imp, decide, report, rollup, audit = outputs
    assert "imported 10 run(s) (after the lock): this experiment is now a RETROSPECTIVE" in imp
    assert "cosine-retro: PASS — RETROSPECTIVE, not pre-registered" in decide
    assert decide.splitlines()[2].startswith("  caveat RETROSPECTIVE:")
    result = json.loads((plan.parent / "result.json").read_text())
    assert result["verdict"] == "PASS" and result["retrospective"]["runs"] == 10
    assert result["caveats"][0]["code"] == "RETROSPECTIVE"
    md = (plan.parent / "report.md").read_text()
    assert md.splitlines()[2].startswith("**RETROSPECTIVE** Not pre-registered")
    assert "Pre-registered plan" not in md
    assert "PASS — RETROSPECTIVE" in (tmp_path / "experiments" / "SUMMARY.md").read_text()
    assert re.search(r"result-lock\s+warn\s+RETROSPECTIVE", audit)
    assert re.search(r"retrospective\s+warn\s+RETROSPECTIVE", audit)
    assert "before every run" not in audit


TRIAL = """\
def train(params, seed, ctx):
    return {"score": 0.5 + 0.1 * (params["width"] == 256) + 0.001 * seed}
"""

PLAN = """\
experiment_id: wide
hypothesis: Width 256 scores higher than width 64.
metrics: {primary: {name: score, direction: higher}}
design:
  baseline: {width: 64}
  arms: {wide: {width: 256}}
  seeds: [1, 2, 3]
trial: {python: "readme_trial:train"}
decision: {rule: threshold, acceptance: "experiment.mean > baseline.mean"}
sha256: ""
"""


def test_the_notebook_example(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    folder = tmp_path / "experiments" / "wide"
    folder.mkdir(parents=True)
    (folder / "readme_trial.py").write_text(TRIAL)
    (folder / "prereg.yaml").write_text(PLAN)
    monkeypatch.chdir(tmp_path)
    exec(compile(block("notebook"), "README.md:notebook", "exec"), {})
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("PASS ")
    assert "arm" not in out.splitlines()[0]
    assert re.search(r"wide\s+0\.602\d*\s+0\.001\d*\s+3", out)
    assert "FAIL" not in out.splitlines()[-1]

    import pandas as pd

    df = pd.read_parquet(folder / "runs.parquet")
    assert len(df) == 6 and set(df["status"]) == {"ok"}
    assert sorted(df.loc[df["cell"] == "wide", "seed"]) == [1, 2, 3]
    assert (folder / "report.md").is_file() and (tmp_path / "experiments" / "SUMMARY.md").is_file()
