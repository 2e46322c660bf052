"""Reading a plan's YAML node by node, with errors that name the YAML path.

`Reader` checks one node at a time (a mapping with known keys, a string from a
list, a number in a range, seeds, scalars) and raises `PlanError` saying where
and what was expected: ``design.factors.depth[2]: expected a number, got 'eight'``.
"""

from __future__ import annotations

from typing import Any, Mapping

from .errors import PlanError



class Reader:
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


_Reader = Reader  # the name the section parsers and older callers use
