"""Pilot runs: what the ledger's PILOT records say, and what the lock makes of them.

Pilots are measured before the lock (`exante pilot`, or `exante import` before
it) on the plan's pilot metric (`metrics.pilot`, else its validation metric),
never on a test-split metric. They are not registered runs: no status count,
no verdict and no resume reads them (they are PILOT records, not RUN_OK /
RUN_FAILED). The lock reads them twice:

- `check_disjoint`: a registered seed that a pilot used is refused, naming the
  seeds and the YAML path (training is deterministic: a pilot on a registered
  seed *is* that registered run, looked at before the lock);
- `pilot_sigma`: the pooled within-cell SD of the pilot metric, the σ the
  design check then uses (and says so).
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Mapping

from .errors import RefusedError
from .history import History, Record
from .spec import Plan


def registered_seeds(plan: Plan) -> dict[str, tuple[int, ...]]:
    """YAML path -> the seeds registered there (design seeds, or the seed protocol's)."""
    proto = plan.seed_protocol
    if proto is None:
        return {"design.seeds": tuple(plan.design.seeds)}
    return {"seed_protocol.baseline_seeds": tuple(proto.baseline_seeds),
            "seed_protocol.stage1": tuple(proto.stage1),
            "seed_protocol.stage2": tuple(proto.stage2)}


def pilot_seeds(history: History) -> dict[int, int]:
    """seed -> the ledger seq of its first PILOT record."""
    out: dict[int, int] = {}
    for r in history.pilots():
        seed = r.data.get("seed")
        if isinstance(seed, int):
            out.setdefault(seed, r.seq)
    return out


def check_disjoint(plan: Plan, history: History, file: str) -> None:
    """Refuse registered seeds that pilots used (RefusedError naming the seeds and YAML path)."""
    used = pilot_seeds(history)
    for where, seeds in registered_seeds(plan).items():
        clash = sorted(s for s in set(seeds) if s in used)
        if clash:
            seqs = ", ".join(str(used[s]) for s in clash)
            raise RefusedError(
                f"{file}: {where}: registered seed(s) {clash} were already used by pilot runs "
                f"(PILOT records, ledger seq {seqs}); a registered run on a pilot seed would not "
                f"be the first look at it. Register seeds the pilots did not use (pilot seeds: "
                f"{sorted(used)})")


def pilot_metric_name(plan: Plan) -> str | None:
    """The metric pilot σ is read from: the plan's pilot metric, else the primary (imports)."""
    metric = plan.pilot_metric()
    if metric is not None:
        return metric.name
    if plan.primary is not None and plan.primary.split != "test":
        return plan.primary.name
    return None


def values_by_cell(records: Iterable[Record], metric: str) -> dict[str, list[float]]:
    """cell -> the finite pilot values of `metric` (failed pilots and other metrics left out)."""
    out: dict[str, list[float]] = {}
    for r in records:
        value = (r.data.get("metrics") or {}).get(metric)
        if r.data.get("ok", True) and isinstance(value, (int, float)) and math.isfinite(value):
            out.setdefault(str(r.data.get("cell")), []).append(float(value))
    return out


def pooled_sd(by_cell: Mapping[str, list[float]]) -> tuple[float | None, int]:
    """The pooled within-cell SD and its degrees of freedom (cells with ≥ 2 values)."""
    ss = df = 0.0
    for values in by_cell.values():
        if len(values) >= 2:
            ss += (len(values) - 1) * statistics.variance(values)
            df += len(values) - 1
    return (math.sqrt(ss / df) if df else None), int(df)


def pilot_sigma(plan: Plan, history: History) -> dict[str, Any] | None:
    """The pilots' measured σ of the pilot metric, with what it rests on; None without any."""
    metric = pilot_metric_name(plan)
    if metric is None:
        return None
    records = history.pilots()
    by_cell = values_by_cell(records, metric)
    sigma, df = pooled_sd(by_cell)
    if sigma is None:
        return None
    seeds = sorted({r.data.get("seed") for r in records if isinstance(r.data.get("seed"), int)})
    runs = sum(len(v) for v in by_cell.values())
    return {"sigma": sigma, "df": df, "metric": metric, "runs": runs, "cells": len(by_cell),
            "seeds": seeds,
            "source": f"pilot runs: pooled within-cell SD of {metric} over {runs} runs in "
                      f"{len(by_cell)} cell(s), seeds {seeds}, df {df}"
                      + (f" ({metric} standing in for {plan.primary.name}, which pilots never "
                         "measure)" if plan.primary and plan.primary.name != metric else "")}
