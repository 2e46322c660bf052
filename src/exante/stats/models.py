"""Main effects under the registered analysis model (STATS.md section 5).

``fit_model`` takes the same ``levels``/``y`` as ``factorial_anova`` plus one
block label per observation (the seed) and the registered model:

- balanced data: the exact ANOVA error terms (``strata``); each main effect is
  a marginal-mean difference with SE from its error term's mean square and a
  t interval on that term's df;
- unbalanced data under ``blocked``/``split_plot``: a linear mixed model
  (statsmodels MixedLM, REML) with cell-mean fixed effects and a random
  intercept per block (per whole plot for split-plot); contrasts of the
  cell means with their REML covariance, t on the between-within
  (containment) df of the same error stratum.

Every result says which method was used and how the df were taken.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats as sps

from exante.errors import InputError
from exante.stats._common import (Direction, StatFlag, flags_tuple, json_value, record_dict,
                                  sign_of)
from exante.stats.anova import Levels, factor_levels, factorial_anova
from exante.stats.strata import (MODELS, RESIDUAL, WHOLE_PLOT, Stratum, indicators,
                                 is_balanced, strata, whole_plot_ids)

ANOVA, MIXEDLM = "anova", "mixedlm"


@dataclass(frozen=True)
class ModelTerm:
    """A model term tested against its own error stratum (``error``, ``error_df``)."""

    term: str
    factors: tuple[str, ...]
    df: float
    F: float | None
    p_value: float | None
    error: str
    error_df: float
    sum_sq: float | None = None
    partial_eta_sq: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class ModelLevel:
    """One level's marginal mean and ``diff`` = sign*(mean - reference mean), positive = better.

    ``se``, ``df``, the CI and the two-sided ``p_value`` (H0: diff = 0) come from
    the error stratum named in ``error``; the reference level has none.
    """

    level: Hashable
    mean: float
    n: int
    diff: float
    se: float | None = None
    df: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class ModelEffect:
    """A factor's levels against its reference; ``interactions`` lists terms with p < alpha."""

    factor: str
    reference: Hashable
    error: str
    levels: tuple[ModelLevel, ...]
    interactions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


@dataclass(frozen=True)
class ModelFit:
    """The registered model fitted to the data, with how it was fitted."""

    model: str
    block: str | None
    whole_plot: tuple[str, ...]
    method: str
    df_rule: str
    direction: Direction
    ci_level: float
    terms: tuple[ModelTerm, ...]
    strata: tuple[Stratum, ...]
    effects: tuple[ModelEffect, ...]
    n: int
    n_failed: int
    n_blocks: int
    variance: Mapping[str, float | None]
    flags: tuple[StatFlag | str, ...] = ()

    def effect(self, factor: str) -> ModelEffect:
        """The main effect of ``factor``."""
        return next(e for e in self.effects if e.factor == factor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return {k: json_value(v) for k, v in record_dict(self).items()}


def fit_model(levels: Levels, y: Sequence[float], blocks: Sequence[Hashable] | None = None, *,
              model: str = "independent", whole_plot: Sequence[str] = (),
              block: str | None = "seed", reference: Mapping[str, Hashable] | None = None,
              direction: Direction | str = "higher", ci: float = 0.95,
              alpha: float = 0.05, sums_of_squares: bool = True) -> ModelFit:
    """Fit the registered model; see the module docstring.

    Args:
        levels: factor -> per-observation levels (length N).
        y: N values; NaN/Inf/None are failed runs (left out, counted).
        blocks: N block labels (e.g. seeds); needed unless model is independent.
        model: 'independent', 'blocked' or 'split_plot'.
        whole_plot: the whole-plot factors (split_plot only).
        block: the name of the block variable, for the record only.
        reference: factor -> reference level; default the first level seen.
        sums_of_squares: also the Type II sums of squares and partial eta^2 of each term
            (an OLS fit; a leave-one-out refit that only needs the intervals skips it).
    """
    names, rows, y_f, kept_blocks, n_failed = _prepare(levels, y, blocks, model, whole_plot)
    wp_index = [names.index(f) for f in whole_plot] if model == "split_plot" else []
    grid = [factor_levels(rows, j) for j in range(len(names))]
    n_grid = math.prod(len(g) for g in grid)
    flags: list[StatFlag | str] = [StatFlag.FAILED_RUNS] if n_failed else []
    balanced = is_balanced(model, rows, kept_blocks, wp_index, n_grid)
    if not balanced:
        flags.append(StatFlag.UNBALANCED)
    present = set(rows)
    if len(present) < n_grid:
        flags.append(StatFlag.MISSING_CELLS)
    st = strata(model, rows, y_f, kept_blocks, wp_index)
    error_of = _error_of(model, set(whole_plot))
    if StatFlag.MISSING_CELLS in flags or st[RESIDUAL].df < 1:
        method, rule, fitted = ANOVA, "not estimable", None
        flags.append(StatFlag.NO_RESIDUAL_DF if st[RESIDUAL].df < 1 else StatFlag.MISSING_CELLS)
    elif balanced or model == "independent":
        method, rule = ANOVA, "exact ANOVA error terms: t on the df of each term's error stratum"
        fitted = _anova_fit(names, rows, y_f, grid, st)
    else:
        method = MIXEDLM
        rule = ("REML mixed model; t on the between-within (containment) df of the term's "
                "error stratum, as the balanced design would give")
        fitted = _mixed_fit(model, rows, y_f, kept_blocks, wp_index, grid, st, flags)
    cells_order = list(itertools.product(*grid))
    effects, terms = (), ()
    if fitted is not None:
        beta, cov = fitted
        dfs = {name: s.df for name, s in st.items()}
        terms = _terms(names, grid, beta, cov, error_of, dfs, st,
                       method if sums_of_squares else None, levels, y)
        sig = {t.term: t for t in terms if len(t.factors) > 1 and t.p_value is not None
               and t.p_value < alpha}
        effects = tuple(_effect(names, j, grid, cells_order, rows, beta, cov,
                                (reference or {}).get(names[j], grid[j][0]),
                                sign_of(direction), ci, error_of((names[j],)), dfs,
                                tuple(k for k, t in sig.items() if names[j] in t.factors))
                        for j in range(len(names)))
    variance = _variance(model, st, fitted, method)
    return ModelFit(model, block if model != "independent" else None,
                    tuple(whole_plot) if model == "split_plot" else (), method, rule,
                    Direction(direction), ci, terms, tuple(st.values()), effects,
                    int(y_f.size), n_failed, len(set(kept_blocks)), variance,
                    flags_tuple(flags))


def _prepare(levels: Levels, y: Sequence[float], blocks: Sequence[Hashable] | None, model: str,
             whole_plot: Sequence[str]):
    if model not in MODELS:
        raise InputError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    names = list(levels)
    if not names:
        raise InputError("levels: expected at least one factor")
    y_arr = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    for name in names:
        if len(levels[name]) != y_arr.size:
            raise InputError(f"levels.{name}: expected {y_arr.size} levels, got "
                             f"{len(levels[name])}")
    if model != "independent" and (blocks is None or len(blocks) != y_arr.size):
        raise InputError(f"blocks: model {model!r} needs one block label per observation")
    blocks = list(blocks) if blocks is not None else [0] * y_arr.size
    if model == "split_plot":
        unknown = [f for f in whole_plot if f not in names]
        if not whole_plot or unknown or set(whole_plot) == set(names):
            raise InputError(f"whole_plot: expected a non-empty proper subset of the factors "
                             f"{names}, got {list(whole_plot)}")
    keep = np.isfinite(y_arr)
    rows = [tuple(levels[n][i] for n in names) for i in range(y_arr.size) if keep[i]]
    kept_blocks = [b for b, k in zip(blocks, keep) if k]
    return names, rows, y_arr[keep], kept_blocks, int(y_arr.size - keep.sum())


def _error_of(model: str, whole: set[str]):
    def error(factors: Sequence[str]) -> str:
        return WHOLE_PLOT if model == "split_plot" and set(factors) <= whole else RESIDUAL
    return error


def _cell_means(rows: list[tuple], y: np.ndarray, grid: list[list]) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """(cell means, counts) in grid (itertools.product) order."""
    order = {c: i for i, c in enumerate(itertools.product(*grid))}
    sums, counts = np.zeros(len(order)), np.zeros(len(order))
    for r, v in zip(rows, y):
        sums[order[r]] += v
        counts[order[r]] += 1
    return sums / counts, counts


def _anova_fit(names, rows, y, grid, st) -> tuple[np.ndarray, Any]:
    """Cell means; the covariance is per-stratum: diag(1/n_c) times the stratum MS."""
    means, counts = _cell_means(rows, y, grid)
    return means, ("anova", 1.0 / counts, {name: s.ms for name, s in st.items()})


def _mixed_fit(model, rows, y, blocks, wp_index, grid, st, flags) -> tuple[np.ndarray, Any]:
    """MixedLM REML: cell-mean fixed effects, random intercept per block / whole plot."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    order = list(itertools.product(*grid))
    x = indicators(list(rows) + order)[: len(rows)]  # columns in grid order
    group = list(blocks) if model == "blocked" else whole_plot_ids(rows, blocks, wp_index)
    codes = {g: i for i, g in enumerate(dict.fromkeys(group))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = MixedLM(y, x, groups=np.array([codes[g] for g in group])).fit(reml=True)
    for w in caught:
        flags.append(f"MIXEDLM_WARNING: {str(w.message).splitlines()[0][:160]}")
    k = x.shape[1]
    cov = np.asarray(fit.cov_params())[:k, :k]
    return np.asarray(fit.fe_params, dtype=float), ("mixedlm", cov, float(fit.scale),
                                                     float(np.asarray(fit.cov_re)[0, 0]))


def _cov_matrix(lmat: np.ndarray, cov: Any, err: str) -> np.ndarray | None:
    """Covariance of the contrasts ``lmat @ beta`` (rows = contrasts) in stratum ``err``."""
    if cov[0] == "anova":
        ms = cov[2][err]
        return None if ms is None else (lmat * cov[1]) @ lmat.T * ms
    return lmat @ cov[1] @ lmat.T


def _term_matrix(names, grid, factors) -> np.ndarray:
    """Rows: the term's contrasts over cell means (product order), others averaged."""
    mats = []
    for j, g in enumerate(grid):
        k = len(g)
        if names[j] in factors:
            mats.append(np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)]))
        else:
            mats.append(np.full((1, k), 1.0 / k))
    out = mats[0]
    for m in mats[1:]:
        out = np.kron(out, m)
    return out


def _terms(names, grid, beta, cov, error_of, dfs, st, method, levels, y) -> tuple[ModelTerm, ...]:
    """Every term of the full factorial against its stratum (Wald F on the cell means)."""
    ss = {}
    if method == ANOVA:
        ss = {t.term: t.sum_sq for t in factorial_anova(levels, y).terms}
    out = []
    for size in range(1, len(names) + 1):
        for factors in itertools.combinations(names, size):
            if any(len(grid[names.index(f)]) < 2 for f in factors):
                continue
            err = error_of(factors)
            ms, df_err = st[err].ms, dfs[err]
            lmat = _term_matrix(names, grid, factors)
            est = lmat @ beta
            v = _cov_matrix(lmat, cov, err)
            if v is None or ms is None:
                continue
            q = lmat.shape[0]
            F = float(est @ np.linalg.solve(v, est) / q)
            term = ":".join(factors)
            sum_sq = ss.get(term)
            eta = (sum_sq / (sum_sq + st[err].sum_sq)) if sum_sq is not None else None
            out.append(ModelTerm(term, factors, float(q), F, float(sps.f.sf(F, q, df_err)), err,
                                 float(df_err), sum_sq, eta))
    return tuple(out)


def _effect(names, j, grid, cells_order, rows, beta, cov, ref, sign, ci, err, dfs,
            interactions) -> ModelEffect:
    """Marginal-mean differences of factor j from ``ref`` with t intervals on the stratum df."""
    if ref not in grid[j]:
        raise InputError(f"reference: level {ref!r} of {names[j]} has no finite observations")
    k = len(cells_order) // len(grid[j])
    counts: dict[Hashable, int] = {}
    for r in rows:
        counts[r[j]] = counts.get(r[j], 0) + 1

    def at(level) -> np.ndarray:
        return np.array([1.0 / k if c[j] == level else 0.0 for c in cells_order])

    df = dfs[err]
    q = float(sps.t.ppf(0.5 + ci / 2.0, df)) if df > 0 else None
    out = []
    for level in grid[j]:
        mean = float(at(level) @ beta)
        vec = at(level) - at(ref)
        diff = sign * float(vec @ beta)
        if level == ref or q is None:
            out.append(ModelLevel(level, mean, counts.get(level, 0), diff))
            continue
        var = _cov_matrix(vec[None, :], cov, err)
        se = math.sqrt(max(float(var[0, 0]), 0.0)) if var is not None else None
        if not se:
            out.append(ModelLevel(level, mean, counts.get(level, 0), diff, se, df, error=err))
            continue
        p = float(2 * sps.t.sf(abs(diff / se), df))
        out.append(ModelLevel(level, mean, counts.get(level, 0), diff, se, float(df),
                              diff - q * se, diff + q * se, p, err))
    return ModelEffect(names[j], ref, err, tuple(out), interactions)


def _variance(model, st, fitted, method) -> dict[str, float | None]:
    """Variance components: REML estimates, or method-of-moments from the strata."""
    if fitted is None:
        return {}
    cov = fitted[1]
    if method == MIXEDLM:
        return {"residual": cov[2], "block": cov[3]}
    return {name: s.ms for name, s in st.items()}
