"""Facts the paper needs that result.json does not hold, derived from the saved files.

Nothing here reruns a trial or changes a verdict. Three kinds of fact:

- **secondary metrics**: every registered secondary metric (and the training
  metrics a trial recorded beside them) summarised per cell and per factor
  level from the ledger's RUN_OK records;
- **simple effects and two-way means with CIs**: the same marginal-mean
  arithmetic as the main effects in result.json (unweighted means of cell
  means), with the error term result.json stored (its residual mean square
  and df), so the interaction plots and simple effects agree with the model
  the verdict used;
- **compute**: hardware, software and wall time as the runner measured them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from ..events import TERMINAL, Event
from ..history import History, as_history
from . import view

Result = Mapping[str, Any]


# ---------------------------------------------------------------- run records


def design_runs(records: "History | Iterable[Mapping[str, Any]]") -> list[Mapping[str, Any]]:
    """The latest finished record of each baseline/arm run (traps and τ are not design cells),
    as the History answers it."""
    history = as_history(records)
    return [r.data for r in history.terminal().values()
            if r.ok and r.data.get("role") in ("baseline", "arm")]


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class MetricLevels:
    """One recorded metric summarised per level of one factor: (level, mean, min cell, max cell)."""

    metric: str
    factor: str
    rows: tuple[tuple[Any, float, float, float, int], ...]


def metric_by_level(runs: Sequence[Mapping[str, Any]], metric: str,
                    factors: Mapping[str, Sequence[Any]]) -> list[MetricLevels]:
    """Per factor level: the unweighted mean of cell means of `metric`, and the range of the
    cell means (lowest and highest cell at that level), with the number of runs."""
    cells: dict[tuple, list[float]] = {}
    for run in runs:
        v = _finite((run.get("metrics") or {}).get(metric))
        if v is None:
            continue
        key = tuple((f, run.get("params", {}).get(f)) for f in factors)
        cells.setdefault(key, []).append(v)
    out = []
    for j, (factor, levels) in enumerate(factors.items()):
        rows = []
        for level in levels:
            means = [statistics.fmean(v) for k, v in cells.items() if _same(k[j][1], level)]
            n = sum(len(v) for k, v in cells.items() if _same(k[j][1], level))
            if means:
                rows.append((level, statistics.fmean(means), min(means), max(means), n))
        if rows:
            out.append(MetricLevels(metric, factor, tuple(rows)))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return str(a) == str(b)


def recorded_metrics(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the numeric metrics every design run recorded, in first-seen order."""
    names: list[str] = []
    for run in runs:
        for k, v in (run.get("metrics") or {}).items():
            if k not in names and _finite(v) is not None:
                names.append(k)
    return [k for k in names if all(k in (r.get("metrics") or {}) for r in runs)]


def train_counterpart(primary: str, available: Sequence[str]) -> str | None:
    """The training-set twin of the primary metric (test_acc -> train_acc), when recorded."""
    for prefix in ("test_", "val_", "eval_"):
        if primary.startswith(prefix):
            twin = "train_" + primary[len(prefix):]
            return twin if twin in available else None
    return None


# ---------------------------------------------------------------- two-way means


@dataclass(frozen=True)
class TwoWay:
    """Marginal means of the primary metric at each (level of a, level of b), with CIs."""

    a: str
    b: str
    rows: tuple[tuple[Any, Any, float, float | None, float | None], ...]  # (la, lb, mean, lo, hi)


def _cells(result: Result) -> list[tuple[dict[str, Any], float, int]]:
    f = view.factorial(result) or {}
    return [(c["levels"], float(c["mean"]), int(c.get("n") or 0)) for c in f.get("cell_means", [])
            if c.get("mean") is not None]


def _error_term(result: Result, differenced: Sequence[str] | None = None
                ) -> tuple[float | None, float | None]:
    """(mean square, df) of the error term for means or differences of cell means.

    Independent / blocked models: the residual that result.json's main effects used.
    Split plot: a difference taken within whole plots (``differenced`` names no
    whole-plot factor) uses the residual; anything else spans whole plots and uses
    the larger of the two strata (exact for whole-plot factors alone, conservative
    for a mix of the two)."""
    model = (result.get("factorial") or {}).get("model") or {}
    if model.get("type") == "split_plot":
        strata = {st["name"]: st for st in model.get("strata") or [] if st.get("ms") is not None}
        within = differenced is not None and not set(differenced) & set(model["whole_plot"])
        pick = ([strata.get("residual")] if within else
                sorted(strata.values(), key=lambda st: -st["ms"])[:1])
        if pick and pick[0] is not None:
            return float(pick[0]["ms"]), float(pick[0]["df"]) or None
    me = ((result.get("factorial") or {}).get("main_effects") or {})
    if isinstance(me, Mapping) and me.get("ms_resid") is not None:
        return float(me["ms_resid"]), float(me.get("df_resid") or 0) or None
    anova = ((result.get("factorial") or {}).get("anova") or {})
    if isinstance(anova, Mapping) and anova.get("ms_resid") is not None:
        return float(anova["ms_resid"]), float(anova.get("df_resid") or 0) or None
    return None, None


def _q(result: Result, df: float | None) -> float | None:
    if not df:
        return None
    from scipy import stats as sps

    level = float((result.get("factorial") or {}).get("main_effects", {}).get("ci_level", 0.95)
                  if isinstance((result.get("factorial") or {}).get("main_effects"), Mapping)
                  else 0.95)
    return float(sps.t.ppf(0.5 + level / 2.0, df))


def _slice(cells, fixed: Mapping[str, Any]) -> tuple[float, float] | None:
    """(unweighted mean of the matching cell means, sum(1/n)/K²) or None."""
    at = [(m, n) for lv, m, n in cells if all(_same(lv.get(k), v) for k, v in fixed.items())]
    if not at or any(n <= 0 for _, n in at):
        return None
    k = len(at)
    return sum(m for m, _ in at) / k, sum(1.0 / n for _, n in at) / (k * k)


def two_way(result: Result, a: str, b: str, levels: Mapping[str, Sequence[Any]]) -> TwoWay:
    """Means of a×b averaged over the other factors, each with a CI from the stored error term."""
    cells = _cells(result)
    ms, df = _error_term(result)
    q = _q(result, df)
    rows = []
    for la in levels[a]:
        for lb in levels[b]:
            s = _slice(cells, {a: la, b: lb})
            if s is None:
                continue
            mean, c = s
            half = q * math.sqrt(ms * c) if ms is not None and q is not None else None
            rows.append((la, lb, mean, None if half is None else mean - half,
                         None if half is None else mean + half))
    return TwoWay(a, b, tuple(rows))


@dataclass(frozen=True)
class SimpleEffect:
    """The effect of `factor` (level vs reference) within one level of `within`."""

    factor: str
    level: Any
    reference: Any
    within: str
    at: Any
    diff: float
    ci_low: float | None
    ci_high: float | None


def simple_effects(result: Result, factor: str, within: str,
                   levels: Mapping[str, Sequence[Any]]) -> list[SimpleEffect]:
    """Level-vs-reference differences of `factor` at each level of `within`, signed so that
    positive is better, with CIs from the stored error term (as the main effects)."""
    f = view.factorial(result) or {}
    effect = next((e for e in f.get("main_effects", []) if e["factor"] == factor), None)
    if effect is None:
        return []
    ref = effect["reference"]
    sign = -1.0 if view.direction(result) == "lower" else 1.0
    cells = _cells(result)
    ms, df = _error_term(result, (factor,))
    q = _q(result, df)
    out = []
    for at in levels[within]:
        base = _slice(cells, {factor: ref, within: at})
        for lv in levels[factor]:
            if _same(lv, ref):
                continue
            s = _slice(cells, {factor: lv, within: at})
            if s is None or base is None:
                continue
            diff = sign * (s[0] - base[0])
            half = q * math.sqrt(ms * (s[1] + base[1])) if ms is not None and q else None
            out.append(SimpleEffect(factor, lv, ref, within, at, diff,
                                    None if half is None else diff - half,
                                    None if half is None else diff + half))
    return out


def interaction_terms(result: Result, alpha: float) -> list[Mapping[str, Any]]:
    """Two-factor ANOVA terms, strongest first, each marked significant or not at alpha."""
    f = view.factorial(result) or {}
    terms = [t for t in f.get("anova", []) if str(t.get("term", "")).count(":") == 1]
    return sorted(terms, key=lambda t: (t.get("p") is None, t.get("p") or 1.0))


# ---------------------------------------------------------------- compute


@dataclass(frozen=True)
class Compute:
    """Hardware, software and time, as the runner recorded them."""

    cpus: tuple[str, ...] = ()
    cpu_count: int | None = None
    gpus: tuple[str, ...] = ()
    platform: str | None = None
    python: str | None = None
    packages: Mapping[str, str] = field(default_factory=dict)
    executors: tuple[str, ...] = ()
    workers: int | None = None
    runs: int = 0
    run_seconds: float = 0.0  # sum of per-run wall times
    elapsed_seconds: float | None = None  # first start to last finish
    peak_rss_mb: float | None = None
    load1: tuple[float, ...] = ()


def compute(records: "History | Sequence[Mapping[str, Any]]") -> Compute:
    history = as_history(records)
    finished = history.of(*TERMINAL)
    data = [r.data for r in finished]
    env = [d.get("env") or {} for d in data]
    cpus = tuple(dict.fromkeys(str(e["cpu"]) for e in env if e.get("cpu")))
    gpus = tuple(dict.fromkeys(str(g) for e in env for g in _as_list(e.get("gpu") or
                                                                      e.get("gpus"))))
    packages: dict[str, str] = {}
    for e in env:
        packages.update({str(k): str(v) for k, v in (e.get("packages") or {}).items()})
    sweeps = [r.data for r in history.of(Event.SWEEP_STARTED)]
    starts = history.of(Event.SWEEP_STARTED, Event.RUN_STARTED)
    elapsed = None
    if starts and finished:
        try:
            t0 = datetime.fromisoformat(starts[0].ts)
            t1 = datetime.fromisoformat(finished[-1].ts)
            elapsed = max(0.0, (t1 - t0).total_seconds())
        except (KeyError, ValueError):
            elapsed = None
    rss = [float(d["peak_rss_mb"]) for d in data if _finite(d.get("peak_rss_mb")) is not None]
    loads = tuple(float(d["load1"]) for d in data if _finite(d.get("load1")) is not None)
    counts = [int(e["cpu_count"]) for e in env if isinstance(e.get("cpu_count"), int)]
    return Compute(
        cpus=cpus, cpu_count=max(counts) if counts else None, gpus=gpus,
        platform=next((str(e["platform"]) for e in env if e.get("platform")), None),
        python=next((str(e["python"]) for e in env if e.get("python")), None),
        packages=packages,
        executors=tuple(dict.fromkeys(str(d.get("executor")) for d in data if d.get("executor"))),
        workers=max((int(s["workers"]) for s in sweeps if isinstance(s.get("workers"), int)),
                    default=None),
        runs=len(data), run_seconds=sum(float(d.get("wall_s") or 0.0) for d in data),
        elapsed_seconds=elapsed, peak_rss_mb=max(rss) if rss else None, load1=loads)


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def duration(seconds: float | None) -> str:
    """'1 h 02 min', '3 min 20 s', '4.2 s'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"
