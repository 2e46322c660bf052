"""Factorial ablations: full-factorial ANOVA and main effects (STATS.md section 5).

Inputs share one shape: ``levels`` maps each factor name to a list with one
level per observation (any hashable: str, int, float, bool), and ``y`` is the
list of observations (one per run, metric units, NaN/Inf = failed run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from exante.errors import InputError
from exante.stats._common import StatFlag, flags_tuple, json_float, record_dict

Levels = Mapping[str, Sequence[Hashable]]


@dataclass(frozen=True)
class AnovaTerm:
    """One model term: ``factors`` joined by ':' in ``term``; Type II SS."""

    term: str
    factors: tuple[str, ...]
    df: float
    sum_sq: float
    F: float | None
    p_value: float | None
    partial_eta_sq: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class AnovaTable:
    """Type II ANOVA of an OLS fit (full factorial unless ``additive``).

    ``n`` counts finite observations, ``n_cells`` the factor combinations that
    have at least one, ``n_cells_expected`` the full grid. With empty cells the
    full model is not estimable and the additive model is fitted instead
    (MISSING_CELLS, ADDITIVE_FALLBACK).
    """

    formula: str
    additive: bool
    terms: tuple[AnovaTerm, ...]
    df_resid: float
    ss_resid: float
    ms_resid: float | None
    n: int
    n_failed: int
    n_cells: int
    n_cells_expected: int
    flags: tuple[StatFlag, ...] = ()

    def term(self, name: str) -> AnovaTerm:
        """The term named like ``"a:b"`` (factor names, any order)."""
        want = set(name.split(":"))
        for t in self.terms:
            if set(t.factors) == want:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def prepare(levels: Levels, y: Sequence[float]) -> tuple[list[str], list[tuple], np.ndarray, int]:
    """Validate and drop failed runs: (factor names, level tuples, finite y, n_failed)."""
    names = list(levels)
    if not names:
        raise InputError("levels: expected at least one factor")
    y_arr = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    for name in names:
        if len(levels[name]) != y_arr.size:
            raise InputError(f"levels.{name}: expected {y_arr.size} levels (one per "
                             f"observation), got {len(levels[name])}")
    keep = np.isfinite(y_arr)
    rows = [tuple(levels[n][i] for n in names) for i in range(y_arr.size) if keep[i]]
    return names, rows, y_arr[keep], int(y_arr.size - keep.sum())


def factor_levels(rows: list[tuple], j: int) -> list[Hashable]:
    """Levels of factor j in order of first appearance."""
    return list(dict.fromkeys(r[j] for r in rows))


def cell_table(rows: list[tuple], y: np.ndarray) -> dict[tuple, np.ndarray]:
    """Observations grouped by cell (one level per factor), first-seen order."""
    cells: dict[tuple, list[float]] = {}
    for r, v in zip(rows, y):
        cells.setdefault(r, []).append(float(v))
    return {k: np.asarray(v) for k, v in cells.items()}


def factorial_anova(levels: Levels, y: Sequence[float], *, additive: bool = False) -> AnovaTable:
    """OLS ``y ~ C(a)*C(b)*...`` (or ``+`` when additive) with Type II sums of squares.

    Args:
        levels: factor name -> per-observation level list (length = len(y)).
        y: per-observation metric values; NaN/Inf/None are failed runs.
        additive: fit main effects only (must be pre-registered).

    Returns:
        AnovaTable with F, df, p and partial eta^2 = SS/(SS + SS_resid) per term.
    """
    names, rows, y_f, n_failed = prepare(levels, y)
    cells = cell_table(rows, y_f)
    grid = math.prod(len(factor_levels(rows, j)) for j in range(len(names)))
    flags = [StatFlag.FAILED_RUNS] if n_failed else []
    if len({v.size for v in cells.values()}) > 1:
        flags.append(StatFlag.UNBALANCED)
    if len(cells) < grid:
        flags.append(StatFlag.MISSING_CELLS)
        if not additive and len(names) > 1:
            flags.append(StatFlag.ADDITIVE_FALLBACK)
            additive = True
    joiner = " + " if additive else "*"
    head = (f"y ~ {joiner.join(f'C({n})' for n in names)}", additive)
    tail = (int(y_f.size), n_failed, len(cells), grid)
    n_params = len(cells) if not additive else 1 + sum(
        len(factor_levels(rows, j)) - 1 for j in range(len(names)))
    if y_f.size <= n_params:
        # No residual df: no F or p, and statsmodels' anova_lm fails outright.
        return AnovaTable(*head, (), 0.0, 0.0, None, *tail,
                          flags_tuple(flags + [StatFlag.NO_RESIDUAL_DF]))
    table, df_resid, ss_resid = _fit(names, rows, y_f, additive)
    terms = tuple(_term(names, key, row, ss_resid) for key, row in table)
    return AnovaTable(*head, terms, df_resid, ss_resid, ss_resid / df_resid, *tail,
                      flags_tuple(flags))


def _fit(names: list[str], rows: list[tuple], y: np.ndarray,
         additive: bool) -> tuple[list[tuple[str, dict]], float, float]:
    """statsmodels OLS + anova_lm(typ=2) on integer-coded factors f0, f1, ..."""
    import pandas as pd
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    data = {f"f{j}": _codes(rows, j) for j in range(len(names))}
    data["y"] = y
    joiner = " + " if additive else " * "
    formula = "y ~ " + joiner.join(f"C(f{j})" for j in range(len(names)))
    fit = smf.ols(formula, data=pd.DataFrame(data)).fit()
    table = anova_lm(fit, typ=2)
    terms = [(str(k), table.loc[k].to_dict()) for k in table.index if k != "Residual"]
    return terms, float(fit.df_resid), float(fit.ssr)


def _codes(rows: list[tuple], j: int) -> list[int]:
    index = {lvl: i for i, lvl in enumerate(factor_levels(rows, j))}
    return [index[r[j]] for r in rows]


def _term(names: list[str], key: str, row: dict, ss_resid: float) -> AnovaTerm:
    """Translate a statsmodels row ``C(f0):C(f2)`` back to factor names."""
    factors = tuple(names[int(part[3:-1])] for part in key.split(":"))
    ss = float(row["sum_sq"])
    eta = ss / (ss + ss_resid) if ss + ss_resid > 0 else None
    return AnovaTerm(":".join(factors), factors, float(row["df"]), ss,
                     json_float(row["F"]), json_float(row["PR(>F)"]), eta)
