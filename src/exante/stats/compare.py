"""Experiment-vs-baseline comparison and equivalence (STATS.md sections 2, 6).

Every signed number is oriented so that positive means the experiment
improved: Delta = sign * (mean_exp - mean_base), sign = +1 for
direction="higher", -1 for "lower". p-values are two-sided unless named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from exante.errors import InputError
from exante.stats._common import (Direction, StatFlag, clean_sd, flags_tuple, record_dict,
                                  sign_of, split_finite)
from exante.stats.effect import (SizeLabel, d_interval, hedges_j, labels_spanned, permutation_p,
                                 pooled_sd, prob_improvement, protocol_sigma, size_label, welch,
                                 welch_interval)


@dataclass(frozen=True)
class Comparison:
    """One experiment-vs-baseline comparison.

    Units: ``mean_diff``, CI bounds and means are in metric units; ``cohens_d``
    (d_protocol, unweighted sigma), ``cohens_d_pooled`` (d_s, n-weighted),
    ``hedges_g`` (d_s * exact J), ``d_ci_*`` (CI of d_s) and the ``z_*`` values
    are in SD units. Undefined values are None and explained by ``flags``.
    """

    direction: Direction
    n_base: int
    n_exp: int
    n_failed_base: int
    n_failed_exp: int
    alpha: float
    ci_level: float
    mean_base: float | None = None
    mean_exp: float | None = None
    sd_base: float | None = None
    sd_exp: float | None = None
    mean_diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    welch_t: float | None = None
    welch_df: float | None = None
    p_value: float | None = None
    p_better: float | None = None
    p_worse: float | None = None
    significant: bool | None = None
    cohens_d: float | None = None
    cohens_d_pooled: float | None = None
    hedges_g: float | None = None
    d_ci_low: float | None = None
    d_ci_high: float | None = None
    d_label: SizeLabel | None = None
    d_labels_spanned: tuple[SizeLabel, ...] | None = None
    prob_improvement: float | None = None
    permutation_p: float | None = None
    permutation_exact: bool | None = None
    permutation_count: int | None = None
    z_base_sigma: float | None = None
    z_pooled_sigma: float | None = None
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: plain floats/ints/bools, None, lists of strings."""
        return record_dict(self)


def compare(baseline: Iterable[float], experiment: Iterable[float], *,
            direction: Direction | str = "higher", alpha: float = 0.05, ci: float = 0.95,
            rng: np.random.Generator | None = None) -> Comparison:
    """Compare an experiment's runs with the baseline's runs.

    Args:
        baseline, experiment: 1-D array-likes, one metric value per seed;
            NaN/Inf/None are failed runs, counted and excluded (FAILED_RUNS).
        direction: "higher" or "lower" is better.
        alpha: level for ``significant`` (two-sided Welch p < alpha).
        ci: level of the Welch interval of Delta and of the d_s interval.
        rng: used only when the permutation count exceeds the exact cap;
            None means ``numpy.random.default_rng(0)`` so reports reproduce.

    Returns:
        Comparison. t, p and d are None (never inf or 0) when both groups are
        constant (DEGENERATE); a group with n < 2 gives INSUFFICIENT_DATA.
    """
    sign = sign_of(direction)
    b, fail_b = split_finite(baseline)
    e, fail_e = split_finite(experiment)
    flags = [StatFlag.FAILED_RUNS] if fail_b or fail_e else []
    out: dict[str, Any] = dict(direction=Direction(direction), n_base=int(b.size),
                               n_exp=int(e.size), n_failed_base=fail_b, n_failed_exp=fail_e,
                               alpha=alpha, ci_level=ci)
    if b.size == 0 or e.size == 0:
        return Comparison(**out, flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    out.update(mean_base=float(np.mean(b)), mean_exp=float(np.mean(e)),
               mean_diff=sign * (float(np.mean(e)) - float(np.mean(b))),
               prob_improvement=prob_improvement(b, e, sign))
    perm = permutation_p(b, e, rng if rng is not None else np.random.default_rng(0))
    out.update(permutation_p=perm.p, permutation_exact=perm.exact, permutation_count=perm.count)
    if not perm.exact:
        flags.append(StatFlag.PERMUTATION_MONTE_CARLO)
    sb, se_ = clean_sd(b), clean_sd(e)
    out.update(sd_base=sb, sd_exp=se_)
    if sb is None or se_ is None:
        return Comparison(**out, flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    if sb == 0.0 or se_ == 0.0:
        flags.append(StatFlag.ZERO_VARIANCE)
    out.update(_welch_fields(b, e, sb, se_, sign, alpha, ci, flags))
    out.update(_effect_fields(out["mean_diff"], sb, se_, b.size, e.size, ci, flags))
    return Comparison(**out, flags=flags_tuple(flags))


def _welch_fields(b: np.ndarray, e: np.ndarray, sb: float, se_: float, sign: int,
                  alpha: float, ci: float, flags: list[StatFlag]) -> dict[str, Any]:
    """Welch t, df, p and interval; appends DEGENERATE when undefined."""
    w = welch(b, e, sb, se_, sign)
    if w is None:
        flags.append(StatFlag.DEGENERATE)
        return {}
    lo, hi = welch_interval(w, ci)
    return dict(welch_t=w.t, welch_df=w.df, p_value=w.p_two_sided, p_better=w.p_better,
                p_worse=w.p_worse, ci_low=lo, ci_high=hi, significant=w.p_two_sided < alpha)


def _effect_fields(delta: float, sb: float, se_: float, nb: int, ne: int, ci: float,
                   flags: list[StatFlag]) -> dict[str, Any]:
    """Cohen's d (both sigmas), Hedges g, the d_s interval and the z values."""
    out: dict[str, Any] = {}
    if sb > 0.0:
        out["z_base_sigma"] = delta / sb
    sigma_p = protocol_sigma(sb, se_)
    if sigma_p == 0.0:
        return out
    d_prot = delta / sigma_p
    d_s = delta / pooled_sd(sb, se_, nb, ne)
    out.update(cohens_d=d_prot, z_pooled_sigma=d_prot, cohens_d_pooled=d_s,
               hedges_g=d_s * hedges_j(nb + ne - 2), d_label=size_label(d_prot))
    interval = d_interval(d_s, nb, ne, ci)
    if interval is None:
        flags.append(StatFlag.D_CI_UNAVAILABLE)
        return out
    out.update(d_ci_low=interval[0], d_ci_high=interval[1],
               d_labels_spanned=labels_spanned(*interval))
    return out


@dataclass(frozen=True)
class Equivalence:
    """Welch TOST: is |Delta| < margin shown at level alpha?

    ``ci_low``/``ci_high`` is the (1 - 2*alpha) Welch interval of the signed
    Delta (metric units); ``p_lower`` tests H0: Delta <= -margin, ``p_upper``
    H0: Delta >= +margin; ``p_value`` is the larger. ``equivalent`` is True iff
    the interval lies strictly inside (-margin, +margin).
    """

    direction: Direction
    margin: float
    alpha: float
    ci_level: float
    n_base: int
    n_exp: int
    n_failed_base: int
    n_failed_exp: int
    mean_diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_lower: float | None = None
    p_upper: float | None = None
    p_value: float | None = None
    equivalent: bool = False
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def tost(baseline: Iterable[float], experiment: Iterable[float], margin: float, *,
         alpha: float = 0.05, direction: Direction | str = "higher") -> Equivalence:
    """Two one-sided Welch tests against the equivalence margin (STATS.md section 6).

    Args:
        baseline, experiment: 1-D array-likes of per-seed values (NaN = failed).
        margin: pre-registered equivalence margin delta_eq > 0, metric units.
        alpha: level of each one-sided test; the interval has level 1 - 2*alpha.
        direction: orientation of the reported Delta (the test is symmetric).

    Returns:
        Equivalence. ``equivalent`` is False whenever the test is undefined
        (n < 2: INSUFFICIENT_DATA; both groups constant: DEGENERATE).
    """
    if not margin > 0.0:
        raise InputError(f"margin: expected a positive number, got {margin!r}")
    sign = sign_of(direction)
    b, fail_b = split_finite(baseline)
    e, fail_e = split_finite(experiment)
    flags = [StatFlag.FAILED_RUNS] if fail_b or fail_e else []
    head: dict[str, Any] = dict(direction=Direction(direction), margin=float(margin),
                                alpha=alpha, ci_level=1.0 - 2.0 * alpha, n_base=int(b.size),
                                n_exp=int(e.size), n_failed_base=fail_b, n_failed_exp=fail_e)
    sb, se_ = clean_sd(b), clean_sd(e)
    if sb is None or se_ is None:
        return Equivalence(**head, flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    w = welch(b, e, sb, se_, sign)
    if w is None:
        return Equivalence(**head, mean_diff=sign * (float(np.mean(e)) - float(np.mean(b))),
                           flags=flags_tuple(flags + [StatFlag.ZERO_VARIANCE,
                                                      StatFlag.DEGENERATE]))
    if sb == 0.0 or se_ == 0.0:
        flags.append(StatFlag.ZERO_VARIANCE)
    lo, hi = welch_interval(w, 1.0 - 2.0 * alpha)
    from scipy import stats as sps

    p_lower = float(sps.t.sf((w.diff + margin) / w.se, w.df))
    p_upper = float(sps.t.cdf((w.diff - margin) / w.se, w.df))
    return Equivalence(**head, mean_diff=w.diff, ci_low=lo, ci_high=hi, p_lower=p_lower,
                       p_upper=p_upper, p_value=max(p_lower, p_upper),
                       equivalent=bool(-margin < lo and hi < margin), flags=flags_tuple(flags))
