"""Seed 003's variance-first protocol: measure the baseline once, reuse it, extend when close.

The baseline's 5-seed measurement is stored next to the research notes
(``docs/research/baseline_variance_1M.json`` plus its Markdown twin) with a
hash of everything that defines the baseline configuration: its parameters,
the trial (command or function), the code fingerprints and the metric. A
later experiment reuses it only when that hash matches; any change to the
baseline configuration invalidates the reuse, and the report says which.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import ledger as L
from .events import Event
from .history import History, Record, as_record
from .design import BASELINE, STAGE1, VARIANCE, baseline_cell
from .spec import Plan

BASELINE_REUSED = Event.BASELINE_REUSED


def config_hash(plan: Plan, code_prints: dict[str, str]) -> str:
    """Identity of the baseline configuration (what must match for a measurement to be reused)."""
    trial = plan.trial
    ident = {
        "params": baseline_cell(plan).params(plan.design.fixed),
        "trial": {"kind": trial.kind, "target": trial.target, "argv": list(trial.argv),
                  "regex": dict(trial.metric_regex), "json": trial.metric_json},
        "code": {k: v for k, v in code_prints.items()},
        "metric": plan.primary.name,
        "seeds": list(plan.seed_protocol.baseline_seeds),
    }
    return hashlib.sha256(L.canonical(ident).encode()).hexdigest()


def store_path(plan: Plan) -> Path | None:
    reuse = plan.seed_protocol.reuse if plan.seed_protocol else None
    return (plan.folder / reuse) if reuse else None


def _variant(store: Path, config: str) -> Path:
    """Where a baseline of another configuration is kept, so it never overwrites the standard one."""
    return store.with_name(f"{store.stem}.{config[:12]}{store.suffix}")


def _stored_config(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("config_hash")
    except (OSError, ValueError):
        return None


def reused_from_ledger(records) -> dict[str, Any] | None:
    """The adopted baseline measurement (a `History`, or the ledger's records)."""
    return _as_history(records).reused_baseline()


def _as_history(records) -> History:
    return records if isinstance(records, History) else History(records)


def reuse_baseline(plan: Plan, ledger: L.Ledger, plan_path: Path,
                   records: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """Adopt a stored baseline measurement if its configuration matches; record why or why not.

    `records` are the ledger's records when the caller already holds them.
    """
    history = History.read(ledger.path) if records is None else _as_history(records)
    already = history.reused_baseline()
    if already is not None:
        return already
    if history.any(Event.RUN_OK, stage=VARIANCE):
        return None  # this experiment measures its own baseline
    store = store_path(plan)
    if store is None or not store.is_file():
        return None
    from .registration import state

    prints = {k: v for k, v in state(plan_path, history).fingerprints.items()
              if k.startswith("code:")}
    wanted = config_hash(plan, prints)
    if _stored_config(store) != wanted and _variant(store, wanted).is_file():
        store = _variant(store, wanted)
    stored = json.loads(store.read_text(encoding="utf-8"))
    if stored.get("config_hash") != wanted:
        ledger.append(L.STAGE, {"stage": "baseline_reuse_refused", "store": str(store),
                                "stored_config": stored.get("config_hash"),
                                "this_config": wanted,
                                "why": "the baseline configuration changed (parameters, trial, "
                                       "code or metric), so the stored variance does not apply"})
        return None
    data = {"source": stored.get("source"), "store": str(store), "config_hash": wanted,
            "runs": stored["runs"], "metric": stored["metric"]}
    ledger.append(BASELINE_REUSED, data)
    return data


def baseline_values(plan: Plan, results: dict[str, dict], reused: dict | None) -> list[float]:
    metric = plan.primary.name
    if reused is not None:
        return [float(r["value"]) for r in reused["runs"]]
    return [_value(r, metric) for r in results.values()
            if r["data"]["role"] == BASELINE and r["data"]["stage"] == VARIANCE]


def _value(record: Record | dict, metric: str) -> float:
    record = as_record(record)
    if not record.ok:
        return math.nan
    value = record.data["metrics"].get(metric)
    return float(value) if isinstance(value, (int, float)) else math.nan


def stage2_needed(plan: Plan, results: dict[str, dict], reused: dict | None
                  ) -> tuple[bool | None, dict[str, Any]]:
    """Whether seeds 512 and 1024 must run: |z| < threshold after stage 1 (seed 003, step 3).

    Returns (None, {}) while stage 1 or the baseline is incomplete.
    """
    proto = plan.seed_protocol
    base = [v for v in baseline_values(plan, results, reused) if math.isfinite(v)]
    stage1 = [_value(r, plan.primary.name) for r in results.values()
              if r["data"]["role"] == "arm" and r["data"]["stage"] == STAGE1]
    finished_stage1 = sum(1 for r in results.values()
                          if r["data"]["role"] == "arm" and r["data"]["stage"] == STAGE1)
    if finished_stage1 < len(proto.stage1) or len(base) < 2:
        return None, {}
    exp = [v for v in stage1 if math.isfinite(v)]
    if len(exp) < 2:
        return True, {"why": f"only {len(exp)} finite stage-1 result(s): z needs at least 2"}
    from .stats import sigma_z

    z_a, z_b = sigma_z(base, exp, direction=plan.primary.direction)
    z = z_a if plan.decision.sigma == "baseline" else z_b
    rule = "A (baseline SD)" if plan.decision.sigma == "baseline" else "B (pooled SD)"
    if z is None:
        return False, {"z": None, "why": f"z undefined under rule {rule} (zero baseline "
                                         "variance): more seeds cannot make it decidable"}
    need = abs(z) < plan.decision.threshold
    why = (f"|z| = {abs(z):.3f} {'<' if need else '>='} {plan.decision.threshold} under rule "
           f"{rule}: {'run' if need else 'skip'} the registered stage-2 seeds")
    return need, {"z": z, "z_rule_a": z_a, "z_rule_b": z_b, "why": why}


def store_baseline(plan: Plan, plan_path: Path, results: dict[str, dict], ledger_head: str,
                   history: History | None = None) -> Path | None:
    """Write the measured baseline (JSON + Markdown twin) for later experiments to reuse."""
    store = store_path(plan)
    if store is None:
        return None
    runs = sorted((r for r in map(as_record, results.values())
                   if r.data["role"] == BASELINE and r.data["stage"] == VARIANCE and r.ok),
                  key=lambda r: r.data["seed"])
    if len(runs) < len(plan.seed_protocol.baseline_seeds):
        return None
    from .registration import state

    prints = {k: v for k, v in state(plan_path, history).fingerprints.items()
              if k.startswith("code:")}
    metric = plan.primary.name
    payload = {
        "config_hash": config_hash(plan, prints), "source": plan.experiment_id,
        "ledger_head": ledger_head, "metric": metric, "direction": plan.primary.direction,
        "params": baseline_cell(plan).params(plan.design.fixed),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": [{"seed": r["data"]["seed"], "value": r["data"]["metrics"][metric],
                  "wall_time": r["data"]["metrics"].get("wall_time", r["data"]["wall_s"]),
                  "run_id": r["data"]["run_id"]} for r in runs],
    }
    if store.is_file() and _stored_config(store) not in (None, payload["config_hash"]):
        store = _variant(store, payload["config_hash"])  # keep the standard baseline intact
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    store.with_suffix(".md").write_text(baseline_markdown(payload), encoding="utf-8")
    return store


def baseline_markdown(payload: dict[str, Any]) -> str:
    """The human twin of the stored baseline (seed 003's baseline_variance report)."""
    runs = payload["runs"]
    metric = payload["metric"]
    lines = [f"# Baseline variance ({len(runs)} seeds)", "",
             f"Measured by experiment `{payload['source']}` on {payload['created']}; "
             f"configuration hash `{payload['config_hash'][:16]}`. Written by exante from the "
             "ledger; a change to the baseline configuration invalidates reuse.", "",
             "| Seed | " + metric + " | wall_time (s) |", "|---|---|---|"]
    lines += [f"| {r['seed']} | {r['value']:.4f} | {r['wall_time']:.1f} |" for r in runs]
    lines += ["", "| Metric | Mean | Std | Min | Max |", "|---|---|---|---|---|"]
    for name, key in ((metric, "value"), ("wall_time", "wall_time")):
        xs = np.array([r[key] for r in runs], dtype=float)
        lines.append(f"| {name} | {xs.mean():.4f} | {xs.std(ddof=1):.4f} | {xs.min():.4f} | "
                     f"{xs.max():.4f} |")
    lines += ["", "Std is the sample standard deviation (ddof = 1). The 2σ rule uses this σ.", ""]
    return "\n".join(lines)
