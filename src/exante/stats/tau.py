"""The tau baseline: best of N random-parameter instantiations (STATS.md section 7).

tau = max of the tau scores (higher is better) or min (lower is better). The
pass threshold (1 + margin) * tau, or (1 - margin) * tau when lower is better,
only means something for a metric with a fixed sign on a ratio scale, so the
summary is refused when tau <= 0 or the scores change sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from scipy import stats as sps

from exante.stats._common import (Direction, StatFlag, clean_sd, flags_tuple, record_dict,
                                  sign_of, split_finite)


@dataclass(frozen=True)
class TauSummary:
    """The method's seeds judged against tau.

    ``passed`` is True iff the method's mean is at or beyond the threshold
    (inclusive), None when refused or when no method run finished.
    ``frac_beyond_threshold`` counts seeds at or beyond the threshold.
    ``t_stat``/``df``/``p_value`` are a one-sided one-sample t-test of the method
    mean against the threshold, treating tau as fixed (H1: beyond it).
    ``rank_null_p`` = 1/C(N + n, n) when every method seed beats every tau
    score (strictly), else None. ``refused`` is True with SIGN_CHANGE or
    NONPOSITIVE_TAU; the numbers that depend on the threshold are then None.
    """

    direction: Direction
    margin: float
    n_tau: int
    n_failed_tau: int
    n_method: int
    n_failed_method: int
    refused: bool
    tau: float | None = None
    threshold: float | None = None
    tau_mean: float | None = None
    tau_sd: float | None = None
    method_mean: float | None = None
    method_sd: float | None = None
    frac_beyond_threshold: float | None = None
    t_stat: float | None = None
    df: int | None = None
    p_value: float | None = None
    all_beat_tau: bool | None = None
    rank_null_p: float | None = None
    passed: bool | None = None
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def tau_summary(tau_scores: Iterable[float], method_scores: Iterable[float], *,
                direction: Direction | str, margin: float = 0.10) -> TauSummary:
    """Summarise the method against tau.

    Args:
        tau_scores: 1-D array-like, one score per random instantiation (N = 10
            in the default plan); NaN/Inf count as failed (FAILED_RUNS).
        method_scores: 1-D array-like, one score per method seed.
        direction: "higher" or "lower" is better.
        margin: relative margin; threshold = (1 + sign*margin) * tau.
    """
    sign = sign_of(direction)
    t, fail_t = split_finite(tau_scores)
    m, fail_m = split_finite(method_scores)
    flags = [StatFlag.FAILED_RUNS] if fail_t or fail_m else []
    head: dict[str, Any] = dict(direction=Direction(direction), margin=float(margin),
                                n_tau=int(t.size), n_failed_tau=fail_t, n_method=int(m.size),
                                n_failed_method=fail_m)
    if t.size == 0:
        return TauSummary(**head, refused=False,
                          flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    tau = float(np.max(t) if sign > 0 else np.min(t))
    spread = dict(tau=tau, tau_mean=float(np.mean(t)), tau_sd=clean_sd(t))
    refusal = _refusal(tau, np.concatenate([t, m]))
    if refusal is not None:
        return TauSummary(**head, **spread, refused=True, flags=flags_tuple(flags + [refusal]))
    threshold = (1.0 + sign * margin) * tau
    if m.size == 0:
        return TauSummary(**head, **spread, refused=False, threshold=threshold,
                          flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    method_mean = float(np.mean(m))
    all_beat = bool(np.all(sign * (m - tau) > 0))
    return TauSummary(
        **head, **spread, refused=False, threshold=threshold, method_mean=method_mean,
        method_sd=clean_sd(m),
        frac_beyond_threshold=float(np.mean(sign * (m - threshold) >= 0)),
        **_one_sided_t(m, threshold, sign, flags), all_beat_tau=all_beat,
        rank_null_p=1.0 / math.comb(t.size + m.size, m.size) if all_beat else None,
        passed=bool(sign * (method_mean - threshold) >= 0), flags=flags_tuple(flags))


def _refusal(tau: float, scores: np.ndarray) -> StatFlag | None:
    """Why a ratio threshold on tau is meaningless here, or None."""
    if float(np.min(scores)) < 0.0 < float(np.max(scores)):
        return StatFlag.SIGN_CHANGE
    if tau <= 0.0:
        return StatFlag.NONPOSITIVE_TAU
    return None


def _one_sided_t(m: np.ndarray, threshold: float, sign: int,
                 flags: list[StatFlag]) -> dict[str, Any]:
    """One-sample t of the method mean against the threshold, H1: beyond it."""
    sd = clean_sd(m)
    if sd is None:
        flags.append(StatFlag.INSUFFICIENT_DATA)
        return {}
    if sd == 0.0:
        flags.append(StatFlag.ZERO_VARIANCE)
        return {}
    t = sign * (float(np.mean(m)) - threshold) / (sd / math.sqrt(m.size))
    return dict(t_stat=t, df=int(m.size - 1), p_value=float(sps.t.sf(t, m.size - 1)))
