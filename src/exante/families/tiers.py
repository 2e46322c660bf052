"""Seed 001's tiers family: CATASTROPHIC, STRICT, LENIENT or FAIL, in that order."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import PlanError
from ..verdicts import Verdict
from .base import Family, rule_value, trap_problems

TIERS = ("catastrophic", "strict", "lenient")


class TiersFamily(Family):
    name = "tiers"
    verdicts = (Verdict.CATASTROPHIC, Verdict.STRICT, Verdict.LENIENT, Verdict.FAIL,
                Verdict.INCONCLUSIVE)

    def parse(self, reader, block: Mapping[str, Any]) -> dict[str, Any]:
        if not (block.get("strict") or block.get("lenient")):
            raise PlanError("rule: tiers needs `strict` and/or `lenient` expressions",
                            file=reader.file, path="decision")
        return {}

    def decide(self, plan, analysis):
        t = plan.decision.tiers
        values = {name: rule_value(plan, getattr(t, name), analysis["scope"], f"decision.{name}")
                  for name in TIERS}
        reasons = [f"{name} {getattr(t, name)!r}: {v}" for name, v in values.items()
                   if getattr(t, name)]
        problems = trap_problems(analysis["traps"])
        if values["catastrophic"]:
            return Verdict.CATASTROPHIC, None, reasons
        if problems:
            return Verdict.INCONCLUSIVE, None, problems + reasons
        if values["strict"]:
            return Verdict.STRICT, None, reasons
        if values["lenient"]:
            return Verdict.LENIENT, None, reasons
        if any(v is None for n, v in values.items() if getattr(t, n)):
            return Verdict.INCONCLUSIVE, None, reasons + ["a tier rule is undecided (missing "
                                                          "statistics)"]
        return Verdict.FAIL, None, reasons

    def describe(self, decision) -> str:
        parts = [f"{n}: {getattr(decision.tiers, n)}" for n in ("strict", "lenient",
                                                                 "catastrophic")
                 if getattr(decision.tiers, n)]
        return "tiers — " + "; ".join(parts)
