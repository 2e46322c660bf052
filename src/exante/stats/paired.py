"""Paired comparison of two cells that share their blocks (seeds): STATS.md section 5.

``b`` and ``e`` are aligned by block (b[i] and e[i] ran with the same seed);
a pair with a NaN/Inf on either side is a failed run and leaves the pair out
(counted in ``n_failed_pairs``). Delta = sign * (e - b), positive = better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats as sps

from exante.stats._common import (Direction, StatFlag, clean_sd, flags_tuple, record_dict,
                                  sign_of)


@dataclass(frozen=True)
class Paired:
    """Paired t on the per-block differences; ``d_z`` = mean(Δ) / SD(Δ)."""

    direction: Direction
    n_pairs: int
    n_failed_pairs: int
    ci_level: float
    delta: float | None = None
    sd_diff: float | None = None
    se: float | None = None
    df: int | None = None
    t: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    d_z: float | None = None
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def paired_compare(b: Sequence[float], e: Sequence[float], *,
                   direction: Direction | str = "higher", ci: float = 0.95) -> Paired:
    """Paired Δ, its t interval on n - 1 df, two-sided p (``scipy.stats.ttest_rel``) and d_z."""
    bb = np.asarray([np.nan if v is None else v for v in b], dtype=float)
    ee = np.asarray([np.nan if v is None else v for v in e], dtype=float)
    if bb.shape != ee.shape:
        from exante.errors import InputError
        raise InputError(f"paired: expected equal lengths, got {bb.size} and {ee.size}")
    keep = np.isfinite(bb) & np.isfinite(ee)
    d = sign_of(direction) * (ee[keep] - bb[keep])
    n, failed = int(d.size), int(keep.size - keep.sum())
    head = dict(direction=Direction(direction), n_pairs=n, n_failed_pairs=failed, ci_level=ci)
    flags = [StatFlag.FAILED_RUNS] if failed else []
    if n < 2:
        return Paired(**head, delta=float(d.mean()) if n else None,
                      flags=flags_tuple(flags + [StatFlag.INSUFFICIENT_DATA]))
    mean, sd = float(d.mean()), clean_sd(d)
    if not sd:
        return Paired(**head, delta=mean, sd_diff=0.0, se=0.0, df=n - 1,
                      flags=flags_tuple(flags + [StatFlag.ZERO_VARIANCE]))
    se = sd / math.sqrt(n)
    t = mean / se
    q = float(sps.t.ppf(0.5 + ci / 2, n - 1))
    return Paired(**head, delta=mean, sd_diff=sd, se=se, df=n - 1, t=t,
                  p_value=float(2 * sps.t.sf(abs(t), n - 1)), ci_low=mean - q * se,
                  ci_high=mean + q * se, d_z=mean / sd, flags=flags_tuple(flags))
