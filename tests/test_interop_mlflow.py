"""MLflow both ways, against a real SQLite tracking store written and read by `mlflow` itself.

- `exante import mlflow:URI --experiment NAME` reads runs that MLflow logged;
- `exante run PLAN --log-to mlflow:URI` (and `decide`/`report --log-to`) mirror the
  ledger into MLflow: nested runs, params, metrics, stdout/stderr, tags; read back
  through MlflowClient.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exante import ledger as L
from exante import registration

mlflow = pytest.importorskip("mlflow")
pytestmark = [pytest.mark.slow,
              # sqlalchemy (under mlflow's SQL store) deprecates a loader mlflow still uses
              pytest.mark.filterwarnings(
                  "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")]

SCRIPT = """\
import sys
width, seed = int(sys.argv[1]), int(sys.argv[2])
print(f"training width={width} seed={seed}")
print(f"warming up", file=sys.stderr)
print(f"val_acc={0.8 + width / 10000 + seed / 1000}")
"""

PLAN = """\
experiment_id: {id}
hypothesis: Wider layers raise validation accuracy over width 64.
metrics: {{primary: {{name: val_acc, direction: higher}}}}
design:
  baseline: {{width: 64}}
  arms: {{wide: {{width: 256}}}}
  seeds: [1, 2, 3]
{trial}decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean"}}
sha256: ""
"""

TRIAL = """\
trial:
  command: "python train.py {width} {seed}"
  metrics_regex: {val_acc: "val_acc=([0-9.]+)"}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{folder / 'mlflow.db'}"


def write_plan(root: Path, eid: str, trial: str = "") -> Path:
    folder = root / eid
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(SCRIPT)
    path = folder / "prereg.yaml"
    path.write_text(PLAN.format(id=eid, trial=trial))
    return path


def test_runs_logged_by_mlflow_import_as_a_retrospective(tmp_path, store, cli):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    exp = client.create_experiment("their-sweep",
                                   artifact_location=(tmp_path / "art").as_uri())
    ids = []
    for width in (64, 256):
        for seed in (1, 2, 3):
            run = client.create_run(exp, run_name=f"w{width}-s{seed}")
            client.log_param(run.info.run_id, "model.width", width)
            client.log_param(run.info.run_id, "seed", seed)
            client.log_metric(run.info.run_id, "val/acc", 0.8 + width / 10000 + seed / 1000)
            client.set_terminated(run.info.run_id)
            ids.append(run.info.run_id)
    unfinished = client.create_run(exp)  # still running: not a result, not imported
    assert unfinished.info.status == "RUNNING"

    root = tmp_path / "experiments"
    plan = write_plan(root, "retro")
    registration.lock(plan)
    res = cli("import", f"mlflow:{store}", "--experiment", "their-sweep", "--into", "retro",
              "--root", root, "--param", "width=model.width", "--metric", "val_acc=val/acc",
              "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["mode"], out["imported"], out["format"]) == ("retrospective", 6, "mlflow")
    records = L.Ledger(plan.parent / "ledger.jsonl").records()
    refs = {r["data"]["imported"]["ref"] for r in records if r["event"] == "RUN_OK"}
    assert refs == {f"mlflow:{i}" for i in ids}
    started = [r["data"]["imported"]["started"] for r in records if r["event"] == "RUN_OK"]
    assert all(s and s.startswith("20") for s in started)

    # by run id, into a second plan: only the three baseline runs
    plan2 = write_plan(root, "retro2")
    registration.lock(plan2)
    res = cli("import", f"mlflow:{store}", *sum((["--run-id", i] for i in ids[:3]), []),
              "--into", plan2, "--param", "width=model.width", "--metric", "val_acc=val/acc")
    assert res.exit_code == 0, res.output
    assert "imported 3 run(s)" in res.output
    res = cli("import", f"mlflow:{store}", "--experiment", "nope", "--into", plan2)
    assert res.exit_code == 2 and "no experiment 'nope'" in res.stderr


def test_run_log_to_mlflow_reads_back_through_the_client(tmp_path, store, cli):
    from mlflow.tracking import MlflowClient

    root = tmp_path / "experiments"
    plan = write_plan(root, "logged", TRIAL)
    registration.lock(plan)
    res = cli("run", plan, "--executor", "inline", "--quiet", "--max-runs", "4",
              "--log-to", f"mlflow:{store}")
    assert res.exit_code == 0, res.output
    assert "mlflow: logged 4 run(s)" in res.stderr
    res = cli("run", plan, "--executor", "inline", "--quiet", "--log-to", f"mlflow:{store}")
    assert "mlflow: logged 2 run(s) (4 already there)" in res.stderr  # resumed: no duplicates
    assert cli("decide", plan, "--log-to", f"mlflow:{store}").exit_code == 0
    assert cli("report", plan, "--root", root, "--log-to", f"mlflow:{store}").exit_code == 0

    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("logged")
    digest = registration.state(plan).sealed_hash
    parents = client.search_runs([exp.experiment_id], "tags.`exante.kind` = 'experiment'")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.data.tags["exante.plan_sha256"] == digest
    assert parent.data.tags["exante.verdict"] == "PASS"
    result = json.loads((plan.parent / "result.json").read_text())
    assert parent.data.tags["exante.result_ledger_head"] == result["ledger_head"]
    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"prereg.yaml", "result.json", "report"} <= top
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "report")} >= {
        "report/report.md", "report/report.html"}

    children = client.search_runs(
        [exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 6
    records = {r["data"]["run_id"]: r for r in L.Ledger(plan.parent / "ledger.jsonl").records()
               if r["event"] == "RUN_OK"}
    for child in children:
        tags = child.data.tags
        rec = records[tags["exante.run_id"]]
        assert tags["exante.plan_sha256"] == digest
        assert (tags["exante.cell"], tags["exante.seed"], tags["exante.role"]) == (
            rec["data"]["cell"], str(rec["data"]["seed"]), rec["data"]["role"])
        assert tags["exante.ledger_hash"] == rec["hash"]
        assert child.data.params == {"width": str(rec["data"]["params"]["width"]),
                                     "seed": str(rec["data"]["seed"])}
        assert child.data.metrics["val_acc"] == pytest.approx(rec["data"]["metrics"]["val_acc"])
        assert child.info.status == "FINISHED"
        arts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert arts == {"stdout.log", "stderr.log"}
    one = children[0]
    local = mlflow.artifacts.download_artifacts(run_id=one.info.run_id, artifact_path="stdout.log",
                                                dst_path=str(tmp_path / "dl"),
                                                tracking_uri=store)
    assert "training width=" in Path(local).read_text()


def test_log_to_needs_mlflow_scheme(tmp_path, cli, make_plan):
    plan = make_plan("x")
    registration.lock(plan)
    res = cli("run", plan, "--executor", "inline", "--log-to", "wandb")
    assert res.exit_code == 2 and "expected mlflow or mlflow:URI" in res.stderr
    assert not any(r["event"] == "SWEEP_STARTED"
                   for r in L.Ledger(plan.parent / "ledger.jsonl").records())


def test_bare_mlflow_logs_to_a_store_beside_the_registry(tmp_path, cli, make_plan, monkeypatch):
    """MLflow 3 refuses its old ./mlruns file store: bare `mlflow` must still just work."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    plan = make_plan("bare")
    registration.lock(plan)
    res = cli("run", plan, "--executor", "inline", "--quiet", "--log-to", "mlflow")
    assert res.exit_code == 0, res.output
    store = plan.parent.parent / "mlflow.db"
    assert store.is_file() and "logged" in res.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    assert client.get_experiment_by_name("bare") is not None


def test_a_refused_store_or_dead_server_is_one_clear_line(tmp_path, cli, make_plan):
    """A file store (refused by MLflow 3) and a server that is not there: one line, exit 1,
    in seconds, the ledger intact."""
    plan = make_plan("dead")
    registration.lock(plan)
    res = cli("run", plan, "--executor", "inline", "--quiet", "--log-to",
              f"mlflow:file://{tmp_path / 'mlruns'}")
    assert res.exit_code == 1 and "MLflow at file://" in res.stderr
    assert "The runs are safe in the ledger" in res.stderr and "Traceback" not in res.output
    res = cli("decide", plan, "--log-to", "mlflow:http://127.0.0.1:9")
    assert res.exit_code == 1 and "MLflow at http://127.0.0.1:9" in res.stderr
    assert (plan.parent / "result.json").is_file()
    assert any(r["event"] == "DECIDED" for r in L.Ledger(plan.parent / "ledger.jsonl").records())
