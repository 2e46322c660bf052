"""The typed result of `exante decide`, and the one reader of result.json.

`Result`, `Cell`, `Comparison` and `Caveat` are frozen records with
`to_dict()` / `from_dict()`. The JSON is the contract (DESIGN.md: at least
`plan_sha256`, `ledger_head`, `verdict`, `caveats`), so a record keeps every key
it was read with, in order, and `to_dict()` writes them back unchanged: a
result.json written by an older exante (schema 1, tests/fixtures,
examples/seed003) reads and round-trips byte for byte. The typed fields are
the names code may rely on; the rest stays reachable by key
(``result["ledger_head"]``, ``result.get("tau")``).

`read_result(path)` is the only place that parses result.json; the report,
the catalogue and the audit all call it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import InputError
from .verdicts import Verdict, as_verdict

SCHEMA = 1
RESULT_NAME = "result.json"
REQUIRED = ("plan_sha256", "verdict", "cells")


class ResultError(InputError):
    """result.json is missing, unreadable, of another schema, or lacks a required key."""


class _JsonRecord:
    """A frozen record whose JSON keys stay readable by key (``record["p_value"]``)."""

    raw: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dict(self.raw), default=str))


@dataclass(frozen=True, eq=False)
class Caveat(_JsonRecord):
    """A caveat computed from the data: a code (LOW_POWER, ...) and a message with numbers."""

    code: str
    message: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Caveat":
        return cls(str(d.get("code")), str(d.get("message", "")), dict(d))


@dataclass(frozen=True, eq=False)
class Cell(_JsonRecord):
    """One cell of the design (baseline, arm, trap, tau) with its per-seed values."""

    name: str
    role: str
    levels: Mapping[str, Any]
    seeds: tuple[int, ...]
    values: tuple[float | None, ...]  # None: a failed run without a registered worst value
    stats: Mapping[str, Any]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Cell":
        return cls(d.get("name", ""), d.get("role", ""), dict(d.get("levels") or {}),
                   tuple(d.get("seeds") or ()), tuple(d.get("values") or ()),
                   dict(d.get("stats") or {}), dict(d))


@dataclass(frozen=True, eq=False)
class Comparison(_JsonRecord):
    """An arm or trap against the baseline: Welch numbers, effect sizes, the 2σ verdict."""

    cell: str
    role: str
    mean_diff: float | None
    p_value: float | None
    p_holm: float | None
    cohens_d: float | None
    sigma_verdict: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Comparison":
        role = d.get("role") or ("trap" if str(d.get("cell", "")).startswith("trap:") else "arm")
        return cls(d.get("cell", ""), role, d.get("mean_diff"), d.get("p_value"),
                   d.get("p_holm"), d.get("cohens_d"), d.get("sigma_verdict"), dict(d))


@dataclass(frozen=True, eq=False)
class Result(_JsonRecord):
    """What `exante decide` wrote: the verdict, every number it rests on, the caveats."""

    schema: int
    experiment_id: str
    plan_sha256: str
    ledger_head: str | None
    rule: str | None
    verdict: Verdict | str
    tier: str | None
    verdict_reasons: tuple[str, ...]
    cells: tuple[Cell, ...]
    comparisons: tuple[Comparison, ...]
    caveats: tuple[Caveat, ...]
    deviated: bool
    kill: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = RESULT_NAME,
                  strict: bool = True, require: tuple[str, ...] | None = None) -> "Result":
        """Check and wrap a parsed result. `strict`: the schema and REQUIRED keys must be there
        (a report refuses less); otherwise only the keys in `require` (default: none)."""
        if not isinstance(d, Mapping):
            raise ResultError(f"{where}: expected a result with \"schema\": {SCHEMA}")
        if strict and d.get("schema") != SCHEMA:
            raise ResultError(f"{where}: expected a result with \"schema\": {SCHEMA}")
        for key in (REQUIRED if strict else require or ()):
            if key not in d:
                raise ResultError(f"{where}: missing {key!r}")
        return cls(
            schema=d.get("schema", SCHEMA), experiment_id=d.get("experiment_id", ""),
            plan_sha256=d.get("plan_sha256"), ledger_head=d.get("ledger_head"),
            rule=d.get("rule"), verdict=as_verdict(d.get("verdict")), tier=d.get("tier"),
            verdict_reasons=tuple(str(x) for x in d.get("verdict_reasons") or ()),
            cells=tuple(Cell.from_dict(c) for c in d.get("cells") or () if isinstance(c, Mapping)),
            comparisons=tuple(Comparison.from_dict(c) for c in d.get("comparisons") or ()
                              if isinstance(c, Mapping)),
            caveats=tuple(Caveat.from_dict(c) for c in d.get("caveats") or ()
                          if isinstance(c, Mapping)),
            deviated=bool(d.get("deviated")), kill=d.get("kill"), raw=dict(d))

    @property
    def untrained(self) -> tuple[Mapping[str, Any], ...]:
        """Runs the registered `failures.untrained_if` rule marked (none in an older result)."""
        return tuple(self.raw.get("untrained") or ())

    @property
    def design_check_observed(self) -> Mapping[str, Any] | None:
        """The design check held against the data (`exante.observed`); None in older results."""
        return self.raw.get("design_check_observed")

    @property
    def sensitivity(self) -> Mapping[str, Any] | None:
        """Leave-one-out flips of the registered verdicts ({units, method, flips}); None in a
        result written before exante computed them, or for a killed study."""
        return self.raw.get("sensitivity")

    @property
    def analysis_model(self) -> Mapping[str, Any] | None:
        """The registered model the factor verdicts used (type, method, df_rule, strata, ...);
        None for a plan without factors or an older result."""
        return (self.raw.get("factorial") or {}).get("model")

    @property
    def caveat_codes(self) -> list[str]:
        return [c.code for c in self.caveats]

    def cells_of(self, *roles: str) -> list[Cell]:
        return [c for c in self.cells if not roles or c.role in roles]


def read_result(path: Path | str, *, strict: bool = True,
                require: tuple[str, ...] | None = None) -> Result:
    """Read result.json (a file, or the experiment folder holding it). ResultError when it is
    missing, not JSON, or (strict) not a schema-1 result with its required keys."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULT_NAME
    try:
        data = loads_bytes(path.read_bytes())
    except FileNotFoundError:
        raise ResultError(f"{path}: no result yet; run `exante decide` on the plan first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultError(f"{path}: not a readable result file ({exc})") from None
    return Result.from_dict(data, where=str(path), strict=strict, require=require)


def loads_bytes(raw: bytes) -> Any:
    """orjson where it can (a catalogue reads a thousand of these); json for what only json
    reads: the NaN and Infinity tokens `json.dumps` writes, integers past 64 bits."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))
