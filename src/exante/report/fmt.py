"""Number formatting shared by every report, so Markdown, HTML and slides agree digit for digit.

Undefined numbers (None in result.json) print as an em dash, never as 0 or
"nan": a reader must see that a value does not exist.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

DASH = "—"


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def num(x: Any, digits: int = 4) -> str:
    """A metric value: fixed decimals, or 4 significant digits when very large or small."""
    v = _finite(x)
    if v is None:
        return DASH
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 10 ** -(digits - 1)):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def signed(x: Any, digits: int = 4) -> str:
    """Like `num`, with an explicit + for positive values (differences, effects)."""
    v = _finite(x)
    if v is None:
        return DASH
    return ("+" if v > 0 else "") + num(v, digits)


def eff(x: Any) -> str:
    """An effect size or z in SD units: two decimals, signed."""
    v = _finite(x)
    return DASH if v is None else f"{v:+.2f}"


def pval(p: Any) -> str:
    """A p-value: three decimals, '< 0.001' below that."""
    v = _finite(p)
    if v is None:
        return DASH
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def p_eq(p: Any) -> str:
    """'p = 0.108' or 'p < 0.001' (for running text)."""
    text = pval(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def level(x: Any) -> str:
    """A confidence level as a percent: 0.95 -> '95%'."""
    v = _finite(x)
    return DASH if v is None else f"{100 * v:g}%"


def pct(x: Any, *, signed_: bool = True) -> str:
    """A percentage given as a percent number (12.5 -> '+12.5%')."""
    v = _finite(x)
    if v is None:
        return DASH
    return f"{v:+.1f}%" if signed_ else f"{v:.1f}%"


def frac(x: Any) -> str:
    """A probability or rate in [0, 1] as a percent ('0.031' -> '3.1%')."""
    v = _finite(x)
    return DASH if v is None else f"{100 * v:.1f}%"


def ci(lo: Any, hi: Any, fn=num) -> str:
    """An interval '[lo, hi]'; a dash when either end is undefined."""
    if _finite(lo) is None or _finite(hi) is None:
        return DASH
    return f"[{fn(lo)}, {fn(hi)}]"


def integer(x: Any) -> str:
    v = _finite(x)
    return DASH if v is None else str(int(round(v)))


def df(x: Any) -> str:
    """Degrees of freedom: an integer when whole, else one decimal (Welch)."""
    v = _finite(x)
    if v is None:
        return DASH
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def yes_no(x: Any) -> str:
    return DASH if x is None else ("yes" if x else "no")


def passed(x: Any) -> str:
    """A registered check: PASSED / FAILED / UNDECIDED (None: too few runs to tell)."""
    return "UNDECIDED" if x is None else ("PASSED" if x else "FAILED")


def levels(levels: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in levels.items()) or "—"


def seeds(values: Iterable[Any]) -> str:
    return ", ".join(str(s) for s in values) or "—"


def short(digest: str | None, n: int = 12) -> str:
    return DASH if not digest else digest[:n]


def get(mapping: Mapping[str, Any] | None, *keys: str, default: Any = None) -> Any:
    """The first key present (and not None) in `mapping`; result.json names vary by producer."""
    if not mapping:
        return default
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return default
