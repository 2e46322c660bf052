"""Intra-block correlation: do runs that share a block (a seed) move together?

The runs of one block are compared after the cell means are removed
(``y ~ cells + block``): with k runs per block, the block mean square has
expectation sigma_e^2 + k sigma_b^2, so the intra-block correlation
rho = sigma_b^2 / (sigma_b^2 + sigma_e^2) is estimated by
(MS_B - MS_E) / (MS_B + (k - 1) MS_E), with the exact F-based interval of the
balanced one-way model (Searle 1971; Shrout & Fleiss ICC(1)). Unbalanced
blocks use k0 = (N - sum n_i^2 / N) / (b - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
from scipy import stats as sps

from exante.stats._common import record_dict
from exante.stats.strata import indicators, ssr


@dataclass(frozen=True)
class BlockCorrelation:
    """rho with its CI, the F test of rho = 0 (``p_value``), k runs per block, b blocks."""

    rho: float | None
    ci_low: float | None
    ci_high: float | None
    F: float | None
    df_block: int
    df_resid: int
    p_value: float | None
    k: float
    n_blocks: int
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def block_correlation(rows: Sequence[Hashable], y: Sequence[float], blocks: Sequence[Hashable],
                      *, ci: float = 0.95) -> BlockCorrelation:
    """Intra-block correlation of ``y`` after removing cell means.

    Args:
        rows: one cell label per observation (e.g. a tuple of factor levels).
        y: finite values (N).
        blocks: one block label per observation (N).
        ci: level of the interval.
    """
    y_arr = np.asarray(y, dtype=float)
    rows, blocks = list(rows), list(blocks)
    x_cells = indicators(rows)
    ss_cells, r_cells = ssr(x_cells, y_arr)
    ss_full, r_full = ssr(np.hstack([x_cells, indicators(blocks)]), y_arr)
    df_b, df_e = r_full - r_cells, y_arr.size - r_full
    sizes = np.array(list({b: blocks.count(b) for b in dict.fromkeys(blocks)}.values()), float)
    b = sizes.size
    n = float(sizes.sum())
    k = float((n - np.sum(sizes ** 2) / n) / (b - 1)) if b > 1 else float(n)
    if df_b < 1 or df_e < 1 or ss_full <= 0:
        return BlockCorrelation(None, None, None, None, int(df_b), int(df_e), None, k, b, ci)
    ms_b, ms_e = max(ss_cells - ss_full, 0.0) / df_b, ss_full / df_e
    f = ms_b / ms_e
    q = sps.f.ppf(0.5 + ci / 2, df_b, df_e)
    q_rev = sps.f.ppf(0.5 + ci / 2, df_e, df_b)
    lo, hi = f / q, f * q_rev
    def rho(x: float) -> float:
        return float((x - 1) / (x + k - 1))
    return BlockCorrelation(rho(f), rho(lo), rho(hi), float(f), int(df_b), int(df_e),
                            float(sps.f.sf(f, df_b, df_e)), k, b, ci)
