"""The interface of a verdict family, and helpers the built-in families share.

A family answers four questions about the rule it implements:

- `parse(reader, block)`: which keys of ``decision:`` are its own, what it
  requires (raise `PlanError` naming the YAML path), and its options;
- `decide(plan, analysis)`: (verdict, tier, reasons) from the analysis
  `decide.analyse` computed (a fired kill rule is handled before it is asked);
- `describe(decision)`: one line for reports and the catalogue;
- `design_rates(plan, inputs)`: its false-pass rate and power under the
  registered design, for the design check at lock time.

Heavy imports (numpy, scipy) happen inside methods, so `spec` can ask the
registry which families exist without loading the statistics stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from .. import rules

if TYPE_CHECKING:
    from ..spec import Decision, Plan

Decided = tuple[str, "str | None", list[str]]


@dataclass(frozen=True)
class RateInputs:
    """What a design check knows: group sizes, comparisons, σ, simulation size and RNG."""

    n_base: int
    n_exp: int
    n_stage2: int
    k: int
    sigma: float | None
    reps: int
    rng: Any  # numpy.random.Generator


class Family:
    """One verdict family. Subclass it, set `name`, and override what the rule needs."""

    name: ClassVar[str] = ""
    #: keys of the ``decision:`` block this family reads beyond the common ones
    keys: ClassVar[tuple[str, ...]] = ()
    #: the verdicts it can give (for documentation and the catalogue)
    verdicts: ClassVar[tuple[str, ...]] = ()

    def parse(self, reader: Any, block: Mapping[str, Any]) -> dict[str, Any]:
        """Check the block for this family; return its own options (`Decision.options`)."""
        return {}

    def missing_for_run(self, plan: "Plan") -> list[str]:
        """What `exante run` needs that the plan lacks, for this family (one line each)."""
        return []

    def decide(self, plan: "Plan", analysis: Mapping[str, Any]) -> Decided:
        raise NotImplementedError

    def describe(self, decision: "Decision") -> str:
        return self.name

    def design_rates(self, plan: "Plan", inputs: RateInputs) -> dict[str, Any]:
        """Per-comparison rates of the Welch test (the comparison every arm gets)."""
        return welch_rates(plan, inputs)

    def familywise(self, plan: "Plan", inputs: RateInputs, out: Mapping[str, Any]
                   ) -> dict[str, Any]:
        """Replace the independent-comparisons familywise rate when the family knows better."""
        return {}


def welch_rates(plan: "Plan", inputs: RateInputs) -> dict[str, Any]:
    import numpy as np

    from .. import stats

    alpha = plan.analysis.alpha

    def rate(effect: float) -> float:
        b = inputs.rng.standard_normal((inputs.reps, inputs.n_base))
        e = inputs.rng.standard_normal((inputs.reps, inputs.n_exp)) + effect
        return float(np.mean(stats.welch_pass(b, e, alpha=alpha)))

    rate0, rate1 = rate(0.0), rate(plan.decision.smallest_effect)
    return {"false_pass_rate": rate0, "power": rate1,
            "note": "per-cell rates of the Welch test at the registered alpha (the comparison "
                    "every arm gets); threshold expressions are checked by gates"}


def trap_problems(traps: list[Mapping[str, Any]]) -> list[str]:
    """Why the traps forbid a verdict: one reason per trap that misbehaved or is undecided."""
    problems = []
    for trap in traps:
        if trap["expect"] is None:
            continue  # prose only: documented, not judged
        if trap["passed"] is None:
            problems.append(f"trap {trap['name']} could not be judged (too few finished runs)")
        elif not trap["passed"]:
            problems.append(f"trap {trap['name']} did not behave as registered "
                            f"(expected {trap['expect']}{': ' + trap['check'] if trap['check'] else ''})")
    return problems


def rule_value(plan: "Plan", text: str | None, scope: Mapping[str, Any], where: str
               ) -> bool | None:
    """A registered expression evaluated on the analysis scope (None: undecided or absent)."""
    if text is None:
        return None
    return rules.parse(text, where=where, file=str(plan.path)).evaluate(scope)
