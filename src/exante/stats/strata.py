"""Error strata of the registered analysis model (STATS.md section 5).

Inputs: ``rows`` (one tuple of factor levels per finite observation), ``y``
(finite values, same length) and ``blocks`` (one block label per observation,
e.g. its seed). Everything is a least-squares projection on indicator
matrices, so the sums of squares are exact for balanced data and the
sequential (cells first) ones otherwise.

Models:
    independent   residual = within cells, df = N - cells
    blocked       y ~ cells + block: residual df = N - cells - (blocks - 1)
    split_plot    a whole plot is one block within one combination of the
                  whole-plot factors; whole-plot error = whole plots within
                  whole-plot cells, df = plots - whole-plot cells; split-plot
                  error = the rest
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np

from exante.stats._common import record_dict

MODELS = ("independent", "blocked", "split_plot")
RESIDUAL, WHOLE_PLOT, BLOCK = "residual", "whole_plot", "block"


@dataclass(frozen=True)
class Stratum:
    """One error stratum: its sum of squares, df and mean square (None when df = 0)."""

    name: str
    df: int
    sum_sq: float
    ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def indicators(labels: Sequence[Hashable]) -> np.ndarray:
    """(N, k) 0/1 matrix, one column per distinct label in first-seen order."""
    index = {v: i for i, v in enumerate(dict.fromkeys(labels))}
    out = np.zeros((len(labels), len(index)))
    out[np.arange(len(labels)), [index[v] for v in labels]] = 1.0
    return out


def ssr(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """(residual sum of squares, rank) of the least-squares fit of y on the columns of x."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    return float(resid @ resid), int(np.linalg.matrix_rank(x))


def whole_plot_ids(rows: list[tuple], blocks: Sequence[Hashable],
                   wp_index: Sequence[int]) -> list[tuple]:
    """The whole plot of each observation: (block, levels of the whole-plot factors)."""
    return [(b, *(r[j] for j in wp_index)) for r, b in zip(rows, blocks)]


def strata(model: str, rows: list[tuple], y: np.ndarray, blocks: Sequence[Hashable],
           wp_index: Sequence[int] = ()) -> dict[str, Stratum]:
    """The error strata of ``model``: {name: Stratum}; always has 'residual'.

    For ``blocked`` also 'block' (the block effect after the cells, not an error
    term), for ``split_plot`` 'whole_plot'.
    """
    x_cells = indicators(rows)
    ss_cells, rank_cells = ssr(x_cells, y)
    n = int(y.size)
    if model == "independent":
        return {RESIDUAL: _stratum(RESIDUAL, ss_cells, n - rank_cells)}
    group = list(blocks) if model == "blocked" else whole_plot_ids(rows, blocks, wp_index)
    ss_full, rank_full = ssr(np.hstack([x_cells, indicators(group)]), y)
    between = BLOCK if model == "blocked" else WHOLE_PLOT
    return {between: _stratum(between, max(ss_cells - ss_full, 0.0), rank_full - rank_cells),
            RESIDUAL: _stratum(RESIDUAL, ss_full, n - rank_full)}


def _stratum(name: str, ss: float, df: int) -> Stratum:
    return Stratum(name, int(df), float(ss), float(ss) / df if df > 0 else None)


def is_balanced(model: str, rows: list[tuple], blocks: Sequence[Hashable],
                wp_index: Sequence[int], n_grid: int) -> bool:
    """True when the exact ANOVA error terms apply: every cell present with equal counts and,
    for blocked/split-plot, every block once in every cell of its whole-plot combination."""
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    if len(counts) < n_grid or len(set(counts.values())) != 1:
        return False
    if model == "independent":
        return True
    pairs: dict[tuple, int] = {}
    for r, b in zip(rows, blocks):
        pairs[(r, b)] = pairs.get((r, b), 0) + 1
    if any(v != 1 for v in pairs.values()):
        return False
    by_cell: dict[tuple, set] = {}
    for r, b in zip(rows, blocks):
        by_cell.setdefault(r, set()).add(b)
    key = (lambda r: ()) if model == "blocked" else (lambda r: tuple(r[j] for j in wp_index))
    sets: dict[tuple, frozenset] = {}
    for r, bs in by_cell.items():
        if sets.setdefault(key(r), frozenset(bs)) != frozenset(bs):
            return False
    return True
