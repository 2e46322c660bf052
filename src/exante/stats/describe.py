"""Per-configuration summary statistics (STATS.md section 2, "Per config")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from scipy import stats as sps

from exante.stats._common import StatFlag, clean_sd, flags_tuple, record_dict, split_finite


@dataclass(frozen=True)
class CellStats:
    """Summary of one configuration's runs (one scalar metric per seed).

    ``n`` counts finite runs, ``n_failed`` the NaN/Inf ones (excluded from every
    other number here). SD is the sample SD (ddof=1); SEM = SD/sqrt(n); the
    interval is the two-sided t-interval of the mean at level ``ci``.
    """

    n: int
    n_failed: int
    mean: float | None
    sd: float | None
    sem: float | None
    median: float | None
    min: float | None
    max: float | None
    ci_low: float | None
    ci_high: float | None
    ci: float
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: plain floats/ints, None for undefined values."""
        return record_dict(self)


def t_interval(mean: float, sem: float, df: float, ci: float) -> tuple[float, float]:
    """Two-sided t-interval ``mean +- t_{(1+ci)/2, df} * sem``."""
    half = float(sps.t.ppf(0.5 + ci / 2.0, df)) * sem
    return mean - half, mean + half


def describe(values: Iterable[float], *, ci: float = 0.95) -> CellStats:
    """Summarise one configuration's runs.

    Args:
        values: 1-D array-like, one metric value per seed; NaN/Inf/None are
            failed runs (counted in ``n_failed``, excluded from the rest).
        ci: confidence level of the t-interval of the mean, in (0, 1).

    Returns:
        CellStats. With n < 2 the SD, SEM and interval are None
        (INSUFFICIENT_DATA); with SD under the zero-variance rule the SD is
        exactly 0 and the interval collapses to the mean (ZERO_VARIANCE).
    """
    x, n_failed = split_finite(values)
    flags = [StatFlag.FAILED_RUNS] if n_failed else []
    n = int(x.size)
    if n == 0:
        flags.append(StatFlag.INSUFFICIENT_DATA)
        return CellStats(0, n_failed, None, None, None, None, None, None,
                         None, None, ci, flags_tuple(flags))
    mean = float(np.mean(x))
    sd = clean_sd(x)
    sem = ci_low = ci_high = None
    if sd is None:
        flags.append(StatFlag.INSUFFICIENT_DATA)
    else:
        sem = sd / math.sqrt(n)
        if sd == 0.0:
            flags.append(StatFlag.ZERO_VARIANCE)
            ci_low = ci_high = mean
        else:
            ci_low, ci_high = t_interval(mean, sem, n - 1, ci)
    return CellStats(n, n_failed, mean, sd, sem, float(np.median(x)),
                     float(np.min(x)), float(np.max(x)), ci_low, ci_high, ci,
                     flags_tuple(flags))
