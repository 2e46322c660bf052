"""A primary metric registered on the test split stays blind until the registered sweep ends.

Before that, progress lines, `exante status`, `exante log` and `--json` show the
validation metric and no test number; `exante decide` refuses. The first decide
after the sweep records TEST_UNBLINDED: the ledger says when test numbers were
first shown.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from exante import registration, runner
from exante.decide import decide
from exante.history import History
from exante.progress import LineProgress

# test values end in ...0123 so that no validation number can be mistaken for one
TRIAL = """\
VAL = {1: 0.011, 2: -0.021, 3: 0.005}


def train(params, seed, ctx):
    return {"test_score": 0.5 + 0.1 * params["x"] + 0.0123 * seed,
            "val_score": 0.6 + 0.1 * params["x"] + VAL[seed]}
"""

PLAN = """\
experiment_id: {name}
hypothesis: x = 1 raises the test score.
metrics:
  primary: {{name: test_score, direction: higher, split: test}}
  secondary: [{{name: val_score, direction: higher, split: validation}}]
design:
  baseline: {{x: 0}}
  arms: {{treated: {{x: 1}}}}
  seeds: [1, 2, 3]
trial: {{python: {module}:train}}
decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean"}}
sha256: ""
"""

TEST_NUMBERS = ("0.5123", "0.5246", "0.5369", "0.6123", "0.6246", "0.6369")


def make(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "experiments" / name
    folder.mkdir(parents=True)
    module = f"trial_blind_{name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TRIAL)
    path = folder / "prereg.yaml"
    path.write_text(PLAN.format(name=name, module=module))
    registration.lock(path)
    return path


def no_test_numbers(text: str) -> bool:
    return not any(n in text for n in TEST_NUMBERS) and "test_score=" not in text


def test_before_the_sweep_is_complete_only_the_validation_metric_is_shown(tmp_path, cli):
    plan = make(tmp_path, "blind-partial")
    lines = io.StringIO()
    runner.run(plan, runner.RunOptions(executor="inline", max_runs=3),
               progress=LineProgress(lines))
    assert "val_score=" in lines.getvalue() and no_test_numbers(lines.getvalue())

    st = cli("status", str(plan))
    assert st.exit_code == 0
    assert "test_score is blind until the registered sweep is complete (3/6 runs); showing " \
           "val_score" in st.stdout
    assert "val_score mean" in st.stdout and no_test_numbers(st.stdout)
    data = json.loads(cli("status", str(plan), "--json").stdout)
    assert data["blind"]["active"] is True and data["interim"]["metric"] == "val_score"
    assert no_test_numbers(json.dumps(data))

    log = cli("log", str(plan))
    assert "val_score=" in log.stdout and no_test_numbers(log.stdout)
    assert "test_score is blind" in log.stdout
    records = json.loads(cli("log", str(plan), "--json").stdout)["records"]
    ok = [r for r in records if r["event"] == "RUN_OK"]
    assert len(ok) == 3 and all(r["data"]["metrics"]["test_score"] == "blind" for r in ok)
    assert all(next(iter(r["data"]["metrics"])) == "val_score" for r in ok)

    res = cli("decide", str(plan))
    assert res.exit_code == 1 and "stays blind" in res.stderr and "3 of 6" in res.stderr
    assert no_test_numbers(res.stdout + res.stderr)
    assert not (plan.parent / "result.json").exists()
    assert History.read(plan.parent / "ledger.jsonl").first("TEST_UNBLINDED") is None


def test_the_first_decide_after_the_sweep_records_when_test_numbers_were_shown(tmp_path, cli):
    plan = make(tmp_path, "blind-complete")
    runner.run(plan, runner.RunOptions(executor="inline"))
    result = decide(plan)
    history = History.read(plan.parent / "ledger.jsonl")
    unblinded = history.of("TEST_UNBLINDED")
    assert len(unblinded) == 1
    record = unblinded[0]
    assert record.data["metrics"] == ["test_score"] and record.data["runs"] == 6
    assert record.data["plan_sha256"] == history.sealed_hash
    decided = history.first("DECIDED")
    finished = history.last("SWEEP_FINISHED")
    assert finished.seq < record.seq < decided.seq  # after the sweep, before the result
    assert result["unblinded"]["seq"] == record.seq and result["unblinded"]["ts"] == record.ts
    again = decide(plan)
    history = History.read(plan.parent / "ledger.jsonl")
    assert len(history.of("TEST_UNBLINDED")) == 1 and again["unblinded"]["seq"] == record.seq
    assert cli("report", str(plan)).exit_code == 0  # the result still belongs to the ledger
    log = cli("log", str(plan))
    assert "test_score=" in log.stdout and "is blind" not in log.stdout
    status = json.loads(cli("status", str(plan), "--json").stdout)
    assert status["blind"]["active"] is False and status["interim"] is None


@pytest.mark.filterwarnings(  # MLflow's own SQLAlchemy use; as in test_interop_mlflow.py
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")
def test_export_and_mlflow_wait_for_the_sweep_too(tmp_path, cli):
    plan = make(tmp_path, "blind-export")
    runner.run(plan, runner.RunOptions(executor="inline", max_runs=2))
    out = tmp_path / "runs.csv"
    assert cli("export", str(plan), "--out", str(out)).exit_code == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "val_score" in header and "test_score" not in header
    assert no_test_numbers(out.read_text())
    pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = cli("run", str(plan), "--executor", "inline", "--max-runs", "1", "--quiet",
              "--log-to", f"mlflow:{store}")
    assert res.exit_code == 0 and "nothing logged: test_score is blind" in res.stderr
    res = cli("run", str(plan), "--executor", "inline", "--quiet", "--log-to", f"mlflow:{store}")
    assert res.exit_code == 0 and "logged 6 run(s)" in res.stderr
    cli("export", str(plan), "--out", str(out))
    assert "test_score" in out.read_text().splitlines()[0]
