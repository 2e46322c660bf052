"""What every paper section reads: the saved files, the display units, the citations,
and the facts derived from the ledger, gathered once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from . import derived, view
from .bibliography import Citations
from .inputs import ReportInputs
from .units import Units, units_for


def nice(name: Any) -> str:
    """A factor or metric name in plain words: 'weight_decay' -> 'weight decay'."""
    return str(name).replace("_", " ")


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def and_list(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Numbering:
    """Figure and table numbers in order of first use in the body."""

    figures: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    def fig(self, name: str) -> int:
        if name not in self.figures:
            self.figures.append(name)
        return self.figures.index(name) + 1

    def table(self, name: str) -> int:
        if name not in self.tables:
            self.tables.append(name)
        return self.tables.index(name) + 1


@dataclass
class Ctx:
    inputs: ReportInputs
    u: Units
    cite: Citations
    runs: list[Mapping[str, Any]]
    compute: derived.Compute
    levels: dict[str, list[Any]]
    numbers: Numbering = field(default_factory=Numbering)

    @property
    def r(self) -> Mapping[str, Any]:
        return self.inputs.result

    @property
    def plan(self):
        return self.inputs.plan

    @property
    def f(self) -> dict[str, Any] | None:
        return view.factorial(self.r)

    @property
    def metric(self) -> str:
        from .units import metric_words

        return metric_words(view.metric_name(self.r))

    @property
    def alpha(self) -> float:
        return float(self.plan.analysis.alpha)

    def effect(self, factor: str) -> Mapping[str, Any] | None:
        return next((e for e in (self.f or {}).get("main_effects", []) if e["factor"] == factor),
                    None)

    def verdict(self, factor: str) -> str | None:
        return ((self.f or {}).get("factor_verdicts", {}).get(factor) or {}).get("verdict")

    def term(self, name: str) -> Mapping[str, Any] | None:
        return next((t for t in (self.f or {}).get("anova", []) if t["term"] == name), None)

    def margin_text(self) -> str | None:
        m = (self.f or {}).get("margin")
        if not m:
            return None
        return f"±{self.u.diff(m).lstrip('+')}" + (f" {self.u.diff_unit}" if self.u.diff_unit
                                                    else "")


def build(inputs: ReportInputs) -> Ctx:
    from .figures_factorial import factor_levels

    runs = derived.design_runs(inputs.history or inputs.records)
    return Ctx(inputs=inputs, u=units_for(inputs.result), cite=Citations(), runs=runs,
               compute=derived.compute(inputs.ledger), levels=factor_levels(inputs.result))
