"""The plan's sections parsed one by one (metrics, design, trial, traps, tau, kill,
decision, seed protocol, data, retracts, failures): YAML nodes in, frozen records out.

`spec.plan_from_mapping` calls these; each raises `PlanError` naming the YAML path.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Mapping

from .errors import PlanError
from .spec import (DECISION_KEYS, DIRECTIONS, FAILURE_POLICIES, ID_RE, SPLITS, TARGET_RE,
                   TRAP_EXPECT, UNTRAINED_POLICIES, DataFile, Decision, Design, FailurePolicy,
                   Failures, KillRule, Metric, SeedProtocol, Tau, Tiers, Trap, TrapExpect,
                   TrialSpec)
from .trialspec import TrialKind
from .spec_reader import _Reader, _is_scalar, _keys


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
    m = r.mapping(node, path, ("name", "direction", "unit", "aggregation", "split"))
    return Metric(
        name=r.string(m.get("name"), f"{path}.name", required=True),
        direction=r.string(m.get("direction"), f"{path}.direction", required=True,
                           choices=DIRECTIONS),
        unit=r.string(m.get("unit"), f"{path}.unit"),
        aggregation=r.string(m.get("aggregation"), f"{path}.aggregation"),
        split=r.string(m.get("split"), f"{path}.split", choices=SPLITS),
    )


def _metrics(r: _Reader, node: Any) -> tuple[Metric | None, tuple[Metric, ...]]:
    m = r.mapping(node, "metrics", ("primary", "secondary", "unit", "aggregation", "pilot"))
    if "primary" not in m:
        raise PlanError("is required: the primary metric, e.g. {name: test_acc, direction: higher}",
                        file=r.file, path="metrics.primary")
    primary = _metric(r, m["primary"], "metrics.primary", m)
    second = m.get("secondary") or []
    if not isinstance(second, list):
        raise r.fail("metrics.secondary", "a list", second)
    return primary, tuple(_metric(r, s, f"metrics.secondary[{i}]", m) for i, s in enumerate(second))


def _pilot_metric(r: _Reader, node: Any, primary: Metric | None,
                  secondary: tuple[Metric, ...]) -> str | None:
    """`metrics.pilot`: a declared metric that is not measured on the test split."""
    name = r.string(node.get("pilot"), "metrics.pilot") if isinstance(node, dict) else None
    if name is None:
        return None
    declared = {m.name: m for m in ((primary,) if primary else ()) + secondary}
    if name not in declared:
        raise PlanError(f"names no declared metric; metrics are {', '.join(declared)} (declare "
                        "it under metrics.secondary)", file=r.file, path="metrics.pilot")
    if declared[name].split == "test":
        raise PlanError(f"{name} is registered with split: test; pilots must never look at the "
                        "test set: name a validation metric", file=r.file, path="metrics.pilot")
    return name


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
            "cleanup", "cwd", "env", "pythonpath", "group_by", "max_batch", "resources", "cost")
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
        kind=TrialKind(kind), target=target, argv=argv, metric_regex={k: str(v) for k, v in regex.items()},
        metric_json=r.string(t.get("metrics_json"), "trial.metrics_json"),
        timeout_s=r.number(t.get("timeout"), "trial.timeout", low=0),
        cleanup=_strings(r, t.get("cleanup"), "trial.cleanup"),
        cwd=r.string(t.get("cwd"), "trial.cwd"),
        env={k: str(v) for k, v in r.scalars(t.get("env"), "trial.env").items()},
        pythonpath=_strings(r, t.get("pythonpath"), "trial.pythonpath"),
        group_by=_strings(r, t.get("group_by"), "trial.group_by"),
        max_batch=r.integer(t.get("max_batch"), "trial.max_batch", 64, low=1),
        cost=r.string(t.get("cost"), "trial.cost"),
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
        traps.append(Trap(name, r.scalars(t.get("params"), f"{where}.params"),
                          TrapExpect(expect) if expect else None, check,
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
    from . import families

    named = node.get("rule") if isinstance(node, Mapping) else None
    rule = r.string(named, "decision.rule", choices=families.names()) or "threshold"
    family = families.get(rule)
    d = r.mapping(node, "decision", DECISION_KEYS + tuple(family.keys))
    for key in ("acceptance", "strict", "lenient", "catastrophic"):
        if d.get(key) is not None:
            _rule(r, d[key], f"decision.{key}")
    options = family.parse(r, d)
    return Decision(options=options,
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


def _failures(r: _Reader, node: Any, metrics: tuple = ()) -> Failures:
    if isinstance(node, str):
        node = {"policy": node}
    f = r.mapping(node, "failures", ("policy", "worst", "retries", "untrained_if", "untrained"))
    policy = r.string(f.get("policy"), "failures.policy", choices=FAILURE_POLICIES) or "exclude"
    worst = r.number(f.get("worst"), "failures.worst")
    if policy == "count_as_worst" and worst is None:
        raise PlanError("count_as_worst needs `worst:` (the value a failed run scores)",
                        file=r.file, path="failures.worst")
    when, untrained = _untrained(r, f, metrics, worst)
    return Failures(FailurePolicy(policy), worst,
                    r.integer(f.get("retries"), "failures.retries", 0, high=100),
                    when, untrained)


def _untrained(r: _Reader, f: dict[str, Any], metrics: tuple, worst: float | None
               ) -> tuple[str | None, str | None]:
    """`failures.untrained_if` (a run rule over declared metrics) and its registered policy."""
    from . import rules

    when = r.string(f.get("untrained_if"), "failures.untrained_if")
    policy = r.string(f.get("untrained"), "failures.untrained", choices=UNTRAINED_POLICIES)
    if when is None:
        if policy is not None:
            raise PlanError("failures.untrained needs failures.untrained_if: the rule that "
                            "marks a run as not trained", file=r.file, path="failures.untrained")
        return None, None
    if policy is None:
        raise PlanError(f"failures.untrained_if needs a registered policy: failures.untrained: "
                        f"{' | '.join(UNTRAINED_POLICIES)} (decided before any run)",
                        file=r.file, path="failures.untrained")
    if policy == "count_as_worst" and worst is None:
        raise PlanError("untrained: count_as_worst needs `worst:` (the value such a run scores)",
                        file=r.file, path="failures.worst")
    rules.parse_run_rule(when, where="failures.untrained_if", file=r.file,
                         metrics=tuple(m.name for m in metrics if m is not None))
    return when, policy


def _kill_prose(r: _Reader, node: Any) -> tuple[str | None, bool]:
    if node is None:
        return None, True
    k = r.mapping(node, "kill_criterion", ("immediate_kill_if", "no_escalation"))
    return (_prose(r, k.get("immediate_kill_if"), "kill_criterion.immediate_kill_if"),
            r.boolean(k.get("no_escalation"), "kill_criterion.no_escalation", True))
