"""Seed 003's sigma family: WINNER / NEUTRAL (with its tier) / LOSER by the 2σ rule."""

from __future__ import annotations

from typing import Any

from ..design import ARM
from ..verdicts import Verdict
from .base import Family, RateInputs


class SigmaFamily(Family):
    name = "sigma"
    verdicts = (Verdict.WINNER, Verdict.NEUTRAL, Verdict.LOSER, Verdict.INCONCLUSIVE)

    def decide(self, plan, analysis):
        arm = next((c for c in analysis["comparisons"] if c["role"] == ARM), None)
        if arm is None:
            return Verdict.INCONCLUSIVE, None, ["no experiment arm has results"]
        sv = arm["sigma"]
        z = sv.get("z")
        reasons = [f"z = {z:+.3f} under rule {sv['rule']} (threshold {sv['threshold']:g})"
                   if z is not None else "z undefined (zero or unknown baseline variance)"]
        verdict = arm["sigma_verdict"]
        if verdict not in (Verdict.WINNER, Verdict.NEUTRAL, Verdict.LOSER):
            verdict = Verdict.INCONCLUSIVE
        return Verdict(verdict), arm.get("sigma_tier"), reasons

    def describe(self, decision) -> str:
        which = "baseline SD (rule A)" if decision.sigma == "baseline" else "pooled SD (rule B)"
        return f"sigma: WINNER at z ≥ {decision.threshold:g}, σ = {which}"

    def design_rates(self, plan, inputs: RateInputs) -> dict[str, Any]:
        from .. import stats

        d = plan.decision
        common = dict(n_base=inputs.n_base, n_stage1=inputs.n_exp, n_stage2=inputs.n_stage2,
                      rule=_rule(plan), threshold=d.threshold, reps=inputs.reps, rng=inputs.rng)
        null = stats.simulate_sigma_protocol(d=0.0, **common)
        alt = stats.simulate_sigma_protocol(d=d.smallest_effect, **common)
        return {"false_pass_rate": null.p_winner, "power": alt.p_winner,
                "extension_rate_null": null.p_extension}

    def familywise(self, plan, inputs: RateInputs, out) -> dict[str, Any]:
        """k arms share one baseline: the familywise rate is simulated, not multiplied."""
        if inputs.k <= 1:
            return {}
        from .. import stats

        shared = stats.simulate_shared_baseline(
            k=inputs.k, d=0.0, n_base=inputs.n_base, n_stage1=inputs.n_exp,
            n_stage2=inputs.n_stage2, rule=_rule(plan), threshold=plan.decision.threshold,
            reps=min(inputs.reps, 5000), rng=inputs.rng)
        return {"familywise_false_pass": shared.p_any_winner,
                "familywise_independent": shared.p_any_independent,
                "familywise_holm_welch": shared.p_any_holm_welch}


def _rule(plan) -> str:
    return "A" if plan.decision.sigma == "baseline" else "B"
