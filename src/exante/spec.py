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
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import PlanError
from .trials import TrialSpec

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
DIRECTIONS = ("higher", "lower")
RULES = ("threshold", "tiers", "sigma", "factorial")
TRAP_EXPECT = ("worse", "no_effect", "check")
FAILURE_POLICIES = ("exclude", "count_as_worst")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str | None = None  # None only for seed-000 prose plans
    unit: str | None = None
    aggregation: str | None = None


@dataclass(frozen=True)
class Trap:
    """A negative (or positive) control whose outcome is registered in advance."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    expect: str | None = None  # worse | no_effect | check
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
class Analysis:
    alpha: float = 0.05
    ci: float = 0.95
    correction: str = "holm"


@dataclass(frozen=True)
class Failures:
    policy: str = "exclude"
    worst: float | None = None
    retries: int = 0


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
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def missing_for_run(self) -> list[str]:
        """Machine-readable fields `exante run` needs that this plan lacks, with what to add."""
        need = []
        if self.trial is None:
            need.append("trial: add `trial: {python: module:function}` or `trial: {command: ...}`")
        if self.primary is None or self.primary.direction is None:
            need.append("metrics.primary: give `{name: ..., direction: higher|lower}`")
        if not self.design.seeds and self.seed_protocol is None:
            need.append("design.seeds: list the seeds (e.g. [42, 137, 256])")
        if self.decision.rule == "threshold" and self.decision.acceptance is None:
            prose = " (acceptance_criterion is prose)" if "acceptance_criterion" in self.raw else ""
            need.append(f"decision.acceptance{prose}: add `decision: {{rule: threshold, "
                        "acceptance: <expression>}`, e.g. experiment.mean <= 0.85 * baseline.mean")
        prose_traps = [t.name for t in self.traps if t.expect is None]
        if prose_traps:
            need.append(f"traps {', '.join(prose_traps)}: expected_outcome is prose; add `expect: "
                        "worse | no_effect` (with margin) or `check: <expression>`")
        if self.kill_prose and not self.kill:
            need.append("kill: the prose kill criterion cannot be applied mechanically; add "
                        "`kill: [{name: ..., when: <expression>}]`")
        return need


# ---------------------------------------------------------------- reading helpers


class _Reader:
    """Typed access to a parsed YAML tree that names the file and YAML path on error."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, expected: str, got: Any) -> PlanError:
        shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
        return PlanError(f"expected {expected}, got {shown}", file=self.file, path=path or "(top)")

    def mapping(self, node: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise self.fail(path, "a mapping", node)
        for key in node:
            if not isinstance(key, str):
                raise self.fail(path, "string keys", key)
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                raise PlanError(f"unknown key; expected one of {', '.join(allowed)}",
                                file=self.file, path=where)
        return node

    def string(self, node: Any, path: str, *, required: bool = False,
               choices: tuple[str, ...] = ()) -> str | None:
        if node is None:
            if required:
                raise PlanError("is required", file=self.file, path=path)
            return None
        if not isinstance(node, str) or (required and not node.strip()):
            raise self.fail(path, "a non-empty string" if required else "a string", node)
        if choices and node not in choices:
            raise self.fail(path, f"one of {', '.join(choices)}", node)
        return node

    def number(self, node: Any, path: str, default: float | None = None, *,
               low: float | None = None, high: float | None = None) -> float | None:
        if node is None:
            return default
        if isinstance(node, bool) or not isinstance(node, (int, float)) or not abs(node) < 1e308:
            raise self.fail(path, "a number", node)  # the abs() test refuses NaN, inf, 10**400
        if (low is not None and node < low) or (high is not None and node > high):
            raise self.fail(path, f"a number in [{low}, {high}]", node)
        return float(node)

    def integer(self, node: Any, path: str, default: int | None = None, *, low: int = 0,
                high: int = 2**32 - 1) -> int | None:
        if node is None:
            return default
        if isinstance(node, bool) or not isinstance(node, int) or not low <= node <= high:
            raise self.fail(path, f"an integer in [{low}, {high}]", node)
        return node

    def boolean(self, node: Any, path: str, default: bool) -> bool:
        if node is None:
            return default
        if not isinstance(node, bool):
            raise self.fail(path, "true or false", node)
        return node

    def seeds(self, node: Any, path: str) -> tuple[int, ...]:
        if node is None:
            return ()
        if not isinstance(node, list):
            raise self.fail(path, "a list of integer seeds", node)
        out = tuple(self.integer(s, f"{path}[{i}]") for i, s in enumerate(node))
        if len(set(out)) != len(out):
            raise PlanError("seeds must be distinct", file=self.file, path=path)
        return out

    def scalars(self, node: Any, path: str) -> dict[str, Any]:
        """A mapping of parameter name -> plain scalar (str, number, bool, null)."""
        node = self.mapping(node, path, tuple(node) if isinstance(node, dict) else ())
        for key, value in node.items():
            if not _is_scalar(value):
                raise self.fail(f"{path}.{key}", "a scalar (string, number, true/false)", value)
        return dict(node)


def _keys(node: Any) -> tuple[str, ...]:
    """The keys of a mapping node (anything else has none; `mapping` then names its type)."""
    return tuple(node) if isinstance(node, dict) else ()


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


# ---------------------------------------------------------------- sections

TOP_KEYS = (
    "experiment_id", "title", "hypothesis", "hypotheses", "metrics", "design", "trial",
    "analysis", "decision", "traps", "tau", "kill", "failures", "seed_protocol",
    "data", "code", "retracts", "ladder", "notes", "author", "created", "tags",
    # seed 000's vocabulary, kept as documentation where it is prose
    "acceptance_criterion", "kill_criterion", "trap_cells", "tau_baseline", "seeds",
    "data_budget", "corpora", "datasets", "locked_by", "sha256",
)


def _metric(r: _Reader, node: Any, path: str, parent: dict[str, Any]) -> Metric:
    if isinstance(node, str):  # seed 000: `primary: frobenius_relative_error`
        return Metric(node, None, r.string(parent.get("unit"), "metrics.unit"),
                      r.string(parent.get("aggregation"), "metrics.aggregation"))
    m = r.mapping(node, path, ("name", "direction", "unit", "aggregation"))
    return Metric(
        name=r.string(m.get("name"), f"{path}.name", required=True),
        direction=r.string(m.get("direction"), f"{path}.direction", required=True,
                           choices=DIRECTIONS),
        unit=r.string(m.get("unit"), f"{path}.unit"),
        aggregation=r.string(m.get("aggregation"), f"{path}.aggregation"),
    )


def _metrics(r: _Reader, node: Any) -> tuple[Metric | None, tuple[Metric, ...]]:
    m = r.mapping(node, "metrics", ("primary", "secondary", "unit", "aggregation"))
    if "primary" not in m:
        raise PlanError("is required: the primary metric, e.g. {name: test_acc, direction: higher}",
                        file=r.file, path="metrics.primary")
    primary = _metric(r, m["primary"], "metrics.primary", m)
    second = m.get("secondary") or []
    if not isinstance(second, list):
        raise r.fail("metrics.secondary", "a list", second)
    return primary, tuple(_metric(r, s, f"metrics.secondary[{i}]", m) for i, s in enumerate(second))


def _design(r: _Reader, node: Any, top: dict[str, Any]) -> Design:
    d = r.mapping(node, "design", ("factors", "arms", "fixed", "baseline", "seeds"))
    factors = {}
    for name, levels in r.mapping(d.get("factors"), "design.factors",
                                  _keys(d.get("factors"))).items():
        if not isinstance(levels, list) or not levels:
            raise r.fail(f"design.factors.{name}", "a non-empty list of levels", levels)
        for i, level in enumerate(levels):
            if not _is_scalar(level) or level is None:
                raise r.fail(f"design.factors.{name}[{i}]", "a scalar level", level)
        if len(set(map(repr, levels))) != len(levels):
            raise PlanError("levels must be distinct", file=r.file, path=f"design.factors.{name}")
        factors[name] = tuple(levels)
    arms = {}
    for name, params in r.mapping(d.get("arms"), "design.arms", _keys(d.get("arms"))).items():
        arms[name] = r.scalars(params, f"design.arms.{name}")
    if factors and arms:
        raise PlanError("give either factors (a full factorial) or arms (named cells), not both",
                        file=r.file, path="design")
    baseline = r.scalars(d.get("baseline"), "design.baseline")
    for key, value in baseline.items():
        if factors and key not in factors:
            raise PlanError(f"names no factor; factors are {', '.join(factors)}", file=r.file,
                            path=f"design.baseline.{key}")
        if factors and value not in factors[key]:
            raise r.fail(f"design.baseline.{key}", f"one of the levels {list(factors[key])}", value)
    if factors and set(baseline) != set(factors):
        missing = sorted(set(factors) - set(baseline))
        raise PlanError(f"must give a level for every factor; missing {missing}", file=r.file,
                        path="design.baseline")
    seeds = r.seeds(d.get("seeds", top.get("seeds")), "design.seeds")
    return Design(factors, arms, r.scalars(d.get("fixed"), "design.fixed"), baseline, seeds)


def _trial(r: _Reader, node: Any) -> tuple[TrialSpec, dict[str, float]]:
    keys = ("python", "batched", "command", "hydra", "metrics_regex", "metrics_json", "timeout",
            "cleanup", "cwd", "env", "pythonpath", "group_by", "max_batch", "resources")
    t = r.mapping(node, "trial", keys)
    kinds = [k for k in ("python", "batched", "command", "hydra") if k in t]
    if len(kinds) != 1:
        raise r.fail("trial", "exactly one of python, batched, command, hydra", sorted(t))
    kind = kinds[0]
    argv: tuple[str, ...] = ()
    target = None
    hydra: dict[str, str] = {}
    if kind == "command":
        argv = _argv(r, t["command"])
    elif kind == "hydra":
        from .interop.hydra import parse_spec

        target, hydra = parse_spec(r, t["hydra"])
    else:
        target = r.string(t[kind], f"trial.{kind}", required=True)
        if not TARGET_RE.match(target):
            raise r.fail(f"trial.{kind}", "'package.module:function'", target)
    regex = r.scalars(t.get("metrics_regex"), "trial.metrics_regex")
    for name, pattern in regex.items():
        try:
            if re.compile(str(pattern)).groups < 1:
                raise r.fail(f"trial.metrics_regex.{name}", "a regex with one (group)", pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # huge repeat, deep nesting
            raise r.fail(f"trial.metrics_regex.{name}", f"a valid regex ({exc})", pattern) from exc
    if kind == "command" and not regex and not t.get("metrics_json"):
        raise PlanError("a command trial needs metrics_regex or metrics_json to find its metrics",
                        file=r.file, path="trial")
    resources = {k: r.number(v, f"trial.resources.{k}", low=0)
                 for k, v in r.mapping(t.get("resources"), "trial.resources",
                                       ("cpus", "gpus")).items()}
    spec = TrialSpec(
        kind=kind, target=target, argv=argv, metric_regex={k: str(v) for k, v in regex.items()},
        metric_json=r.string(t.get("metrics_json"), "trial.metrics_json"),
        timeout_s=r.number(t.get("timeout"), "trial.timeout", low=0),
        cleanup=_strings(r, t.get("cleanup"), "trial.cleanup"),
        cwd=r.string(t.get("cwd"), "trial.cwd"),
        env={k: str(v) for k, v in r.scalars(t.get("env"), "trial.env").items()},
        pythonpath=_strings(r, t.get("pythonpath"), "trial.pythonpath"),
        group_by=_strings(r, t.get("group_by"), "trial.group_by"),
        max_batch=r.integer(t.get("max_batch"), "trial.max_batch", 64, low=1),
        hydra=hydra,
    )
    return spec, resources


def _argv(r: _Reader, node: Any) -> tuple[str, ...]:
    if isinstance(node, str):
        try:
            tokens = shlex.split(node)  # split once, at load: values are filled per token later
        except ValueError as exc:
            raise r.fail("trial.command", f"a command line ({exc})", node) from exc
    elif isinstance(node, list) and all(_is_scalar(x) and x is not None for x in node):
        tokens = [str(x) for x in node]
    else:
        raise r.fail("trial.command", "a command string or a list of arguments", node)
    if not tokens:
        raise r.fail("trial.command", "a non-empty command", node)
    return tuple(tokens)


def _strings(r: _Reader, node: Any, path: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if isinstance(node, str):
        node = [node]
    if not isinstance(node, list) or not all(isinstance(x, str) for x in node):
        raise r.fail(path, "a list of strings", node)
    return tuple(node)


def _traps(r: _Reader, node: Any, path: str) -> tuple[Trap, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        raise r.fail(path, "a list of traps", node)
    traps, names = [], set()
    keys = ("name", "params", "expect", "check", "margin", "description", "expected_outcome")
    for i, item in enumerate(node):
        where = f"{path}[{i}]"
        t = r.mapping(item, where, keys)
        name = r.string(t.get("name"), f"{where}.name", required=True)
        if not ID_RE.match(name) or name in names:
            raise r.fail(f"{where}.name", "a unique simple name (letters, digits, . _ -)", name)
        names.add(name)
        expect = r.string(t.get("expect"), f"{where}.expect", choices=TRAP_EXPECT)
        check = r.string(t.get("check"), f"{where}.check")
        if check is not None:
            expect = expect or "check"
            _rule(r, check, f"{where}.check")
        if expect == "check" and check is None:
            raise PlanError("expect: check needs a `check:` expression", file=r.file, path=where)
        margin = r.number(t.get("margin"), f"{where}.margin", low=0)
        if expect == "no_effect" and margin is None:
            raise PlanError("expect: no_effect needs a registered equivalence `margin` (TOST); "
                            "without one 'no effect' cannot be shown", file=r.file, path=where)
        traps.append(Trap(name, r.scalars(t.get("params"), f"{where}.params"), expect, check,
                          margin, r.string(t.get("description"), f"{where}.description"),
                          _prose(r, t.get("expected_outcome"), f"{where}.expected_outcome")))
    return tuple(traps)


def _prose(r: _Reader, node: Any, path: str) -> str | None:
    if node is None or isinstance(node, str):
        return node
    if _is_scalar(node):
        return str(node)
    raise r.fail(path, "text", node)


def _tau(r: _Reader, node: Any, path: str) -> Tau | None:
    if node is None:
        return None
    t = r.mapping(node, path, ("params", "samples", "margin", "seed_start", "description",
                               "tau_must_beat", "must_beat"))
    return Tau(r.scalars(t.get("params"), f"{path}.params"),
               r.integer(t.get("samples"), f"{path}.samples", 10, low=1, high=10_000),
               r.number(t.get("margin"), f"{path}.margin", 0.10, low=0),
               r.integer(t.get("seed_start"), f"{path}.seed_start", 0),
               _prose(r, t.get("description"), f"{path}.description"),
               r.boolean(t.get("must_beat", t.get("tau_must_beat")), f"{path}.must_beat", True))


def _rule(r: _Reader, text: Any, path: str):
    from . import rules

    if not isinstance(text, str):
        raise r.fail(path, "a rule expression (a string)", text)
    return rules.parse(text, where=path, file=r.file)


def _kill(r: _Reader, node: Any) -> tuple[KillRule, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        raise r.fail("kill", "a list of {name, when, why}", node)
    out = []
    for i, item in enumerate(node):
        k = r.mapping(item, f"kill[{i}]", ("name", "when", "why"))
        when = r.string(k.get("when"), f"kill[{i}].when", required=True)
        _rule(r, when, f"kill[{i}].when")
        out.append(KillRule(r.string(k.get("name"), f"kill[{i}].name") or f"kill_{i}", when,
                            r.string(k.get("why"), f"kill[{i}].why") or ""))
    return tuple(out)


def _decision(r: _Reader, node: Any) -> Decision:
    keys = ("rule", "acceptance", "strict", "lenient", "catastrophic", "sigma", "threshold",
            "smallest_effect", "sigma_guess", "equivalence_margin")
    d = r.mapping(node, "decision", keys)
    rule = r.string(d.get("rule"), "decision.rule", choices=RULES) or "threshold"
    for key in ("acceptance", "strict", "lenient", "catastrophic"):
        if d.get(key) is not None:
            _rule(r, d[key], f"decision.{key}")
    if rule == "threshold" and d.get("acceptance") is None:
        raise PlanError("rule: threshold needs an `acceptance` expression", file=r.file,
                        path="decision.acceptance")
    if rule == "tiers" and not (d.get("strict") or d.get("lenient")):
        raise PlanError("rule: tiers needs `strict` and/or `lenient` expressions", file=r.file,
                        path="decision")
    return Decision(
        rule=rule, acceptance=d.get("acceptance"),
        tiers=Tiers(d.get("strict"), d.get("lenient"), d.get("catastrophic")),
        sigma=r.string(d.get("sigma"), "decision.sigma", choices=("baseline", "pooled"))
        or "baseline",
        threshold=r.number(d.get("threshold"), "decision.threshold", 2.0, low=0),
        smallest_effect=r.number(d.get("smallest_effect"), "decision.smallest_effect", 1.0, low=0),
        sigma_guess=r.number(d.get("sigma_guess"), "decision.sigma_guess", low=0),
        equivalence_margin=r.number(d.get("equivalence_margin"), "decision.equivalence_margin",
                                    low=0),
    )


def _seed_protocol(r: _Reader, node: Any) -> SeedProtocol | None:
    if node is None:
        return None
    s = r.mapping(node, "seed_protocol", ("baseline_seeds", "stage1", "stage2", "reuse",
                                          "report"))
    default = SeedProtocol()
    return SeedProtocol(
        r.seeds(s.get("baseline_seeds"), "seed_protocol.baseline_seeds") or default.baseline_seeds,
        r.seeds(s.get("stage1"), "seed_protocol.stage1") or default.stage1,
        r.seeds(s.get("stage2"), "seed_protocol.stage2") or default.stage2,
        r.string(s.get("reuse"), "seed_protocol.reuse"),
        r.string(s.get("report"), "seed_protocol.report"),
    )


def _data(r: _Reader, node: Any) -> tuple[DataFile, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        raise r.fail("data", "a list of {path} or {generator, params}", node)
    out = []
    for i, item in enumerate(node):
        if isinstance(item, str):
            item = {"path": item}
        d = r.mapping(item, f"data[{i}]", ("path", "generator", "params"))
        gen = r.string(d.get("generator"), f"data[{i}].generator")
        if gen is not None and not TARGET_RE.match(gen):
            raise r.fail(f"data[{i}].generator", "'package.module:function'", gen)
        if (d.get("path") is None) == (gen is None):
            raise r.fail(f"data[{i}]", "exactly one of path, generator", sorted(d))
        out.append(DataFile(r.string(d.get("path"), f"data[{i}].path"), gen,
                            r.scalars(d.get("params"), f"data[{i}].params")))
    return tuple(out)


def _retracts(r: _Reader, node: Any) -> tuple[Mapping[str, str], ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        raise r.fail("retracts", "a list of {id, reason}", node)
    out = []
    for i, item in enumerate(node):
        m = r.mapping(item, f"retracts[{i}]", ("id", "reason"))
        rid = r.string(m.get("id"), f"retracts[{i}].id", required=True)
        if not ID_RE.match(rid):
            raise r.fail(f"retracts[{i}].id", "an experiment id", rid)
        out.append({"id": rid, "reason": r.string(m.get("reason"), f"retracts[{i}].reason",
                                                  required=True)})
    return tuple(out)


def _failures(r: _Reader, node: Any) -> Failures:
    if isinstance(node, str):
        node = {"policy": node}
    f = r.mapping(node, "failures", ("policy", "worst", "retries"))
    policy = r.string(f.get("policy"), "failures.policy", choices=FAILURE_POLICIES) or "exclude"
    worst = r.number(f.get("worst"), "failures.worst")
    if policy == "count_as_worst" and worst is None:
        raise PlanError("count_as_worst needs `worst:` (the value a failed run scores)",
                        file=r.file, path="failures.worst")
    return Failures(policy, worst, r.integer(f.get("retries"), "failures.retries", 0, high=100))


def _kill_prose(r: _Reader, node: Any) -> tuple[str | None, bool]:
    if node is None:
        return None, True
    k = r.mapping(node, "kill_criterion", ("immediate_kill_if", "no_escalation"))
    return (_prose(r, k.get("immediate_kill_if"), "kill_criterion.immediate_kill_if"),
            r.boolean(k.get("no_escalation"), "kill_criterion.no_escalation", True))


# ---------------------------------------------------------------- entry points


# libyaml's safe loader when PyYAML has it: the same safe constructors, ten times faster
# (a catalogue of 1,000 plans is mostly YAML parsing)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str) -> dict[str, Any]:
    """Safe-load YAML text into a mapping, or a PlanError naming the line."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlanError(f"not valid YAML: {problem}", file=file, path=where) from None
    if not isinstance(data, dict):
        raise PlanError(f"expected a YAML mapping at the top, got {type(data).__name__}",
                        file=file)
    return data


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
    r = _Reader(str(path))
    top = r.mapping(data, "", TOP_KEYS)
    experiment_id = r.string(top.get("experiment_id"), "experiment_id", required=True)
    check_id(experiment_id, file=str(path))
    hypothesis = _prose(r, top.get("hypothesis"), "hypothesis")
    if not hypothesis or not hypothesis.strip():
        raise PlanError("is required: state the hypothesis before any result exists",
                        file=str(path), path="hypothesis")
    primary, secondary = _metrics(r, top.get("metrics"))
    trial, resources = _trial(r, top["trial"]) if top.get("trial") is not None else (None, {})
    design = _design(r, top.get("design"), top)
    kill_prose, no_escalation = _kill_prose(r, top.get("kill_criterion"))
    a = r.mapping(top.get("analysis"), "analysis", ("alpha", "ci", "correction"))
    plan = Plan(
        path=path, experiment_id=experiment_id, hypothesis=hypothesis.strip(), primary=primary,
        secondary=secondary, design=design, trial=trial, resources=resources,
        analysis=Analysis(r.number(a.get("alpha"), "analysis.alpha", 0.05, low=0, high=0.5),
                          r.number(a.get("ci"), "analysis.ci", 0.95, low=0.5, high=0.999),
                          r.string(a.get("correction"), "analysis.correction",
                                   choices=("holm", "none")) or "holm"),
        decision=_decision(r, top.get("decision")) if top.get("decision") is not None
        else Decision(rule="threshold", acceptance=None),
        traps=_traps(r, top.get("traps"), "traps") + _traps(r, top.get("trap_cells"),
                                                            "trap_cells"),
        tau=_tau(r, top.get("tau"), "tau") or _tau(r, top.get("tau_baseline"), "tau_baseline"),
        kill=_kill(r, top.get("kill")), no_escalation=no_escalation, kill_prose=kill_prose,
        failures=_failures(r, top.get("failures")),
        seed_protocol=_seed_protocol(r, top.get("seed_protocol")), data=_data(r, top.get("data")),
        code=_strings(r, top.get("code"), "code"), retracts=_retracts(r, top.get("retracts")),
        ladder=r.mapping(top.get("ladder"), "ladder", ("name", "rung", "scope")),
        hypotheses={k: str(v) for k, v in r.scalars(top.get("hypotheses"), "hypotheses").items()},
        raw=data,
    )
    _cross_check(plan, r)
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
    known = set(d.factors) | {k for arm in d.arms.values() for k in arm} | set(d.fixed)
    for name in plan.trial.group_by if plan.trial else ():
        if name not in known:
            raise PlanError(f"names no parameter; parameters are {', '.join(sorted(known))}",
                            file=r.file, path="trial.group_by")
    if plan.trial is not None and plan.trial.kind == "batched" and not plan.trial.group_by:
        raise PlanError("a batched trial needs group_by: the parameters that must be equal "
                        "within one batch", file=r.file, path="trial.group_by")


def check_id(experiment_id: str, *, file: str | None = None) -> str:
    """An experiment id is a simple name: it can never reach outside the registry folder."""
    if not ID_RE.match(experiment_id) or ".." in experiment_id:
        raise PlanError(f"expected a simple name (letters, digits, '.', '_', '-'; no '..' or "
                        f"'/'), got {experiment_id!r}", file=file, path="experiment_id")
    return experiment_id
