"""`--log-to mlflow[:URI]`: the ledger mirrored into an MLflow tracking store.

The ledger stays the source of truth; MLflow is a view of it, rebuilt from
the ledger alone and idempotent (a run already logged for the same ledger
record is not logged twice, so `exante run --log-to` after a resume adds
only the new runs). One parent run per experiment and plan hash; one nested
child run per registered run with

    params    the cell's parameters and the seed
    metrics   what the run recorded
    tags      exante.plan_sha256, exante.run_id, exante.cell, exante.seed, exante.role,
              exante.stage, exante.status, exante.ledger_seq, exante.ledger_hash
    artifacts the run's stdout.log / stderr.log (command trials), error.txt for a failure

and, once decided, the verdict, tier, caveats and RETROSPECTIVE label as the
parent's tags with result.json and the report as its artifacts.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from ..errors import InputError, RefusedError
from ..history import History, Record
from ..paths import experiment_dir, ledger_path
from ..results import read_result
from . import require

TAG = "exante."
_MAX_TAG = 5000


def parse_target(value: str) -> str | None:
    """'mlflow' -> None (MLflow's own default / MLFLOW_TRACKING_URI), 'mlflow:URI' -> URI."""
    kind, _, uri = value.partition(":")
    if kind != "mlflow":
        raise InputError(f"--log-to {value!r}: expected mlflow or mlflow:URI (e.g. "
                         "mlflow:sqlite:///mlflow.db or mlflow:http://127.0.0.1:5000)")
    return uri or None


def _ms(ts: str | None) -> int | None:
    if not ts:
        return None
    return int(dt.datetime.fromisoformat(ts).timestamp() * 1000)


def _client(uri: str | None):
    require("mlflow", "mlflow")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client, name: str, uri: str | None) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    location = None
    if uri and uri.startswith("sqlite:///"):  # artifacts beside the database, not in the cwd
        location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location,
                                    tags={f"{TAG}experiment_id": name})


HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}  # MLflow's own: 120 s x 7 retries


def default_uri(plan_path: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else a SQLite store beside the registry's experiments
    (MLflow 3 refuses its old ./mlruns file store by default)."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path(plan_path).resolve().parent.parent / 'mlflow.db')}"


def sync(plan_path: Path, uri: str | None = None) -> dict[str, Any]:
    """Log every run of the ledger not yet in MLflow, and the result/report once they exist.

    Returns {experiment_id, parent_run_id, logged, already, uri}. An MLflow failure
    (a refused store, a server that does not answer) is one clear error: the ledger,
    the source of truth, is already written and nothing in it depends on MLflow.
    """
    uri = uri or default_uri(plan_path)
    for key, value in HTTP_DEFAULTS.items():  # a dead server fails in seconds, not an hour
        os.environ.setdefault(key, value)
    require("mlflow", "mlflow")
    from mlflow.exceptions import MlflowException

    try:
        return _sync(Path(plan_path), uri)
    except (MlflowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise RefusedError(f"MLflow at {uri}: {first}. The runs are safe in the ledger; log "
                           f"them later with the same command and --log-to mlflow:URI (e.g. "
                           f"mlflow:sqlite:///mlflow.db)") from exc


def _sync(plan_path: Path, uri: str) -> dict[str, Any]:
    history = History.read(ledger_path(plan_path))
    locks = history.locks()
    if not locks:
        raise InputError(f"{plan_path}: not locked; nothing to log to MLflow")
    digest = history.sealed_hash
    eid = locks[0].data.get("experiment_id") or plan_path.parent.name
    client = _client(uri)
    exp = _experiment_id(client, eid, uri)
    parent = _parent(client, exp, eid, digest, locks[-1])
    logged_seqs = {r.data.tags.get(f"{TAG}ledger_seq") for r in client.search_runs(
        [exp], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'", max_results=50000)}
    latest = history.terminal()
    logged = 0
    from .. import blinding

    blind = blinding.of_records(plan_path, history)
    if blind is not None and blind.active:  # a test-split metric: nothing leaves until complete
        return {"experiment_id": exp, "parent_run_id": parent, "logged": 0,
                "already": sum(str(r.seq) in logged_seqs for r in latest.values()),
                "uri": uri or "(mlflow default)",
                "deferred": f"{', '.join(blind.metrics)} is blind until the registered sweep "
                            f"is complete ({blind.done}/{blind.planned} runs): runs are logged "
                            "to MLflow by the first --log-to after that"}
    for record in latest.values():
        if str(record.seq) in logged_seqs:
            continue
        _log_run(client, exp, parent, digest, record, plan_path)
        logged += 1
    _log_outcome(client, parent, plan_path, history)
    return {"experiment_id": exp, "parent_run_id": parent, "logged": logged,
            "already": len(latest) - logged, "uri": uri or "(mlflow default)"}


def _parent(client, exp: str, eid: str, digest: str, lock: Record) -> str:
    found = client.search_runs([exp], filter_string=(f"tags.`{TAG}kind` = 'experiment' and "
                                                     f"tags.`{TAG}plan_sha256` = '{digest}'"),
                               max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(exp, start_time=_ms(lock.ts), run_name=eid,
                            tags={f"{TAG}kind": "experiment", f"{TAG}plan_sha256": digest,
                                  f"{TAG}experiment_id": eid})
    return run.info.run_id


def _log_run(client, exp: str, parent: str, digest: str, record: Record,
             plan_path: Path) -> None:
    from mlflow.entities import Metric, Param

    d = record.data
    status = "ok" if record.ok else "failed"
    tags = {"mlflow.parentRunId": parent, f"{TAG}kind": "run", f"{TAG}plan_sha256": digest,
            f"{TAG}run_id": d["run_id"], f"{TAG}cell": d["cell"], f"{TAG}seed": str(d["seed"]),
            f"{TAG}role": d["role"], f"{TAG}stage": str(d.get("stage")),
            f"{TAG}status": status, f"{TAG}ledger_seq": str(record.seq),
            f"{TAG}ledger_hash": record.hash, f"{TAG}executor": str(d.get("executor"))}
    if d.get("imported"):
        tags[f"{TAG}imported_from"] = str(d["imported"].get("ref"))[:_MAX_TAG]
    if d.get("error_kind"):
        tags[f"{TAG}error_kind"] = str(d["error_kind"])
    end = _ms(record.ts)
    wall = d.get("wall_s")
    start = end - int(wall * 1000) if end is not None and isinstance(wall, (int, float)) else end
    run = client.create_run(exp, start_time=start, run_name=d["run_id"], tags=tags)
    rid = run.info.run_id
    params = [Param(str(k), str(v)[:6000]) for k, v in sorted(d.get("params", {}).items())]
    params.append(Param("seed", str(d["seed"])))
    metrics = [Metric(str(k), float(v), end or 0, 0) for k, v in d.get("metrics", {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    client.log_batch(rid, metrics=metrics, params=params)
    folder = experiment_dir(plan_path) / "runs" / d["run_id"]
    for name in ("stdout.log", "stderr.log"):
        if (folder / name).is_file():
            client.log_artifact(rid, str(folder / name))
    if d.get("error"):
        client.log_text(rid, str(d["error"]), "error.txt")
    client.set_terminated(rid, "FINISHED" if status == "ok" else "FAILED", end_time=end)


def _log_outcome(client, parent: str, plan_path: Path, history: History) -> None:
    folder = experiment_dir(plan_path)
    result_path = folder / "result.json"
    info = history.retrospective()
    if info is not None:
        client.set_tag(parent, f"{TAG}retrospective", "true")
        client.set_tag(parent, f"{TAG}retrospective_note", info["message"][:_MAX_TAG])
    client.set_tag(parent, f"{TAG}ledger_head", history.head)
    client.log_artifact(parent, str(plan_path))
    if result_path.is_file():
        result = read_result(result_path, strict=False)  # the one reader
        client.set_tag(parent, f"{TAG}verdict", str(result.verdict))
        if result.tier:
            client.set_tag(parent, f"{TAG}tier", str(result.tier))
        codes = ",".join(result.caveat_codes)
        client.set_tag(parent, f"{TAG}caveats", codes[:_MAX_TAG])
        client.set_tag(parent, f"{TAG}result_ledger_head", str(result.get("ledger_head")))
        client.log_artifact(parent, str(result_path))
    for name in ("report.md", "report.html", "postmortem.md"):
        if (folder / name).is_file():
            client.log_artifact(parent, str(folder / name), "report")
    client.set_terminated(parent, "FINISHED")
