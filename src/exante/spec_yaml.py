"""YAML text into a plan's mapping, safely: the one loader every plan file goes through.

`parse_yaml` safe-loads (libyaml's loader when PyYAML has it) and turns every way the
text can fail to read (bad YAML, nesting too deep, an integer Python cannot hold) into
one `PlanError` naming the line or the YAML path; `_refuse_huge_ints` refuses integers
of more than `MAX_INT_BITS` bits before any section parser sees them. `exante.spec`
hands the mapping to `plan_from_mapping`.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import PlanError

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
    except RecursionError:
        raise PlanError("not valid YAML: nested too deeply; a plan needs a few levels, not "
                        "hundreds", file=file) from None
    except ValueError as exc:  # int("9" * 4301): Python's limit on integer digits
        raise PlanError(f"a value cannot be read ({str(exc).split(';')[0]}); write the number "
                        "with fewer digits (or as a quoted string)", file=file) from None
    if not isinstance(data, dict):
        raise PlanError(f"expected a YAML mapping at the top, got {type(data).__name__}",
                        file=file)
    _refuse_huge_ints(data, file)
    return data


MAX_INT_BITS = 1024  # far beyond any seed or count; 0x + 4,000 hex digits would pass YAML


def _refuse_huge_ints(data: Any, file: str) -> None:
    """An integer too large to print (Python refuses str() past 4,300 digits) is an input error.

    Walks iteratively and visits each node once, so YAML aliases cannot multiply the work.
    """
    stack, seen = [(data, "")], set()
    while stack:
        node, where = stack.pop()
        if isinstance(node, bool):
            continue
        if isinstance(node, int) and node.bit_length() > MAX_INT_BITS:
            raise PlanError(f"an integer of {node.bit_length()} bits; expected a number of at "
                            f"most {MAX_INT_BITS} bits (write it shorter, or quote it)",
                            file=file, path=where or None)
        if isinstance(node, dict) and id(node) not in seen:
            seen.add(id(node))
            stack.extend((k, where) for k in node if isinstance(k, int))  # keys are read too
            stack.extend((v, _child(where, k)) for k, v in node.items())
        elif isinstance(node, list) and id(node) not in seen:
            seen.add(id(node))
            stack.extend((v, _child(where, i)) for i, v in enumerate(node))


def _child(where: str, key: Any) -> str:
    label = "<number>" if isinstance(key, int) and key.bit_length() > MAX_INT_BITS else str(key)
    return f"{where}.{label}" if where else label
