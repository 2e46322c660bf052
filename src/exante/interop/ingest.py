"""Recording imported runs against a plan: PILOT before the lock, RETROSPECTIVE after it.

`plan_import` matches every source row to a run the plan registers (cell
parameters and seed through a column map) and returns what it would record;
`record_import` appends it to the ledger in one durable write:

- the plan is **not locked** yet: each row becomes a PILOT record (pilot data
  for the design check's σ; the registered seeds must differ from them);
- the plan **is locked**: rows become RUN_OK / RUN_FAILED records marked
  `imported`, preceded by an IMPORTED record with mode `retrospective`. The
  runs existed before the seal, so every later output says RETROSPECTIVE.

A row that matches no registered run, or more than one, or a run that already
has a result, is refused with its file and line: nothing is overwritten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import ledger as L
from .. import registration
from ..design import RunKey, design_cells, expand
from ..errors import InputError, RefusedError
from ..paths import ledger_path
from ..runner import terminal_records
from ..spec import Plan, load_plan
from . import retro
from .sources import Row, Source


@dataclass(frozen=True)
class ColumnMap:
    """Plan name -> source column for parameters, the seed and metrics (default: same name)."""

    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    seed: str = "seed"

    @classmethod
    def parse(cls, params: list[str] = (), metrics: list[str] = (), seed: str | None = None
              ) -> "ColumnMap":
        def pairs(items, what):
            out = {}
            for item in items:
                name, sep, column = item.partition("=")
                if not sep or not name.strip() or not column.strip():
                    raise InputError(f"--{what} {item!r}: expected NAME=COLUMN (the plan's name, "
                                     "then the source's column)")
                out[name.strip()] = column.strip()
            return out
        return cls(pairs(params, "param"), pairs(metrics, "metric"), seed or "seed")


@dataclass
class Plan_:
    """What an import would record."""

    mode: str  # pilot | retrospective
    items: list[tuple[str, dict[str, Any]]]
    matched: int = 0
    unmatched: list[str] = field(default_factory=list)
    failed: int = 0


def _discriminating(plan: Plan, keys: list[RunKey]) -> list[str]:
    names: list[str] = []
    for cell in design_cells(plan):
        names += [n for n in cell.levels if n not in names]
    for trap in plan.traps:
        names += [n for n in trap.params if n not in names]
    if plan.tau is not None:
        names += [n for n in plan.tau.params if n not in names]
    return names


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "None", "null",
                                                                           "nan", "NaN"))


def same(raw: Any, registered: Any) -> bool:
    """A source value (often text) equals a registered level: 4 == '4' == '4.0', True == 'true'."""
    if isinstance(registered, bool):
        return str(raw).strip().lower() in (("true", "1", "yes") if registered
                                            else ("false", "0", "no"))
    if isinstance(registered, (int, float)):
        try:
            return math.isclose(float(raw), float(registered), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if registered is None:
        return _missing(raw)
    return str(raw).strip() == str(registered)


def _seed(row: Row, cmap: ColumnMap) -> int:
    value = row.values.get(cmap.seed)
    try:
        seed = float(value)
        if seed != int(seed):
            raise ValueError
        return int(seed)
    except (TypeError, ValueError):
        cols = ", ".join(sorted(row.values)[:12])
        raise InputError(f"{row.ref}: seed column {cmap.seed!r} is {value!r}, expected an "
                         f"integer; map it with --seed COLUMN (columns: {cols})") from None


def _metrics(plan: Plan, row: Row, cmap: ColumnMap) -> tuple[dict[str, float], str, str]:
    names = [plan.primary.name] + [m.name for m in plan.secondary]
    names += [n for n in cmap.metrics if n not in names]
    metrics: dict[str, float] = {}
    for name in names:
        column = cmap.metrics.get(name, name)
        value = row.values.get(column)
        if _missing(value):
            continue
        try:
            metrics[name] = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{row.ref}: metric {name!r} (column {column!r}) is {value!r}, "
                             "expected a number") from None
    primary = plan.primary.name
    if primary not in metrics:
        return metrics, "missing_metric", (f"imported row {row.ref} has no value for "
                                           f"{primary!r} (column {cmap.metrics.get(primary, primary)!r})")
    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
    if bad:
        return metrics, "nan", f"imported row {row.ref}: non-finite metric(s) {bad}"
    return metrics, "", ""


def _matches(row: Row, key_params: Mapping[str, Any], names: list[str], cmap: ColumnMap,
             fixed: Mapping[str, Any]) -> bool:
    for name in names:
        raw = row.values.get(cmap.params.get(name, name))
        if name in key_params:
            if _missing(raw) or not same(raw, key_params[name]):
                return False
        elif not _missing(raw):
            return False
    for name, value in fixed.items():  # a fixed parameter the source also records must agree
        column = cmap.params.get(name, name)
        if column in row.values and not _missing(row.values[column]) \
                and not same(row.values[column], value) and name not in names:
            return False
    return True


def plan_import(plan_path: Path, source: Source, cmap: ColumnMap, *,
                mode: str | None = None, allow_unmatched: bool = False) -> Plan_:
    """Match every row to the plan and build the records an import would append."""
    plan = load_plan(plan_path)
    if plan.primary is None:
        raise InputError(f"{plan_path}: metrics.primary is needed to know which column is the "
                         "result")
    records = L.Ledger(ledger_path(plan_path)).records()
    locked = registration.state(plan_path, records).sealed_hash is not None
    inferred = retro.RETROSPECTIVE if locked else retro.PILOT_MODE
    if mode is not None and mode != inferred:
        raise RefusedError(
            f"{plan_path}: --as {mode} refused: the plan is "
            + ("locked, so imported runs are a retrospective analysis, not pilots"
               if locked else "not locked yet, so imported runs can only be pilots; lock the "
               "plan first for a retrospective analysis (every output will say RETROSPECTIVE)"))
    unknown = [n for n in cmap.params if n not in _known_params(plan)]
    if unknown:
        raise InputError(f"--param {unknown[0]}: the plan has no parameter {unknown[0]!r}; its "
                         f"parameters are {', '.join(sorted(_known_params(plan)))}")
    if not source.rows:
        raise InputError(f"{source.name}: no runs to import")
    keys = expand(plan, include_stage2=True)
    names = _discriminating(plan, keys)
    if inferred == retro.PILOT_MODE:
        return _pilot_items(plan, source, cmap, names, allow_unmatched)
    done = terminal_records(records)
    out = Plan_(retro.RETROSPECTIVE, [])
    seen: dict[str, str] = {}
    for row in source.rows:
        seed = _seed(row, cmap)
        hits = [k for k in keys if k.seed == seed and _matches(row, k.params, names, cmap,
                                                                 plan.design.fixed)]
        if len(hits) > 1:
            raise InputError(f"{row.ref}: matches {len(hits)} registered runs "
                             f"({', '.join(k.run_id for k in hits[:3])}); map the columns that "
                             f"tell them apart (--param NAME=COLUMN; names: {', '.join(names)})")
        if not hits:
            out.unmatched.append(row.ref)
            continue
        key = hits[0]
        if key.run_id in seen:
            raise InputError(f"{row.ref}: run {key.run_id} was already given by {seen[key.run_id]}"
                             "; one row per registered run")
        if key.run_id in done:
            raise RefusedError(f"{row.ref}: run {key.run_id} already has a result in the ledger "
                               "(seq " f"{done[key.run_id].get('seq')}); nothing is overwritten")
        seen[key.run_id] = row.ref
        metrics, kind, error = _metrics(plan, row, cmap)
        data = {"run_id": key.run_id, "cell": key.cell, "role": key.role, "stage": key.stage,
                "seed": key.seed, "params": dict(key.params), "metrics": metrics,
                "wall_s": None, "peak_rss_mb": None, "load1": None, "env": {},
                "executor": "import",
                "imported": {"source": source.name, "ref": row.ref, "started": row.started,
                             "mode": retro.RETROSPECTIVE}}
        if kind:
            data.update(error=error, error_kind=kind)
            out.failed += 1
        out.items.append((L.RUN_FAILED if kind else L.RUN_OK, data))
        out.matched += 1
    _check_unmatched(source, out, allow_unmatched, names, cmap)
    return out


def _known_params(plan: Plan) -> set[str]:
    names = set(plan.design.fixed) | set(plan.design.factors)
    names |= {k for arm in plan.design.arms.values() for k in arm} | set(plan.design.baseline)
    names |= {k for t in plan.traps for k in t.params}
    return names | set(plan.tau.params if plan.tau else ())


def _pilot_items(plan: Plan, source: Source, cmap: ColumnMap, names: list[str],
                 allow_unmatched: bool) -> Plan_:
    cells = [(c.name, c.role, c.params(plan.design.fixed)) for c in design_cells(plan)]
    out = Plan_(retro.PILOT_MODE, [])
    registered = _registered_seeds(plan)
    for row in source.rows:
        seed = _seed(row, cmap)
        if seed in registered:
            raise RefusedError(f"{row.ref}: pilot seed {seed} is one of the plan's registered "
                               f"seeds {sorted(registered)}; pilots must use other seeds, or "
                               "the registered runs would not be the first look at them")
        hits = [c for c in cells if _matches(row, c[2], names, cmap, plan.design.fixed)]
        if not hits:
            out.unmatched.append(row.ref)
            continue
        metrics, kind, error = _pilot_metrics(plan, row, *_metrics(plan, row, cmap))
        name, role, params = hits[0]
        out.items.append((retro.PILOT, {
            "cell": name, "role": role, "seed": seed, "params": dict(params),
            "metrics": metrics, "ok": not kind, "error": error or None,
            "source": {"source": source.name, "ref": row.ref, "started": row.started,
                       "imported": True}}))
        out.matched += 1
        out.failed += bool(kind)
    _check_unmatched(source, out, allow_unmatched, names, cmap)
    return out


def _pilot_metrics(plan: Plan, row: Row, metrics: dict[str, float], kind: str, error: str
                   ) -> tuple[dict[str, float], str, str]:
    """A pilot keeps no test-split metric (it would be a look at the test set before the
    lock); with one registered, the pilot metric is the one a pilot row must have."""
    blind = set(plan.blind_metrics())
    if not blind:
        return metrics, kind, error
    kept = {k: v for k, v in metrics.items() if k not in blind}
    pilot = plan.pilot_metric()
    if pilot is None or pilot.name not in kept:
        return kept, "missing_metric", (f"imported row {row.ref} has no value for the pilot "
                                        f"metric {pilot.name if pilot else '(metrics.pilot)'!r}")
    bad = {k: v for k, v in kept.items() if not math.isfinite(v)}
    return kept, ("nan" if bad else ""), (f"imported row {row.ref}: non-finite metric(s) {bad}"
                                          if bad else "")


def _registered_seeds(plan: Plan) -> set[int]:
    seeds = set(plan.design.seeds)
    proto = plan.seed_protocol
    if proto is not None:
        seeds |= set(proto.baseline_seeds) | set(proto.stage1) | set(proto.stage2)
    return seeds


def _check_unmatched(source: Source, out: Plan_, allow: bool, names: list[str],
                     cmap: ColumnMap) -> None:
    if out.unmatched and not allow:
        shown = ", ".join(out.unmatched[:5]) + (f" and {len(out.unmatched) - 5} more"
                                                if len(out.unmatched) > 5 else "")
        cols = {n: cmap.params.get(n, n) for n in names}
        have = ", ".join(sorted(source.rows[0].values)[:20]) if source.rows else ""
        raise InputError(f"{source.name}: {len(out.unmatched)} row(s) match no registered run "
                         f"({shown}); matched on seed column {cmap.seed!r} and {cols}; the "
                         f"source has columns {have}. Map the "
                         "columns (--param NAME=COLUMN, --seed COLUMN), or pass --allow-unmatched"
                         " to import the rest (the skipped rows are counted in the ledger)")
    if not out.matched:
        raise InputError(f"{source.name}: no row matches a registered run")


def record_import(plan_path: Path, source: Source, planned: Plan_) -> dict[str, Any]:
    """Append the IMPORTED record and the runs in one durable write. Returns the summary."""
    plan_path = Path(plan_path)
    current = registration.state(plan_path)
    summary = {"mode": planned.mode, "source": source.name, "format": source.kind,
               "source_sha256": source.sha256, "rows": len(source.rows),
               "imported": planned.matched, "failed": planned.failed,
               "unmatched": len(planned.unmatched), "unmatched_refs": planned.unmatched[:50],
               "plan_sha256": current.sealed_hash, "details": source.details}
    L.Ledger(ledger_path(plan_path)).append_many([(retro.IMPORTED, summary), *planned.items])
    return summary
