"""Main effects of a factorial ablation as marginal-mean differences (STATS.md section 5).

A marginal mean is the unweighted mean of the cell means at one level of a
factor (averaging over every combination of the other factors), so unequal
seed counts per cell do not tilt it. Its CI uses the full (cell-means) model's
residual mean square and df: with 3x2x3 cells x 3 seeds that is df = 54 - 18 = 36.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats as sps

from exante.stats._common import (Direction, StatFlag, flags_tuple, json_value, record_dict,
                                  sign_of)
from exante.stats.anova import (AnovaTable, Levels, cell_table, factor_levels, factorial_anova,
                               prepare)

AVERAGED_TAG = "averaged over an interaction"


@dataclass(frozen=True)
class LevelEffect:
    """One level of a factor: its marginal mean and its difference from the reference.

    ``diff`` = sign * (mean - reference mean), metric units, positive = better;
    ``se`` and the CI come from the full model's residual MS. The reference
    level itself has diff 0 and no SE/CI.
    """

    level: Hashable
    mean: float
    n: int
    diff: float
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class MainEffect:
    """A factor's marginal means; ``tag`` is set when an interaction with it has p < alpha."""

    factor: str
    reference: Hashable
    levels: tuple[LevelEffect, ...]
    interactions: tuple[str, ...] = ()
    tag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class CellMean:
    """Mean of one cell; ``levels`` is ((factor, level), ...) in factor order."""

    levels: tuple[tuple[str, Hashable], ...]
    n: int
    mean: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``levels`` becomes {factor: level}."""
        return {"levels": {k: json_value(v) for k, v in self.levels},
                "n": self.n, "mean": float(self.mean)}


@dataclass(frozen=True)
class MainEffects:
    """Main effects of every factor, the cell means and the error term used."""

    direction: Direction
    ci_level: float
    effects: tuple[MainEffect, ...]
    cells: tuple[CellMean, ...]
    df_resid: int
    ms_resid: float | None
    flags: tuple[StatFlag, ...] = ()

    def effect(self, factor: str) -> MainEffect:
        """The main effect of ``factor``."""
        return next(e for e in self.effects if e.factor == factor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def main_effects(levels: Levels, y: Sequence[float], *,
                 reference: Mapping[str, Hashable] | None = None,
                 direction: Direction | str = "higher", ci: float = 0.95,
                 alpha: float = 0.05, anova: AnovaTable | None = None) -> MainEffects:
    """Marginal means per level and differences from each factor's reference level.

    Args:
        levels: factor name -> per-observation level list (length = len(y)).
        y: per-observation values; NaN/Inf/None are failed runs (excluded).
        reference: factor -> baseline level; default: the first level seen.
        direction: orientation of ``diff`` (positive = better).
        ci: level of the difference intervals.
        alpha: an interaction with p < alpha tags its factors' main effects.
        anova: a precomputed ``factorial_anova`` of the same data, else fitted here.
    """
    names, rows, y_f, n_failed = prepare(levels, y)
    cells = cell_table(rows, y_f)
    df_resid = int(y_f.size - len(cells))
    ss_within = sum(float(np.sum((v - v.mean()) ** 2)) for v in cells.values())
    ms = ss_within / df_resid if df_resid > 0 else None
    table = anova if anova is not None else factorial_anova(levels, y)
    flags = list(table.flags) + ([StatFlag.NO_RESIDUAL_DF] if ms is None else [])
    q = float(sps.t.ppf(0.5 + ci / 2.0, df_resid)) if ms is not None else None
    effects = []
    for j, name in enumerate(names):
        ref = (reference or {}).get(name, factor_levels(rows, j)[0])
        inter = _significant_interactions(table, name, alpha)
        per_level = _level_effects(cells, rows, j, ref, sign_of(direction), ms, q)
        effects.append(MainEffect(name, ref, per_level, inter, AVERAGED_TAG if inter else None))
    cell_means = tuple(CellMean(tuple(zip(names, k)), int(v.size), float(v.mean()))
                       for k, v in cells.items())
    return MainEffects(Direction(direction), ci, tuple(effects), cell_means, df_resid, ms,
                       flags_tuple(flags))


def _significant_interactions(table: AnovaTable, factor: str, alpha: float) -> tuple[str, ...]:
    """Interaction terms involving ``factor`` with p < alpha."""
    return tuple(t.term for t in table.terms if len(t.factors) > 1 and factor in t.factors
                 and t.p_value is not None and t.p_value < alpha)


def _marginal(cells: Mapping[tuple, np.ndarray], j: int,
              level: Hashable) -> tuple[float, float, int]:
    """(unweighted mean of cell means, variance coefficient sum(1/n_c)/K^2, n) at one level."""
    at = [v for k, v in cells.items() if k[j] == level]
    if not at:
        raise KeyError(level)
    k = len(at)
    mean = sum(float(v.mean()) for v in at) / k
    return mean, sum(1.0 / v.size for v in at) / (k * k), sum(int(v.size) for v in at)


def _level_effects(cells: Mapping[tuple, np.ndarray], rows: list[tuple], j: int,
                   ref: Hashable, sign: int, ms: float | None,
                   q: float | None) -> tuple[LevelEffect, ...]:
    """LevelEffect for every level of factor j against the reference level."""
    from exante.errors import InputError

    try:
        ref_mean, ref_c, _ = _marginal(cells, j, ref)
    except KeyError:
        raise InputError(f"reference: level {ref!r} has no finite observations") from None
    out = []
    for level in factor_levels(rows, j):
        mean, c, n = _marginal(cells, j, level)
        diff = sign * (mean - ref_mean)
        if level == ref or ms is None or q is None:
            out.append(LevelEffect(level, mean, n, diff))
            continue
        se = math.sqrt(ms * (c + ref_c))
        out.append(LevelEffect(level, mean, n, diff, se, diff - q * se, diff + q * se))
    return tuple(out)
