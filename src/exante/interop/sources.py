"""Reading runs someone already has: each source gives flat rows of named values.

    CSV / TSV (a W&B project export is a CSV)   stdlib csv
    JSON lines                                  stdlib json
    an MLflow tracking store                    mlflow's client API   (exante[mlflow])
    W&B offline run folders wandb/offline-run-* wandb's protobuf records (exante[wandb])

A row is a plain dict (config / params / metrics / summary flattened by name)
plus a reference saying where it came from (file and line, MLflow run id, W&B
run id). Matching rows to a plan's runs is `ingest`'s job.
"""

from __future__ import annotations

import csv
import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import InputError
from . import require


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    ref: str  # "runs.csv:4", "mlflow:<run id>", "wandb:<run id>"
    started: str | None = None  # ISO time the source says the run started, when it says


@dataclass(frozen=True)
class Source:
    kind: str  # csv | jsonl | mlflow | wandb-offline
    name: str  # what the user gave
    rows: list[Row]
    sha256: str | None = None  # of the file(s) read, when there are files
    details: dict[str, Any] = field(default_factory=dict)


def read_source(source: str, *, experiment: Sequence[str] = (), run_ids: Sequence[str] = ()
                ) -> Source:
    """Dispatch on SOURCE: `mlflow:URI` / `mlruns` store, a W&B folder, .csv/.tsv, .jsonl."""
    if source.startswith("mlflow:") or source == "mlflow":
        uri = source.partition(":")[2] or None
        return read_mlflow(uri, experiment=experiment, run_ids=run_ids)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such file or folder (expected a .csv, .tsv or .jsonl "
                         "file, a wandb/ or wandb/offline-run-* folder, or mlflow:URI)")
    if path.is_dir():
        if path.name == "mlruns" or (path / "mlruns").is_dir() and not _wandb_runs(path):
            store = path if path.name == "mlruns" else path / "mlruns"
            return read_mlflow(store.resolve().as_uri(), experiment=experiment, run_ids=run_ids)
        return read_wandb_offline(path)
    if path.suffix in (".db", ".sqlite") :
        return read_mlflow(f"sqlite:///{path.resolve()}", experiment=experiment, run_ids=run_ids)
    if path.suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    if path.suffix in (".csv", ".tsv", ".txt"):
        return read_csv(path)
    raise InputError(f"{path}: unknown source format {path.suffix!r}; expected .csv, .tsv, "
                     ".jsonl, a wandb folder, an mlruns folder, an MLflow .db, or mlflow:URI")


def _sha256(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------- files


def read_csv(path: Path) -> Source:
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    delimiter = "\t" if path.suffix == ".tsv" else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    if not reader.fieldnames:
        raise InputError(f"{path}: empty file, expected a header row of column names")
    rows = []
    for lineno, raw in enumerate(reader, start=2):
        if None in raw:
            raise InputError(f"{path}:{lineno}: more values than the header has columns")
        rows.append(Row({k.strip(): v for k, v in raw.items() if k is not None},
                        f"{path.name}:{lineno}"))
    return Source("csv", str(path), rows, _sha256(path), {"columns": list(reader.fieldnames)})


def read_jsonl(path: Path) -> Source:
    path = Path(path)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path}:{lineno}: not JSON ({exc}); expected one object a line"
                             ) from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: a {type(obj).__name__}, expected a JSON object")
        rows.append(Row(_flatten(obj), f"{path.name}:{lineno}"))
    return Source("jsonl", str(path), rows, _sha256(path))


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"config": {"depth": 4}} -> {"config.depth": 4}, keeping the top level names too."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------- MLflow


def read_mlflow(uri: str | None, *, experiment: Sequence[str] = (),
                run_ids: Sequence[str] = ()) -> Source:
    """Runs of an MLflow store by experiment name(s) or run ids, through MlflowClient."""
    require("mlflow", "mlflow")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not experiment and not run_ids:
        raise InputError("an MLflow import needs --experiment NAME or --run-id ID (which runs)")
    client = MlflowClient(tracking_uri=uri)
    runs = []
    try:
        for rid in run_ids:
            runs.append(client.get_run(rid))
        for name in experiment:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                known = [e.name for e in client.search_experiments()]
                raise InputError(f"{uri or 'mlflow'}: no experiment {name!r}; the store has "
                                 f"{known}")
            runs += client.search_runs([exp.experiment_id], max_results=50000,
                                       order_by=["attributes.start_time ASC"])
    except MlflowException as exc:
        raise InputError(f"{uri or 'mlflow'}: {exc.message}") from exc
    rows = []
    for run in runs:
        if run.info.status not in ("FINISHED", "FAILED", "KILLED"):
            continue  # still running: not a result yet
        values: dict[str, Any] = {**run.data.params, **run.data.metrics}
        values.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        values["mlflow.status"] = run.info.status
        rows.append(Row(values, f"mlflow:{run.info.run_id}", _ms_iso(run.info.start_time)))
    return Source("mlflow", uri or "mlflow", rows, None,
                  {"experiments": list(experiment), "run_ids": [r.ref[7:] for r in rows]})


def _ms_iso(ms: int | None) -> str | None:
    import datetime as dt

    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()


# ---------------------------------------------------------------- W&B offline runs


def _wandb_runs(folder: Path) -> list[Path]:
    """`.wandb` files of offline runs under folder (a wandb/ dir, one run dir, or above)."""
    folder = Path(folder)
    found = sorted(folder.glob("*.wandb")) + sorted(folder.glob("*run-*/*.wandb"))
    found += sorted(folder.glob("wandb/*run-*/*.wandb"))
    return sorted(set(found))


def read_wandb_offline(folder: Path) -> Source:
    """Config and final summary of every offline run, decoded with wandb's own protobufs."""
    require("wandb", "wandb")
    from wandb.proto import wandb_internal_pb2 as pb

    files = _wandb_runs(folder)
    if not files:
        raise InputError(f"{folder}: no W&B runs here (expected wandb/offline-run-*/run-*.wandb)")
    rows = []
    for path in files:
        config: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        run_id, started, exit_code = path.stem.removeprefix("run-"), None, None
        for data in _leveldb_records(path):
            record = pb.Record()
            record.ParseFromString(data)
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run_id = record.run.run_id or run_id
                started = record.run.start_time.ToDatetime().isoformat() + "+00:00"
                _items(record.run.config.update, config)
            elif kind == "config":
                _items(record.config.update, config)
            elif kind == "summary":
                _items(record.summary.update, summary)
                for item in record.summary.remove:
                    summary.pop(_key(item), None)
            elif kind == "exit":
                exit_code = record.exit.exit_code
        values = {k: v for k, v in config.items() if not k.startswith("_wandb")}
        values.update({k: v for k, v in summary.items() if not k.startswith("_wandb")})
        values["wandb.exit_code"] = exit_code
        rows.append(Row(values, f"wandb:{run_id}", started))
    return Source("wandb-offline", str(folder), rows, _sha256(*files),
                  {"files": [str(p) for p in files]})


def _key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def _items(updates: Any, into: dict[str, Any]) -> None:
    for item in updates:
        value = json.loads(item.value_json) if item.value_json else None
        if isinstance(value, dict) and set(value) <= {"value", "desc"} and "value" in value:
            value = value["value"]  # config items written as {"desc": ..., "value": ...}
        if isinstance(value, dict):  # nested config: {"model": {"width": 4}} -> model.width
            into.update(_flatten(value, f"{_key(item)}."))
        else:
            into[_key(item)] = value


_BLOCK = 32768
_HEADER = 7  # ":W&B", magic 0xBEE1, version


def _leveldb_records(path: Path) -> Iterator[bytes]:
    """The records of a .wandb file (a LevelDB-style log of 32 KiB blocks, crc-checked)."""
    raw = path.read_bytes()
    if raw[:4] != b":W&B":
        raise InputError(f"{path}: not a W&B run file (no :W&B header)")
    pos, pending = _HEADER, b""
    while pos + 7 <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < 7:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        pos += 7
        if kind == 0 and length == 0:
            pos += left - 7
            continue
        data = raw[pos:pos + length]
        pos += length
        if len(data) < length or zlib.crc32(data, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            return  # a run still being written (or cut off): keep what was whole
        if kind == 1:
            yield data
        elif kind == 2:
            pending = data
        elif kind == 3:
            pending += data
        elif kind == 4:
            yield pending + data
            pending = b""
