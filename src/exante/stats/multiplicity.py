"""Family-wise error control across the pre-registered family (STATS.md section 4)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from exante.errors import InputError


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values, in the input order.

    Args:
        p_values: one p per pre-registered comparison; None or NaN entries (an
            undefined test) pass through as None and do not count towards m.

    Returns:
        list of the same length; adjusted p = min(1, max over j <= i of
        (m - j + 1) * p_(j)) for the i-th smallest p. Matches statsmodels
        ``multipletests(method="holm")``.
    """
    raw = [None if p is None or not math.isfinite(float(p)) else float(p) for p in p_values]
    for p in raw:
        if p is not None and not 0.0 <= p <= 1.0:
            raise InputError(f"p_values: expected numbers in [0, 1], got {p!r}")
    valid = [i for i, p in enumerate(raw) if p is not None]
    out: list[float | None] = [None] * len(raw)
    if valid:
        adjusted = holm_rows(np.array([[raw[i] for i in valid]]))[0]
        for i, a in zip(valid, adjusted):
            out[i] = float(a)
    return out


def holm_rows(p: np.ndarray) -> np.ndarray:
    """Holm adjustment applied independently to each row.

    Args:
        p: shape (reps, m) array of p-values, no NaN.

    Returns:
        shape (reps, m) adjusted p-values in the original column order.
    """
    p = np.asarray(p, dtype=float)
    m = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1) * np.arange(m, 0, -1)
    ranked = np.minimum(np.maximum.accumulate(ranked, axis=1), 1.0)
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, ranked, axis=1)
    return out


def familywise_false_pass(per_cell_rate: float, k: int) -> float:
    """P(at least one false pass among k independent null cells): 1 - (1 - r)^k.

    Cells that share a baseline are not independent; see
    ``simulate_shared_baseline`` for that case.
    """
    if not 0.0 <= per_cell_rate <= 1.0 or k < 0:
        raise InputError(f"expected a rate in [0, 1] and k >= 0, got {per_cell_rate!r}, {k!r}")
    return 1.0 - (1.0 - per_cell_rate) ** k


def expected_false_passes(per_cell_rate: float, k: int) -> float:
    """Expected number of false passes among k null cells: k * r (shared baseline or not)."""
    return k * per_cell_rate
