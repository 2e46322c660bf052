"""Numbers in the metric's own units, formatted one way everywhere a reader meets them.

A metric registered as a fraction (``unit: fraction correct``, or an accuracy
whose values all lie in [0, 1]) is shown as a percentage and its differences
in percentage points: 0.7134 prints "71.3%", a difference of 0.030 "+3.0
points". Any other metric keeps its own scale. The number of decimals follows
the run-to-run SD, so a reader sees the digits the seeds can support and no
more (two significant digits of the typical SD).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .fmt import DASH, _finite

_FRACTION_WORDS = ("fraction", "proportion", "accuracy", "rate")


_WORDS = {"acc": "accuracy", "val": "validation", "train": "training", "err": "error",
          "lr": "learning rate"}


def metric_words(name: str) -> str:
    """A metric name in words: 'test_acc' -> 'test accuracy', 'val_loss' -> 'validation loss'."""
    return " ".join(_WORDS.get(w, w) for w in str(name).split("_"))


@dataclass(frozen=True)
class Units:
    """How one metric's values and differences print.

    ``scale`` multiplies stored values (100 for fractions shown in percent);
    ``decimals`` is used for values, differences and interval ends alike.
    """

    metric: str
    scale: float = 1.0
    decimals: int = 3
    unit: str = ""

    @property
    def percent(self) -> bool:
        return self.scale == 100.0

    @property
    def diff_unit(self) -> str:
        """The unit a difference is read in: 'points' for percentages, else the metric's unit."""
        return "points" if self.percent else self.unit

    @property
    def words(self) -> str:
        return metric_words(self.metric)

    @property
    def axis(self) -> str:
        """An axis label for values."""
        return f"{self.words} (%)" if self.percent else (
            f"{self.words} ({self.unit})" if self.unit else self.words)

    @property
    def diff_axis(self) -> str:
        """An axis label for differences."""
        return f"Δ {self.words} ({self.diff_unit})" if self.diff_unit else f"Δ {self.words}"

    def x(self, v: Any) -> float | None:
        """A stored value on the display scale (None stays None)."""
        f = _finite(v)
        return None if f is None else f * self.scale

    def value(self, v: Any) -> str:
        f = self.x(v)
        if f is None:
            return DASH
        return f"{f:.{self.decimals}f}" + ("%" if self.percent else "")

    def diff(self, v: Any) -> str:
        """A signed difference without its unit: '+3.0', '−6.9'."""
        f = self.x(v)
        if f is None:
            return DASH
        text = f"{f:+.{self.decimals}f}"
        if float(text) == 0:
            return f"{0:.{self.decimals}f}"
        return text.replace("-", "−")

    def diff_u(self, v: Any) -> str:
        """A signed difference with its unit: '+3.0 points'."""
        text = self.diff(v)
        return text if text == DASH or not self.diff_unit else f"{text} {self.diff_unit}"

    def ci(self, lo: Any, hi: Any) -> str:
        """A difference interval: '[+2.1, +3.9]'."""
        if self.x(lo) is None or self.x(hi) is None:
            return DASH
        return f"[{self.diff(lo)}, {self.diff(hi)}]"

    def value_ci(self, lo: Any, hi: Any) -> str:
        if self.x(lo) is None or self.x(hi) is None:
            return DASH
        return f"[{self.value(lo)}, {self.value(hi)}]"

    def effect(self, d: Any, lo: Any, hi: Any, *, ci_level: str = "95%") -> str:
        """'+3.0 points (95% CI +2.1 to +3.9)': the form every finding is stated in."""
        if self.x(d) is None:
            return DASH
        if self.x(lo) is None or self.x(hi) is None:
            return self.diff_u(d)
        return f"{self.diff_u(d)} ({ci_level} CI {self.diff(lo)} to {self.diff(hi)})"

    def amount(self, v: Any) -> str:
        """An unsigned amount with its unit: '1.41 points' (an SD, a half-width, a margin)."""
        text = self.diff_u(v)
        return text.lstrip("+") if text != DASH else text

    def sd(self, v: Any) -> str:
        f = self.x(v)
        return DASH if f is None else f"{f:.{self.decimals}f}"


def _is_fraction(unit: str, name: str, values: list[float]) -> bool:
    text = f"{unit} {name}".lower()
    named = any(w in text for w in _FRACTION_WORDS) or name.lower().endswith("_acc")
    return named and bool(values) and all(0.0 <= v <= 1.0 for v in values)


def decimals_for(sd: float | None, scale: float) -> int:
    """Decimals that show two significant digits of a typical SD (0 to 6)."""
    if sd is None or not math.isfinite(sd) or sd <= 0:
        return 1 if scale == 100.0 else 3
    return max(0, min(6, 1 - math.floor(math.log10(sd * scale))))


def units_for(result: Mapping[str, Any], metric: str | None = None,
              values: Iterable[float] | None = None) -> Units:
    """The display units of the primary metric (or of `metric`, given its `values`)."""
    primary = result.get("primary") or {}
    name = metric or primary.get("name") or "metric"
    unit = str(primary.get("unit") or "") if metric is None else ""
    if values is None:
        cells = [c for c in result.get("cells") or [] if c.get("role") in ("baseline", "arm")]
        vals = [float(v) for c in cells for v in c.get("values") or [] if _finite(v) is not None]
        sds = [c["stats"]["sd"] for c in cells if _finite((c.get("stats") or {}).get("sd"))]
    else:
        vals = [float(v) for v in values if _finite(v) is not None]
        sds = []
    scale = 100.0 if _is_fraction(unit, name, vals) else 1.0
    sd = statistics.median(sds) if sds else (statistics.stdev(vals) if len(vals) > 2 else None)
    if sd is not None and sd > 0 and values is not None:
        sd = sd / 3  # a spread across cells is wider than one cell's seed SD
    return Units(name, scale, decimals_for(sd, scale), "" if scale == 100.0 else unit)
