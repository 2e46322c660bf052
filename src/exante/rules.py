"""Registered rules: small expressions over named statistics, never passed to `eval`.

A rule such as ``any(arm.mean < baseline.mean for arm in arms)`` is parsed
with `ast` and checked node by node against a whitelist when the plan is
loaded, so an unknown name or attribute is an error at lock time, not a
surprise mid-sweep. Evaluation walks the tree itself. A statistic that is not
known yet (a cell with no finished run) is None, and None propagates: a rule
that depends on it is undecided rather than true or false.

Names a rule may use:

    baseline, experiment, best      one cell (experiment: the single arm, or the best one)
    arms, cells                     lists of cells (arms exclude the baseline)
    cell                            the trap's own cell, in a trap check
    traps                           traps["name"] -> cell (with .passed after analysis)
    tau                             .value .threshold .mean .sd .beaten
    abs min max len sum mean any all   functions

Attributes of a cell: name mean sd sem median min max n n_failed ci_low ci_high
delta z d p p_holm passed; of tau: value threshold mean sd beaten margin.

A *run rule* (`parse_run_rule`, e.g. `failures.untrained_if`) is judged on one
run at a time: its names are the run's declared metrics (``train_acc``) and
``cell``, whose only use is ``cell.median(metric)`` (also ``mean``, ``min``,
``max``, ``sd``): that statistic of the metric over the finished runs of the
run's cell, itself included. ``train_acc < 0.5 * cell.median(train_acc)``.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import RuleError

NAMES = frozenset({"baseline", "experiment", "best", "arms", "cells", "cell", "traps", "tau"})
CELL_ATTRS = frozenset({"name", "mean", "sd", "sem", "median", "min", "max", "n", "n_failed",
                        "ci_low", "ci_high", "delta", "z", "d", "p", "p_holm", "passed"})
TAU_ATTRS = frozenset({"value", "threshold", "mean", "sd", "beaten", "margin"})
CELL_METHODS = frozenset({"median", "mean", "min", "max", "sd"})  # run rules: cell.median(m)


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


FUNCTIONS: dict[str, Callable] = {
    "abs": abs, "min": min, "max": max, "len": len, "sum": sum, "mean": _mean,
    "any": any, "all": all,
}

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Mod: operator.mod}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
            ast.BinOp, ast.Compare, ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.Load,
            ast.Store, ast.GeneratorExp, ast.ListComp, ast.comprehension, ast.Subscript,
            ast.List, ast.Tuple, *_BINOPS, *_CMPOPS)
MAX_LENGTH = 2000
# Evaluation steps (nodes visited) one evaluation may take. A real rule over a few hundred
# cells needs thousands; nested comprehensions over long list literals would need tens of
# millions (45 s measured for 13M), so a rule that exceeds this is refused, never left to hang.
MAX_STEPS = 200_000


@dataclass(frozen=True)
class Rule:
    """A parsed, checked expression. `source` is the text as registered."""

    source: str
    tree: ast.Expression
    names: frozenset[str]
    where: str = ""
    file: str | None = None

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The value under `scope`; None when a statistic it needs is not known yet."""
        try:
            return _Eval(scope).visit(self.tree.body)
        except (TypeError, ValueError, OverflowError) as exc:  # abs(), 'a' < 1, sum(1)
            raise RuleError(f"rule {self.source!r} cannot be evaluated: {exc}", file=self.file,
                            path=self.where) from None
        except _WorkLimit:
            raise RuleError(f"rule exceeds the work limit ({MAX_STEPS:,} evaluation steps): "
                            f"{self.source[:120]!r}; write it without nested comprehensions "
                            "over long lists", file=self.file, path=self.where) from None
        except RecursionError:
            raise RuleError(f"rule nested too deeply to evaluate: {self.source[:80]!r}",
                            file=self.file, path=self.where) from None


def parse(source: str, *, where: str, file: str | None = None,
          allowed: frozenset[str] = NAMES) -> Rule:
    """Parse and check `source`; RuleError names `file`, the YAML path `where` and the problem.

    Parsed rules are cached: kill rules and trap checks are evaluated after
    every outcome of a sweep, and a Rule is never changed after parsing.
    """
    if not isinstance(source, str):
        raise RuleError("expected a rule expression (a string)", file=file, path=where)
    return _parse(source, where, file, allowed)


def parse_run_rule(source: str, *, where: str, file: str | None = None,
                   metrics: tuple[str, ...] | frozenset[str] = ()) -> Rule:
    """Parse a rule judged per run (see the module doc): names are `metrics` and `cell`.

    An unknown metric is a RuleError naming the YAML path `where` and the declared metrics.
    """
    if not isinstance(source, str):
        raise RuleError("expected a rule expression (a string)", file=file, path=where)
    return _parse(source, where, file, frozenset(metrics), run=True)


@functools.lru_cache(maxsize=1024)
def _parse(source: str, where: str, file: str | None, allowed: frozenset[str],
           run: bool = False) -> Rule:
    if not isinstance(source, str) or not source.strip():
        raise RuleError("expected a rule expression (a string)", file=file, path=where)
    if len(source) > MAX_LENGTH:
        raise RuleError(f"rule longer than {MAX_LENGTH} characters", file=file, path=where)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"cannot parse rule {source!r}: {exc.msg}", file=file, path=where) from exc
    except (RecursionError, MemoryError):
        raise RuleError(f"rule nested too deeply to parse: {source[:80]!r}", file=file,
                        path=where) from None
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            if not isinstance(node.target, ast.Name):
                raise RuleError("a comprehension may bind one plain name", file=file, path=where)
            bound.add(node.target.id)
    used: set[str] = set()
    methods = _method_parts(tree) if run else set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RuleError(f"{type(node).__name__} is not allowed in a rule: {source!r}",
                            file=file, path=where)
        if run:
            _check_run_node(node, source, where, file, allowed, bound, methods)
        _check_node(node, source, where, file, allowed | ({"cell"} if run else set()), bound,
                    used, run)
    return Rule(source, tree, frozenset(used), where, file)


def _method_parts(tree: ast.AST) -> set[int]:
    """ids of the `cell` names and `cell.stat` attributes of method calls `cell.stat(metric)`."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            out |= {id(node.func), id(node.func.value)}
    return out


def _check_run_node(node, source, where, file, metrics, bound, methods) -> None:
    """A run rule: metric names; `cell` only as `cell.median(metric)` and its kin."""
    def fail(msg: str):
        raise RuleError(f"{msg} in {source!r}", file=file, path=where)

    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id == "cell" and id(node) not in methods:
            fail(f"`cell` is used only as cell.{{{','.join(sorted(CELL_METHODS))}}}(metric)")
        if node.id not in metrics | {"cell"} | set(FUNCTIONS) | bound:
            fail(f"unknown metric {node.id!r}; the plan declares "
                 f"{', '.join(sorted(metrics)) or 'no metrics'} (add it to metrics.secondary)")
    elif isinstance(node, ast.Attribute) and id(node) not in methods:
        fail(f"a run rule reads metrics by name; attribute {node.attr!r} is not allowed")
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        f, args = node.func, node.args
        if args and isinstance(args[0], ast.Name) and args[0].id not in metrics:
            fail(f"unknown metric {args[0].id!r}; the plan declares "
                 f"{', '.join(sorted(metrics)) or 'no metrics'} (add it to metrics.secondary)")
        if not (isinstance(f.value, ast.Name) and f.value.id == "cell"
                and f.attr in CELL_METHODS and len(args) == 1 and not node.keywords
                and isinstance(args[0], ast.Name) and args[0].id in metrics):
            fail(f"expected cell.<{'|'.join(sorted(CELL_METHODS))}>(<a declared metric>) "
                 f"(metrics: {', '.join(sorted(metrics))})")


def _check_node(node, source, where, file, allowed, bound, used, run=False) -> None:
    if run and isinstance(node, (ast.Attribute, ast.Call)) and \
            isinstance(getattr(node, "func", node), ast.Attribute):
        return  # a method call `cell.median(metric)`, checked by _check_run_node
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id not in allowed and node.id not in FUNCTIONS and node.id not in bound:
            raise RuleError(f"unknown name {node.id!r} in {source!r}; known names: "
                            f"{', '.join(sorted(allowed))}", file=file, path=where)
        if node.id in allowed:
            used.add(node.id)
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_") or node.attr not in CELL_ATTRS | TAU_ATTRS:
            raise RuleError(f"unknown attribute {node.attr!r} in {source!r}; a cell has "
                            f"{', '.join(sorted(CELL_ATTRS))}", file=file, path=where)
    elif isinstance(node, (ast.GeneratorExp, ast.ListComp)) and len(node.generators) != 1:
        raise RuleError(f"one `for` per comprehension: {source!r}", file=file, path=where)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise RuleError(f"only the functions {', '.join(sorted(FUNCTIONS))} may be called "
                            f"(positional arguments only): {source!r}", file=file, path=where)
    elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool,
                                                                        type(None))):
        raise RuleError(f"constant {node.value!r} not allowed", file=file, path=where)


class _Unknown(Exception):
    """Raised inside evaluation when a needed statistic is None."""


class _WorkLimit(Exception):
    """Raised inside evaluation when it has taken MAX_STEPS steps."""


class _Eval:
    def __init__(self, scope: Mapping[str, Any]):
        self.scope = dict(scope)
        self.steps = 0

    def _step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _WorkLimit

    def visit(self, node: ast.AST) -> Any:
        self._step()
        try:
            return getattr(self, f"v_{type(node).__name__}")(node)
        except _Unknown:
            return None

    def strict(self, node: ast.AST) -> Any:
        self._step()
        value = getattr(self, f"v_{type(node).__name__}")(node)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise _Unknown
        return value

    def v_Constant(self, node):
        return node.value

    def v_Name(self, node):
        if node.id in FUNCTIONS:
            return FUNCTIONS[node.id]
        return self.scope.get(node.id)

    def v_Attribute(self, node):
        obj = self.strict(node.value)
        return obj.get(node.attr) if isinstance(obj, Mapping) else getattr(obj, node.attr, None)

    def v_Subscript(self, node):
        obj = self.strict(node.value)
        key = self.strict(node.slice)
        try:
            return obj[key]
        except (KeyError, IndexError, TypeError):
            return None

    def v_BoolOp(self, node):
        values = [self.visit(v) for v in node.values]
        if isinstance(node.op, ast.And):
            if any(v is False for v in values):
                return False
            return None if any(v is None for v in values) else all(values)
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else any(values)

    def v_UnaryOp(self, node):
        value = self.strict(node.operand)
        return {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}[
            type(node.op)](value)

    def v_BinOp(self, node):
        left, right = self.strict(node.left), self.strict(node.right)
        # numbers only: `'a' * 10**11` would otherwise allocate without bound
        if not all(isinstance(x, (int, float)) for x in (left, right)):
            raise TypeError(f"arithmetic needs numbers, got {left!r} and {right!r}")
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            return None

    def v_Compare(self, node):
        left = self.strict(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.strict(comparator)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def v_Call(self, node):
        if isinstance(node.func, ast.Attribute):  # a run rule's cell.median(metric)
            table = self.strict(node.func.value)
            return (table.get(node.args[0].id) or {}).get(node.func.attr)
        fn = FUNCTIONS[node.func.id]
        args = [self.visit(a) for a in node.args]
        if node.func.id in ("any", "all"):
            items = list(args[0]) if args and args[0] is not None else []
            known = [x for x in items if x is not None]
            if node.func.id == "any":
                return True if any(known) else (None if len(known) < len(items) else False)
            return False if not all(known) else (None if len(known) < len(items) else True)
        if any(a is None for a in args):
            return None
        if node.func.id in ("min", "max", "sum", "mean") and args and hasattr(args[0], "__iter__"):
            items = list(args[0])
            return fn(items) if items and all(x is not None for x in items) else None
        return fn(*args)

    def _comprehension(self, node) -> list:
        gen = node.generators[0]
        name, missing = gen.target.id, object()
        saved = self.scope.get(name, missing)
        out = []
        try:
            for item in self.strict(gen.iter):
                self.scope[name] = item
                if all(self.visit(cond) for cond in gen.ifs):
                    out.append(self.visit(node.elt))
        finally:  # the loop variable is local to the comprehension, as in Python
            if saved is missing:
                self.scope.pop(name, None)
            else:
                self.scope[name] = saved
        return out

    v_GeneratorExp = _comprehension
    v_ListComp = _comprehension

    def v_List(self, node):
        return [self.visit(e) for e in node.elts]

    v_Tuple = v_List
