"""The plan: a sealed YAML document loaded into frozen records.

Every validation error names the file, the YAML path, what was expected and
what was found (``prereg.yaml: design.factors.depth[2]: expected a number,
got 'eight'``). Unknown keys are errors, so a typo cannot silently switch a
rule off. Prose fields from seed 000 (a free-form kill criterion, trap
descriptions) are kept as documentation; `missing_for_run` says which
machine-readable field a mechanical step would need instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Mapping

from . import rules
from .errors import PlanError
from .spec_yaml import MAX_INT_BITS, parse_yaml  # noqa: F401  (MAX_INT_BITS re-exported: old home)
from .trialspec import TrialSpec

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
DIRECTIONS = ("higher", "lower")
RULES = ("threshold", "tiers", "sigma", "factorial")  # the built-in families (`exante.families`)
DECISION_KEYS = ("rule", "acceptance", "strict", "lenient", "catastrophic", "sigma", "threshold",
                 "smallest_effect", "sigma_guess", "equivalence_margin")  # every family's keys
class TrapExpect(StrEnum):
    """What a trap cell registers it must show (compares equal to its YAML spelling)."""

    WORSE = "worse"  # worse than the baseline, by the primary metric's direction
    NO_EFFECT = "no_effect"  # equivalent to the baseline within `margin` (TOST)
    CHECK = "check"  # a registered rule expression over the cell


class FailurePolicy(StrEnum):
    """What a failed run counts as in the analysis (`failures.policy`)."""

    EXCLUDE = "exclude"
    COUNT_AS_WORST = "count_as_worst"


TRAP_EXPECT = tuple(e.value for e in TrapExpect)
FAILURE_POLICIES = tuple(p.value for p in FailurePolicy)
UNTRAINED_POLICIES = ("exclude", "keep", "count_as_worst")  # failures.untrained
SPLITS = ("train", "validation", "test")  # metrics.*.split: which data a metric is measured on


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str | None = None  # None only for seed-000 prose plans
    unit: str | None = None
    aggregation: str | None = None
    split: str | None = None  # train | validation | test: a test metric stays blind (see blinding)


@dataclass(frozen=True)
class Trap:
    """A negative (or positive) control whose outcome is registered in advance."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    expect: TrapExpect | None = None
    check: str | None = None  # rule expression over `cell` (and baseline) when expect == check
    margin: float | None = None  # equivalence margin for no_effect
    description: str | None = None
    expected_outcome: str | None = None  # seed-000 prose


@dataclass(frozen=True)
class Tau:
    params: Mapping[str, Any] = field(default_factory=dict)
    samples: int = 10
    margin: float = 0.10
    seed_start: int = 0
    description: str | None = None
    must_beat: bool = True


@dataclass(frozen=True)
class KillRule:
    name: str
    when: str
    why: str = ""


@dataclass(frozen=True)
class Tiers:
    strict: str | None = None
    lenient: str | None = None
    catastrophic: str | None = None


@dataclass(frozen=True)
class Decision:
    rule: str = "threshold"
    acceptance: str | None = None  # threshold: expression that must hold
    tiers: Tiers = field(default_factory=Tiers)
    sigma: str = "baseline"  # sigma rule: "baseline" (rule A) or "pooled" (rule B)
    threshold: float = 2.0
    smallest_effect: float = 1.0  # in SD units, for the design check
    sigma_guess: float | None = None  # the metric's SD when no measurement exists yet
    equivalence_margin: float | None = None  # factorial: |main effect| below this is "no effect"
    options: Mapping[str, Any] = field(default_factory=dict)  # a plug-in family's own keys

    @property
    def family(self):
        """The verdict family that decides (`exante.families`)."""
        from . import families

        return families.get(self.rule)


@dataclass(frozen=True)
class SeedProtocol:
    """Seed 003's variance-first protocol."""

    baseline_seeds: tuple[int, ...] = (42, 137, 256, 512, 1024)
    stage1: tuple[int, ...] = (42, 137, 256)
    stage2: tuple[int, ...] = (512, 1024)
    reuse: str | None = None  # where the measured baseline is kept, relative to the plan
    report: str | None = None  # where the seed-003 experiment report goes, relative to the plan


@dataclass(frozen=True)
class Design:
    factors: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    arms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    baseline: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class AnalysisModel:
    """`analysis.model`: the design that made the data (STATS.md section 5).

    ``type`` is independent | blocked | split_plot; ``block`` names the run key that
    forms a block (the seed); ``whole_plot`` the factors that split_plot tests
    against the whole-plot (block) error.
    """

    type: str = "independent"
    block: str | None = None
    whole_plot: tuple[str, ...] = ()

    @property
    def paired(self) -> bool:
        """Runs sharing a block are compared pairwise (blocked or split_plot)."""
        return self.type != "independent"


@dataclass(frozen=True)
class Analysis:
    alpha: float = 0.05
    ci: float = 0.95
    correction: str = "holm"
    model: AnalysisModel = field(default_factory=AnalysisModel)


@dataclass(frozen=True)
class Failures:
    policy: FailurePolicy = FailurePolicy.EXCLUDE
    worst: float | None = None
    retries: int = 0
    untrained_if: str | None = None  # a run rule (rules.parse_run_rule): the run ran, did not train
    untrained: str | None = None  # what a marked run counts as: exclude | keep | count_as_worst


@dataclass(frozen=True)
class DataFile:
    path: str | None = None
    generator: str | None = None  # module:function(params) -> sha256 of generated arrays
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """A loaded plan. `raw` keeps the parsed YAML for reports; nothing mechanical reads it."""

    path: Path
    experiment_id: str
    hypothesis: str
    primary: Metric | None
    secondary: tuple[Metric, ...] = ()
    design: Design = field(default_factory=Design)
    trial: TrialSpec | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    analysis: Analysis = field(default_factory=Analysis)
    decision: Decision = field(default_factory=Decision)
    traps: tuple[Trap, ...] = ()
    tau: Tau | None = None
    kill: tuple[KillRule, ...] = ()
    no_escalation: bool = True
    kill_prose: str | None = None
    failures: Failures = field(default_factory=Failures)
    seed_protocol: SeedProtocol | None = None
    data: tuple[DataFile, ...] = ()
    code: tuple[str, ...] = ()
    retracts: tuple[Mapping[str, str], ...] = ()
    ladder: Mapping[str, Any] = field(default_factory=dict)
    hypotheses: Mapping[str, str] = field(default_factory=dict)
    pilot_metric_name: str | None = None  # metrics.pilot
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """Every declared metric, the primary first."""
        return ((self.primary,) if self.primary is not None else ()) + self.secondary

    def pilot_metric(self) -> Metric | None:
        """What pilots measure: `metrics.pilot`, else the first validation-split metric."""
        by_name = {m.name: m for m in self.metrics}
        if self.pilot_metric_name is not None:
            return by_name.get(self.pilot_metric_name)
        return next((m for m in self.metrics if m.split == "validation"), None)

    def blind_metrics(self) -> tuple[str, ...]:
        """The test-split metrics: not shown until the registered sweep is complete."""
        return tuple(m.name for m in self.metrics if m.split == "test")

    def missing_for_run(self) -> list[str]:
        """Machine-readable fields `exante run` needs that this plan lacks, with what to add."""
        need = []
        if self.trial is None:
            need.append("trial: add `trial: {python: module:function}` or `trial: {command: ...}`")
        if self.primary is None or self.primary.direction is None:
            need.append("metrics.primary: give `{name: ..., direction: higher|lower}`")
        if not self.design.seeds and self.seed_protocol is None:
            need.append("design.seeds: list the seeds (e.g. [42, 137, 256])")
        need += self.decision.family.missing_for_run(self)
        prose_traps = [t.name for t in self.traps if t.expect is None]
        if prose_traps:
            need.append(f"traps {', '.join(prose_traps)}: expected_outcome is prose; add `expect: "
                        "worse | no_effect` (with margin) or `check: <expression>`")
        if self.kill_prose and not self.kill:
            need.append("kill: the prose kill criterion cannot be applied mechanically; add "
                        "`kill: [{name: ..., when: <expression>}]`")
        return need


# The reader and the section parsers live in spec_reader and spec_sections; the
# sections import the records above, so plan_from_mapping imports them when called.
from .spec_reader import _Reader  # noqa: E402
from .spec_analysis import analysis_model, check_factorial  # noqa: E402


# ---------------------------------------------------------------- entry points


def load_plan(path: Path | str) -> Plan:
    """Read and validate a plan file (YAML). Raises PlanError; never returns a half-valid plan."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read: {exc}", file=str(path)) from None
    return plan_from_mapping(parse_yaml(text, str(path)), path)


def plan_from_mapping(data: dict[str, Any], path: Path) -> Plan:
    """Validate a parsed plan mapping into a frozen `Plan` (PlanError naming the YAML path)."""
    from .spec_sections import (TOP_KEYS, _data, _decision, _design, _failures, _kill,
                                _kill_prose, _metrics, _prose, _retracts, _seed_protocol,
                                _strings, _tau, _trial, _traps)
    from .spec_sections import _pilot_metric

    r = _Reader(str(path))
    top = r.mapping(data, "", TOP_KEYS)
    experiment_id = r.string(top.get("experiment_id"), "experiment_id", required=True)
    check_id(experiment_id, file=str(path))
    hypothesis = _prose(r, top.get("hypothesis"), "hypothesis")
    if not hypothesis or not hypothesis.strip():
        raise PlanError("is required: state the hypothesis before any result exists",
                        file=str(path), path="hypothesis")
    primary, secondary = _metrics(r, top.get("metrics"))
    pilot = _pilot_metric(r, top.get("metrics"), primary, secondary)
    trial, resources = _trial(r, top["trial"]) if top.get("trial") is not None else (None, {})
    design = _design(r, top.get("design"), top)
    kill_prose, no_escalation = _kill_prose(r, top.get("kill_criterion"))
    a = r.mapping(top.get("analysis"), "analysis", ("alpha", "ci", "correction", "model"))
    plan = Plan(
        path=path, experiment_id=experiment_id, hypothesis=hypothesis.strip(), primary=primary,
        secondary=secondary, design=design, trial=trial, resources=resources,
        analysis=Analysis(r.number(a.get("alpha"), "analysis.alpha", 0.05, low=0, high=0.5),
                          r.number(a.get("ci"), "analysis.ci", 0.95, low=0.5, high=0.999),
                          r.string(a.get("correction"), "analysis.correction",
                                   choices=("holm", "none")) or "holm",
                          analysis_model(r, a.get("model"), design)),
        decision=_decision(r, top.get("decision")) if top.get("decision") is not None
        else Decision(rule="threshold", acceptance=None),
        traps=_traps(r, top.get("traps"), "traps") + _traps(r, top.get("trap_cells"),
                                                            "trap_cells"),
        tau=_tau(r, top.get("tau"), "tau") or _tau(r, top.get("tau_baseline"), "tau_baseline"),
        kill=_kill(r, top.get("kill")), no_escalation=no_escalation, kill_prose=kill_prose,
        failures=_failures(r, top.get("failures"), (primary, *secondary)),
        seed_protocol=_seed_protocol(r, top.get("seed_protocol")), data=_data(r, top.get("data")),
        code=_strings(r, top.get("code"), "code"), retracts=_retracts(r, top.get("retracts")),
        ladder=r.mapping(top.get("ladder"), "ladder", ("name", "rung", "scope")),
        hypotheses={k: str(v) for k, v in r.scalars(top.get("hypotheses"), "hypotheses").items()},
        pilot_metric_name=pilot, raw=data,
    )
    _cross_check(plan, r)
    check_factorial(plan, r)
    return plan


def _cross_check(plan: Plan, r: _Reader) -> None:
    """Checks that need more than one section."""
    d = plan.design
    if plan.trial is not None and not d.factors and not d.arms and plan.seed_protocol is None:
        raise PlanError("an executable plan needs design.factors or design.arms", file=r.file,
                        path="design")
    if plan.seed_protocol is not None and (d.factors or len(d.arms) != 1):
        raise PlanError("the variance-first seed protocol compares one arm against the baseline; "
                        "give exactly one design.arms entry (and no factors)", file=r.file,
                        path="design.arms")
    known = _design_params(d)
    for name in plan.trial.group_by if plan.trial else ():
        if name not in known:
            raise PlanError(f"names no parameter; parameters are {', '.join(sorted(known))}",
                            file=r.file, path="trial.group_by")
    cost_rule(plan, file=r.file)  # its names are the plan's parameters
    if plan.trial is not None and plan.trial.kind == "batched" and not plan.trial.group_by:
        raise PlanError("a batched trial needs group_by: the parameters that must be equal "
                        "within one batch", file=r.file, path="trial.group_by")


def cost_rule(plan: Plan, *, file: str | None = None) -> rules.Rule | None:
    """`trial.cost` parsed, its names the parameters of the plan's runs; None without one."""
    if plan.trial is None or plan.trial.cost is None:
        return None
    named = _design_params(plan.design) | {k for t in plan.traps for k in t.params}
    named |= set(plan.tau.params) if plan.tau is not None else set()
    return rules.parse(plan.trial.cost, where="trial.cost", file=file,
                       allowed=frozenset(n for n in named if n.isidentifier()))


def _design_params(d: Design) -> set[str]:
    """The parameters the design gives its cells: factors, arms' settings, fixed values."""
    return set(d.factors) | {k for arm in d.arms.values() for k in arm} | set(d.fixed)


def check_id(experiment_id: str, *, file: str | None = None) -> str:
    """An experiment id is a simple name: it can never reach outside the registry folder."""
    if not ID_RE.match(experiment_id) or ".." in experiment_id:
        raise PlanError(f"expected a simple name (letters, digits, '.', '_', '-'; no '..' or "
                        f"'/'), got {experiment_id!r}", file=file, path="experiment_id")
    return experiment_id
