"""Seed 001's bets, judged by exante: the criteria read from the sealed module, never run.

A bet module (``experiments/bets/NN_name.py``) registers its criteria in a
literal block that `parse_module` reads with the AST at lock time (nothing in
the module is executed)::

    STRICT_MIN_GAIN = 0.15                      # constants: UPPER_CASE = literal
    CRITERIA = {
        "metrics": ["gain_min", "gain_mean"],   # what the payload must report
        "strict": "gain_min >= STRICT_MIN_GAIN",
        "lenient": "gain_mean >= LENIENT_MIN_GAIN",
        "catastrophic": "gain_min < -CATASTROPHIC_LOSS",
        "controls": [{"name": "random_labels", "expect": "FAIL", "why": "noise floor"}],
        "repeats": 1,                           # runs allowed under one lock (default 1)
        "retracts": [{"id": "02_old", "reason": "..."}],
        "not_claimed": ["what this bet does not show"],
    }

Each tier is a rule of the safe evaluator (`exante.rules`) over the metrics
and the constants; lock records which metric each tier reads. `judge` gives
the tier of one recorded payload ``{"metrics": {...}, "controls": {NAME:
{...}}}``: CATASTROPHIC, then STRICT, LENIENT or FAIL; a positive tier whose
registered control does not fail (the noise floor passes) is INCONCLUSIVE, as
a misbehaving trap cell makes a YAML plan's verdict.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import rules
from ..errors import InputError, PlanError
from ..verdicts import Verdict
from .base import Family

TIERS = ("catastrophic", "strict", "lenient")
KEYS = ("metrics", *TIERS, "controls", "repeats", "retracts", "not_claimed")
POSITIVE = (Verdict.STRICT, Verdict.LENIENT)
BLOCK = "CRITERIA"


@dataclass(frozen=True)
class Control:
    """A noise-floor control: the same criteria applied to its metrics must give `expect`."""

    name: str
    expect: str = Verdict.FAIL
    why: str = ""


@dataclass(frozen=True)
class BetCriteria:
    """What lock read from a bet module: tiers, the metrics each reads, constants, controls."""

    file: str
    metrics: tuple[str, ...]
    tiers: Mapping[str, str]
    reads: Mapping[str, tuple[str, ...]]
    constants: Mapping[str, Any]
    controls: tuple[Control, ...] = ()
    repeats: int = 1
    retracts: tuple[Mapping[str, str], ...] = ()
    not_claimed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "tiers": dict(self.tiers),
                "reads": {k: list(v) for k, v in self.reads.items()},
                "constants": dict(self.constants), "repeats": self.repeats,
                "controls": [vars(c) for c in self.controls],
                "retracts": [dict(r) for r in self.retracts], "not_claimed": list(self.not_claimed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], file: str = "") -> "BetCriteria":
        return cls(file, tuple(data["metrics"]), dict(data["tiers"]),
                   {k: tuple(v) for k, v in data["reads"].items()}, dict(data["constants"]),
                   tuple(Control(**c) for c in data.get("controls") or ()),
                   int(data.get("repeats") or 1), tuple(data.get("retracts") or ()),
                   tuple(data.get("not_claimed") or ()))


# ---------------------------------------------------------------- reading the module


def has_criteria(path: Path) -> bool:
    """Whether the module registers a CRITERIA block (a bet exante judges)."""
    try:
        return _block(_tree(Path(path)), Path(path)) is not None
    except InputError:
        return True  # a broken block is still a block: parse_module says what is wrong


def parse_module(path: Path) -> BetCriteria:
    """The registered criteria of a bet module, read with the AST (never imported)."""
    path = Path(path)
    tree = _tree(path)
    node = _block(tree, path)
    if node is None:
        raise PlanError(f"no {BLOCK} block; register the tiers as a literal dict "
                        f"`{BLOCK} = {{\"metrics\": [...], \"strict\": \"...\", ...}}` at module "
                        "level", file=str(path), path=BLOCK)
    block = _literal(node, path, BLOCK)
    if not isinstance(block, dict) or set(block) - set(KEYS):
        raise PlanError(f"expected a dict with keys from {', '.join(KEYS)}; got "
                        f"{sorted(block) if isinstance(block, dict) else type(block).__name__}",
                        file=str(path), path=BLOCK)
    return _criteria(block, constants(tree, path), str(path))


def _tree(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a Python module ({exc})") from exc


def _assigned(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        return stmt.target.id, stmt.value
    return None, None


def _block(tree: ast.Module, path: Path) -> ast.expr | None:
    found = [v for s in tree.body for n, v in [_assigned(s)] if n == BLOCK]
    if len(found) > 1:
        raise PlanError(f"{BLOCK} is assigned {len(found)} times; register it once",
                        file=str(path), path=BLOCK)
    return found[0] if found else None


def _literal(node: ast.expr, path: Path, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise PlanError(f"line {node.lineno}: must be a literal (numbers, strings, lists, dicts; "
                        "no names or calls): it is read at lock without running the module",
                        file=str(path), path=where) from None


def constants(tree: ast.Module, path: Path) -> dict[str, Any]:
    """Module-level UPPER_CASE names bound to literals: the bet's constants block."""
    out: dict[str, Any] = {}
    for stmt in tree.body:
        name, value = _assigned(stmt)
        if name and name.isupper() and name != BLOCK:
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError):
                continue  # not a literal constant: rules cannot read it
            if isinstance(literal, (int, float, str, bool, tuple, list)):
                out[name] = list(literal) if isinstance(literal, tuple) else literal
    return out


def _criteria(block: dict, consts: dict[str, Any], file: str) -> BetCriteria:
    metrics = block.get("metrics")
    if not isinstance(metrics, list) or not metrics or not all(
            isinstance(m, str) and m.isidentifier() for m in metrics):
        raise PlanError("expected a non-empty list of metric names (identifiers) that the "
                        "payload reports", file=file, path=f"{BLOCK}.metrics")
    clash = sorted(set(metrics) & set(consts))
    if clash:
        raise PlanError(f"metric names {clash} are also constants; rename one", file=file,
                        path=f"{BLOCK}.metrics")
    tiers = {t: block[t] for t in TIERS if block.get(t) is not None}
    if not (tiers.get("strict") or tiers.get("lenient")):
        raise PlanError("a bet needs a `strict` and/or `lenient` rule", file=file, path=BLOCK)
    allowed = frozenset(metrics) | frozenset(consts)
    reads = {}
    for tier, text in tiers.items():
        rule = rules.parse(text, where=f"{BLOCK}.{tier}", file=file, allowed=allowed)
        reads[tier] = tuple(m for m in metrics if m in rule.names)
        if not reads[tier]:
            raise PlanError(f"{text!r} reads no metric (of {', '.join(metrics)}); a tier must "
                            "depend on the outcome", file=file, path=f"{BLOCK}.{tier}")
    return BetCriteria(file, tuple(metrics), tiers, reads, consts, _controls(block, file),
                       _repeats(block, file), _retracts(block, file),
                       _strings(block.get("not_claimed"), file, "not_claimed"))


def _controls(block: dict, file: str) -> tuple[Control, ...]:
    out, raw = [], block.get("controls") or []
    if not isinstance(raw, list):
        raise PlanError("expected a list of controls", file=file, path=f"{BLOCK}.controls")
    for i, c in enumerate(raw):
        where = f"{BLOCK}.controls[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) \
                or set(c) - {"name", "expect", "why"}:
            raise PlanError("expected {name: str, expect: 'FAIL', why: str}", file=file,
                            path=where)
        if c.get("expect", Verdict.FAIL) != Verdict.FAIL:
            raise PlanError("a noise-floor control must be registered to FAIL (the same "
                            "criteria on it must not pass)", file=file, path=f"{where}.expect")
        out.append(Control(c["name"], Verdict.FAIL, str(c.get("why") or "")))
    if len({c.name for c in out}) < len(out):
        raise PlanError("control names must be unique", file=file, path=f"{BLOCK}.controls")
    return tuple(out)


def _repeats(block: dict, file: str) -> int:
    n = block.get("repeats", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise PlanError(f"expected a whole number >= 1 of registered runs, got {n!r}", file=file,
                        path=f"{BLOCK}.repeats")
    return n


def _retracts(block: dict, file: str) -> tuple[dict[str, str], ...]:
    raw = block.get("retracts") or []
    if not isinstance(raw, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), str) and r.get("reason") for r in raw):
        raise PlanError("expected a list of {id: ..., reason: ...}", file=file,
                        path=f"{BLOCK}.retracts")
    return tuple({"id": r["id"], "reason": str(r["reason"])} for r in raw)


def _strings(raw: Any, file: str, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise PlanError("expected a list of strings", file=file, path=f"{BLOCK}.{key}")
    return tuple(raw)


# ---------------------------------------------------------------- judging a payload


@dataclass(frozen=True)
class Judgement:
    """The tier of one payload, why, and how each control behaved (True: failed as registered)."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    controls: dict[str, bool | None] = field(default_factory=dict)
    values: dict[str, bool | None] = field(default_factory=dict)


def tier_values(c: BetCriteria, metrics: Mapping[str, Any]) -> dict[str, bool | None]:
    """Each registered tier's value on these metrics (None: a metric it reads is missing)."""
    scope = {**c.constants, **{m: _number(metrics.get(m)) for m in c.metrics}}
    return {t: _truth(rules.parse(text, where=f"{BLOCK}.{t}", file=c.file,
                                  allowed=frozenset(scope)).evaluate(scope))
            for t, text in c.tiers.items()}


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float, list)) and not isinstance(value, bool) else None


def _truth(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _tier(values: Mapping[str, bool | None]) -> str:
    if values.get("catastrophic"):
        return Verdict.CATASTROPHIC
    if values.get("strict"):
        return Verdict.STRICT
    if values.get("lenient"):
        return Verdict.LENIENT
    return Verdict.INCONCLUSIVE if None in values.values() else Verdict.FAIL


def judge(c: BetCriteria, payload: Mapping[str, Any]) -> Judgement:
    """The tier of one recorded payload under the registered criteria and controls."""
    metrics = payload.get("metrics") if isinstance(payload, Mapping) else None
    if not isinstance(metrics, Mapping):
        return Judgement(Verdict.INCONCLUSIVE, ["the payload has no `metrics` mapping"])
    values = tier_values(c, metrics)
    reasons = [f"{t} {c.tiers[t]!r} on {_shown(metrics, c.reads[t])}: {v}"
               for t, v in values.items()]
    missing = [m for m in c.metrics if _number(metrics.get(m)) is None]
    reasons += [f"metric {m} missing from the payload" for m in missing]
    verdict = _tier(values)
    controls = _judge_controls(c, payload)
    problems = [f"control {n} did not fail as registered: the noise floor passes the criteria "
                "too" if ok is False else f"control {n} could not be judged (no metrics)"
                for n, ok in controls.items() if ok is not True]
    if verdict in POSITIVE and problems:
        return Judgement(Verdict.INCONCLUSIVE, problems + reasons, controls, values)
    return Judgement(verdict, reasons, controls, values)


def _judge_controls(c: BetCriteria, payload: Mapping[str, Any]) -> dict[str, bool | None]:
    recorded = payload.get("controls") if isinstance(payload.get("controls"), Mapping) else {}
    out: dict[str, bool | None] = {}
    for control in c.controls:
        metrics = recorded.get(control.name)
        if not isinstance(metrics, Mapping):
            out[control.name] = None
            continue
        values = tier_values(c, metrics)
        positive = values.get("strict") or values.get("lenient")
        out[control.name] = None if positive is None and None in values.values() else not positive
    return out


def _shown(metrics: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return ", ".join(f"{m}={metrics.get(m)!r}" for m in names)


def combine(verdicts: list[str]) -> str:
    """The bet's tier over its registered repeats: every run must clear a tier for it to hold."""
    if Verdict.CATASTROPHIC in verdicts:
        return Verdict.CATASTROPHIC
    if Verdict.INCONCLUSIVE in verdicts:
        return Verdict.INCONCLUSIVE
    if all(v == Verdict.STRICT for v in verdicts):
        return Verdict.STRICT
    return Verdict.LENIENT if all(v in POSITIVE for v in verdicts) else Verdict.FAIL


class BetFamily(Family):
    """The tiers of a bet module (registered in its CRITERIA block, not in YAML)."""

    name = "bet"
    verdicts = (Verdict.CATASTROPHIC, Verdict.STRICT, Verdict.LENIENT, Verdict.FAIL,
                Verdict.INCONCLUSIVE)

    def parse(self, reader, block: Mapping[str, Any]) -> dict[str, Any]:
        raise PlanError("rule: bet judges bet modules (NN_name.py with a CRITERIA block); a YAML "
                        "plan uses rule: tiers", file=reader.file, path="decision.rule")

    def describe(self, decision) -> str:
        return "bet — tiers registered in the module's CRITERIA block"
