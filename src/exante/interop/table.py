"""The runs table: one row per run (latest record per run id), and `exante export`.

Columns: run_id, cell, role, stage, seed, status (ok | failed | pilot),
error_kind, wall_s, imported (the source a run was imported from, else empty),
then every cell parameter and every metric by its own name (prefixed
`param.` / `metric.` only when a name would collide). Read from the
verified ledger; nothing is recomputed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..history import History
from ..paths import ledger_path
from . import require

BASE = ("run_id", "cell", "role", "stage", "seed", "status", "error_kind", "wall_s", "imported")


def rows(plan_path: Path, *, pilots: bool = True) -> list[dict[str, Any]]:
    """Every run of the plan's ledger as a flat dict, in ledger order (pilots first)."""
    from .. import blinding

    history = History.read(ledger_path(plan_path))
    blind = blinding.of_records(plan_path, history)  # test-split metrics left out while blind
    out = []
    for r in history.pilots() if pilots else ():
        d = r.data
        src = d.get("source") or {}
        out.append(_row(f"pilot__{d.get('cell')}__s{d.get('seed')}", d.get("cell"), "pilot",
                        "pilot", d.get("seed"), "pilot" if d.get("ok", True) else "failed", None,
                        d.get("wall_s"), src.get("source") if isinstance(src, dict) else src,
                        d.get("params") or {}, d.get("metrics") or {}))
    for r in history.terminal_in_order():  # a retry sits where its latest record is
        d = r.data
        imported = (d.get("imported") or {}).get("source")
        out.append(_row(d["run_id"], d["cell"], d["role"], d.get("stage"), d["seed"],
                        "ok" if r.ok else "failed", d.get("error_kind"),
                        d.get("wall_s"), imported, d.get("params") or {},
                        blinding.shown_metrics(blind, d.get("metrics") or {}) if blind
                        else d.get("metrics") or {}))
    return out


def _row(run_id, cell, role, stage, seed, status, error_kind, wall_s, imported, params, metrics):
    row: dict[str, Any] = dict(zip(BASE, (run_id, cell, role, stage, seed, status, error_kind,
                                          wall_s, imported)))
    for name, value in params.items():
        row[f"param.{name}" if name in BASE else name] = value
    for name, value in metrics.items():
        key = f"metric.{name}" if name in BASE or name in params else name
        row[key] = _number(value)
    return row


def _number(value: Any) -> Any:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return value


def columns(table: list[dict[str, Any]]) -> list[str]:
    names: list[str] = list(BASE)
    for row in table:
        names += [k for k in row if k not in names]
    return names


def frame(plan_path: Path):
    """The runs table as a pandas DataFrame (exante[interop])."""
    pd = require("pandas", "interop")
    table = rows(plan_path)
    return pd.DataFrame(table, columns=columns(table))


def export(plan_path: Path, out: Path, fmt: str) -> int:
    """Write the runs table to `out` as csv, parquet or jsonl. Returns the number of rows."""
    table = rows(plan_path)
    cols = columns(table)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for row in table:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in cols})
        out.write_text(buf.getvalue(), encoding="utf-8")
    elif fmt == "jsonl":
        out.write_text("".join(json.dumps({k: _json_safe(row.get(k)) for k in cols},
                                          allow_nan=False) + "\n" for row in table),
                       encoding="utf-8")
    elif fmt == "parquet":
        pa = require("pyarrow", "interop")
        import pyarrow.parquet as pq

        data = {k: [_parquet_value(row.get(k)) for row in table] for k in cols}
        try:
            pq.write_table(pa.table(data), out)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in a column: write as text
            data = {k: [None if v is None else str(v) if not isinstance(v, (int, float)) else v
                        for v in vals] for k, vals in data.items()}
            pq.write_table(pa.table({k: _uniform(v) for k, v in data.items()}), out)
    else:
        raise InputError(f"--format {fmt!r}: expected csv, parquet or jsonl")
    return len(table)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parquet_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _uniform(values: list[Any]) -> list[Any]:
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1 or kinds <= {int, float}:
        return values
    return [None if v is None else str(v) for v in values]
