"""Seed 000's threshold family: PASS only if the acceptance expression holds, every trap
behaved as registered and tau is beaten by its margin; a misbehaving (or undecidable)
trap makes it INCONCLUSIVE."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import PlanError
from ..verdicts import Verdict
from .base import Family, rule_value, trap_problems


class ThresholdFamily(Family):
    name = "threshold"
    verdicts = (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE)

    def parse(self, reader, block: Mapping[str, Any]) -> dict[str, Any]:
        if block.get("acceptance") is None:
            raise PlanError("rule: threshold needs an `acceptance` expression", file=reader.file,
                            path="decision.acceptance")
        return {}

    def missing_for_run(self, plan) -> list[str]:
        if plan.decision.acceptance is not None:
            return []
        prose = " (acceptance_criterion is prose)" if "acceptance_criterion" in plan.raw else ""
        return [f"decision.acceptance{prose}: add `decision: {{rule: threshold, "
                "acceptance: <expression>}`, e.g. experiment.mean <= 0.85 * baseline.mean"]

    def decide(self, plan, analysis):
        return threshold_verdict(plan, analysis, trap_problems(analysis["traps"]))

    def describe(self, decision) -> str:
        return f"threshold: {decision.acceptance}" if decision.acceptance else "threshold"


def threshold_verdict(plan, analysis: Mapping[str, Any], problems: list[str]):
    """The threshold decision (also the study verdict of a factorial plan)."""
    scope = analysis["scope"]
    reasons = []
    acceptance = rule_value(plan, plan.decision.acceptance, scope, "decision.acceptance")
    if problems:
        return Verdict.INCONCLUSIVE, None, problems
    tau_ok = True
    if plan.tau is not None and plan.tau.must_beat and plan.tau.params:
        tau = analysis["tau"]
        tau_ok = bool(tau and tau.get("passed"))
        reasons.append(f"tau: {'beaten' if tau_ok else 'NOT beaten'} by margin "
                       f"{plan.tau.margin:g}" + ("" if tau else " (no tau result)"))
    if plan.decision.acceptance is None:
        factorial = analysis["factorial"]
        if factorial is None:
            return Verdict.INCONCLUSIVE, None, reasons + ["no acceptance rule registered"]
        acceptance = True
        reasons.append("factorial study: traps behaved and tau was beaten; the findings are the "
                       "per-factor verdicts")
    if acceptance is None:
        return Verdict.INCONCLUSIVE, None, reasons + ["acceptance rule undecided (missing "
                                                      "statistics)"]
    if plan.decision.acceptance is not None:
        reasons.insert(0, f"acceptance {plan.decision.acceptance!r}: {acceptance}")
    if acceptance and tau_ok:
        return Verdict.PASS, None, reasons
    return Verdict.FAIL, None, reasons
