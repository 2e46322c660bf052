"""Shared conventions of the statistics layer (STATS.md section 1).

Every function here is pure: arrays in, numbers out. Values arrive as any 1-D
array-like of floats; NaN and +-Inf mark failed runs, which are counted and
never silently dropped.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, Iterable

import numpy as np

from exante.errors import InputError

#: A sample SD at or below this multiple of max(1, |mean|) is treated as 0.
ZERO_VARIANCE_RTOL = 1e-12


class Direction(str, Enum):
    """Which way the primary metric improves."""

    HIGHER = "higher"
    LOWER = "lower"


class StatFlag(str, Enum):
    """Machine-readable caveats attached to statistical records."""

    ZERO_VARIANCE = "ZERO_VARIANCE"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    DEGENERATE = "DEGENERATE"
    FAILED_RUNS = "FAILED_RUNS"
    PERMUTATION_MONTE_CARLO = "PERMUTATION_MONTE_CARLO"
    D_CI_UNAVAILABLE = "D_CI_UNAVAILABLE"
    UNBALANCED = "UNBALANCED"
    MISSING_CELLS = "MISSING_CELLS"
    ADDITIVE_FALLBACK = "ADDITIVE_FALLBACK"
    NO_RESIDUAL_DF = "NO_RESIDUAL_DF"
    SIGN_CHANGE = "SIGN_CHANGE"
    NONPOSITIVE_TAU = "NONPOSITIVE_TAU"
    SIGMA_DEFINITION = "SIGMA_DEFINITION"
    VERDICT_TEST_DISAGREE = "VERDICT_TEST_DISAGREE"
    OPTIONAL_STOPPING = "OPTIONAL_STOPPING"
    EXTENSION_MISSING = "EXTENSION_MISSING"


def sign_of(direction: Direction | str) -> int:
    """+1 when higher is better, -1 when lower is better."""
    try:
        return 1 if Direction(direction) is Direction.HIGHER else -1
    except ValueError:
        raise InputError(
            f"direction: expected 'higher' or 'lower', got {direction!r}"
        ) from None


def split_finite(values: Iterable[float]) -> tuple[np.ndarray, int]:
    """Return (finite values as float64 1-D array, count of NaN/Inf values)."""
    if not isinstance(values, (np.ndarray, list, tuple)):
        values = list(values)
    try:
        # None becomes NaN here: a run without a value is a failed run.
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(f"expected a list of numbers, got {values!r:.80}") from None
    finite = np.isfinite(arr)
    return arr[finite], int(arr.size - finite.sum())


def clean_sd(x: np.ndarray) -> float | None:
    """Sample SD (ddof=1) of a finite 1-D array, 0.0 under the zero-variance rule.

    None when n < 2. The rule maps float noise such as ``[0.2, 0.2, 0.2]``
    (numpy gives about 3e-17) to exactly 0 so no effect size explodes.
    """
    if x.size < 2:
        return None
    s = float(np.std(x, ddof=1))
    if s <= ZERO_VARIANCE_RTOL * max(1.0, abs(float(np.mean(x)))):
        return 0.0
    return s


def json_float(x: Any) -> float | None:
    """A plain float, or None for None/NaN/Inf (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def json_value(x: Any) -> Any:
    """Convert numpy scalars, Enums and containers to JSON-safe plain values."""
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return json_float(x)
    if isinstance(x, dict):
        return {str(json_value(k)): json_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if x is None or isinstance(x, str):
        return x
    if hasattr(x, "to_dict"):
        return x.to_dict()
    return str(x)


def record_dict(record: Any) -> dict[str, Any]:
    """``to_dict`` for a frozen dataclass record: every field JSON-safe."""
    from dataclasses import fields

    return {f.name: json_value(getattr(record, f.name)) for f in fields(record)}


def flags_tuple(flags: Iterable[StatFlag]) -> tuple[StatFlag, ...]:
    """Deduplicate flags, keeping first-seen order."""
    return tuple(dict.fromkeys(flags))
