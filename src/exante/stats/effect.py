"""Building blocks of a two-group comparison: Welch test, effect sizes,
rank and permutation statistics (STATS.md section 2).

Conventions: ``b`` and ``e`` are finite 1-D float arrays (baseline,
experiment); ``sign`` is +1 (higher is better) or -1 (lower is better) and
every signed output is oriented so that positive means the experiment improved.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

#: Above this many splits the permutation p is estimated by Monte Carlo.
EXACT_PERMUTATION_CAP = 200_000
#: Number of random splits used when the exact count exceeds the cap.
MONTE_CARLO_PERMUTATIONS = 100_000


class SizeLabel(str, Enum):
    """Cohen's conventional labels for |d| (STATS.md section 2)."""

    NEGLIGIBLE = "negligible"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


_LABEL_EDGES = ((0.2, SizeLabel.NEGLIGIBLE), (0.5, SizeLabel.SMALL),
                (0.8, SizeLabel.MEDIUM))


@dataclass(frozen=True)
class Welch:
    """Welch two-sample t-test of ``sign * (mean_e - mean_b)``.

    ``t`` and the interval are signed; ``p_two_sided`` is symmetric;
    ``p_better`` is the one-sided p for H1: Delta > 0, ``p_worse`` for Delta < 0.
    """

    diff: float
    se: float
    df: float
    t: float
    p_two_sided: float
    p_better: float
    p_worse: float


def welch(b: np.ndarray, e: np.ndarray, sb: float, se_: float, sign: int) -> Welch | None:
    """Welch test from the data and the (zero-variance-cleaned) SDs.

    Returns None when the standard error is 0 (both groups constant): scipy
    would report t = inf and p = 0 there, which is not evidence.
    """
    vb, ve = sb * sb / b.size, se_ * se_ / e.size
    se2 = vb + ve
    if se2 <= 0.0:
        return None
    df = se2 * se2 / (vb * vb / (b.size - 1) + ve * ve / (e.size - 1))
    diff = sign * (float(np.mean(e)) - float(np.mean(b)))
    t = diff / math.sqrt(se2)
    return Welch(diff, math.sqrt(se2), df, t, float(2.0 * sps.t.sf(abs(t), df)),
                 float(sps.t.sf(t, df)), float(sps.t.cdf(t, df)))


def welch_interval(w: Welch, level: float) -> tuple[float, float]:
    """Two-sided Welch t-interval of the signed difference at ``level``."""
    half = float(sps.t.ppf(0.5 + level / 2.0, w.df)) * w.se
    return w.diff - half, w.diff + half


def pooled_sd(sb: float, se_: float, nb: int, ne: int) -> float:
    """Classic n-weighted pooled SD of Cohen's d_s."""
    return math.sqrt(((ne - 1) * se_ * se_ + (nb - 1) * sb * sb) / (ne + nb - 2))


def protocol_sigma(sb: float, se_: float) -> float:
    """Seed-003 sigma_pooled: sqrt((s_b^2 + s_e^2) / 2), not weighted by n."""
    return math.sqrt((sb * sb + se_ * se_) / 2.0)


def hedges_j(m: int) -> float:
    """Exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)).

    ``m`` = n_e + n_b - 2 >= 2 (degrees of freedom of the pooled SD).
    """
    return math.exp(special.gammaln(m / 2.0) - 0.5 * math.log(m / 2.0)
                    - special.gammaln((m - 1) / 2.0))


def d_interval(d: float, nb: int, ne: int, level: float = 0.95) -> tuple[float, float] | None:
    """CI of d_s by inverting the noncentral t distribution.

    t_obs = d * sqrt(nb*ne/(nb+ne)) with df = nb+ne-2; the bounds are the
    noncentrality parameters with P(T <= t_obs) = (1 +- level)/2, rescaled to d.
    Returns None when a bound cannot be bracketed.
    """
    scale = math.sqrt(nb * ne / (nb + ne))
    t_obs, df = d * scale, nb + ne - 2
    tail = (1.0 - level) / 2.0
    lo = _solve_ncp(t_obs, df, 1.0 - tail)
    hi = _solve_ncp(t_obs, df, tail)
    if lo is None or hi is None:
        return None
    return lo / scale, hi / scale


def _solve_ncp(t_obs: float, df: int, target: float) -> float | None:
    """The ncp with nct.cdf(t_obs, df, ncp) == target (cdf falls as ncp rises).

    None where scipy's nct is unreliable (NaN or a numerical warning), which
    happens for |t| in the millions: a float-noise SD, not a real effect.
    """
    def f(ncp: float) -> float:
        value = float(sps.nct.cdf(t_obs, df, ncp)) - target
        if math.isnan(value):
            raise FloatingPointError("nct.cdf is NaN")
        return value

    width = 2.0 + abs(t_obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            for _ in range(12):
                lo, hi = t_obs - width, t_obs + width
                if f(lo) > 0.0 > f(hi):
                    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))
                width *= 2.0
        except (FloatingPointError, RuntimeWarning, ValueError):
            return None
    return None


def size_label(d: float) -> SizeLabel:
    """Label of |d|: < 0.2 negligible, < 0.5 small, < 0.8 medium, else large."""
    for edge, label in _LABEL_EDGES:
        if abs(d) < edge:
            return label
    return SizeLabel.LARGE


def labels_spanned(lo: float, hi: float) -> tuple[SizeLabel, ...]:
    """Every size label an interval [lo, hi] of d touches, smallest first."""
    small = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
    big = max(abs(lo), abs(hi))
    order = list(SizeLabel)
    first, last = order.index(size_label(small)), order.index(size_label(big))
    return tuple(order[first:last + 1])


def prob_improvement(b: np.ndarray, e: np.ndarray, sign: int) -> float:
    """P(a random experiment run beats a random baseline run), ties count 1/2.

    Equals U/(n_e*n_b) with U the Mann-Whitney statistic of ``e`` (for
    sign = +1; for sign = -1 "beats" means "is lower").
    """
    diff = sign * (e[:, None] - b[None, :])
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


@dataclass(frozen=True)
class Permutation:
    """Two-sided permutation p of |mean_e - mean_b| over group relabellings."""

    p: float
    exact: bool
    count: int


def permutation_p(b: np.ndarray, e: np.ndarray, rng: np.random.Generator) -> Permutation:
    """Two-sided permutation p of mean_e - mean_b, as ``scipy.stats.permutation_test``.

    Exact over all C(n_e+n_b, n_e) splits: p = min(1, 2 * min(P(T >= t), P(T <= t)))
    (twice the smaller tail; for 3 vs 5 fully separated groups that is 2/56, not
    the 1/56 of |T| >= |t|, whose tails are not symmetric when n_e != n_b).
    Above EXACT_PERMUTATION_CAP splits, MONTE_CARLO_PERMUTATIONS random splits
    drawn from ``rng`` give each tail as (1 + hits) / (1 + count), as scipy does.
    """
    x = np.concatenate([e, b])
    n, k = x.size, e.size
    total = math.comb(n, k)
    # the observed split through the same arithmetic as every other split, so a split that
    # ties it in exact arithmetic ties it in floating point too (swapping the groups then
    # gives the same p); the tolerance scales with the data, not with a near-zero difference
    observed = float(_split_stat(x, np.arange(k)[None, :])[0])
    scale = float(np.max(np.abs(x))) if x.size else 0.0
    if total <= EXACT_PERMUTATION_CAP:
        idx = np.fromiter(itertools.chain.from_iterable(
            itertools.combinations(range(n), k)), dtype=np.intp, count=total * k)
        stat = _split_stat(x, idx.reshape(total, k))
        return Permutation(_two_sided(stat, observed, 0, scale), True, total)
    # Chunks keep memory near 2M floats however large the groups are.
    rows = max(1, 2_000_000 // n)
    stats = []
    for start in range(0, MONTE_CARLO_PERMUTATIONS, rows):
        m = min(rows, MONTE_CARLO_PERMUTATIONS - start)
        idx = np.argpartition(rng.random((m, n)), k - 1, axis=1)[:, :k]
        stats.append(_split_stat(x, idx))
    return Permutation(_two_sided(np.concatenate(stats), observed, 1, scale), False,
                       MONTE_CARLO_PERMUTATIONS)


def _split_stat(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """mean_e - mean_b for each row of indices (rows = splits, cols = e members)."""
    k, n = idx.shape[1], x.size
    s_e = x[idx].sum(axis=1)
    return s_e / k - (x.sum() - s_e) / (n - k)


def _two_sided(stat: np.ndarray, observed: float, plus: int, scale: float) -> float:
    """Twice the smaller tail, capped at 1; splits within a relative float tolerance of the
    observed one (relative to the data's magnitude) count as ties."""
    tol = 100 * np.finfo(float).eps * max(abs(observed), scale)
    upper = (plus + np.count_nonzero(stat >= observed - tol)) / (plus + stat.size)
    lower = (plus + np.count_nonzero(stat <= observed + tol)) / (plus + stat.size)
    return float(min(1.0, 2.0 * min(upper, lower)))
