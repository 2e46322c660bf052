"""Verdict families as plug-ins: one module per family, found by a registry.

A family is a subclass of `Family` (see `base`) with a `name`; it parses its
part of the plan's ``decision:`` block, decides the verdict from the analysis,
describes itself for reports, and computes its own design-check rates. The
registry finds families in three places, in this order:

1. every module of this package (`threshold`, `tiers`, `sigma`, `factorial`, ...):
   adding a family to exante is one new file here;
2. the ``exante.families`` entry-point group (a third party's package:
   ``[project.entry-points."exante.families"] toy = "pkg.module:ToyFamily"``);
3. `register(family)` at run time.

`get(name)` returns the family; `names()` lists the registered ones.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib import metadata

from ..errors import InputError
from .base import Family, RateInputs, rule_value, trap_problems

ENTRY_POINTS = "exante.families"
_BUILTIN = ("threshold", "tiers", "sigma", "factorial")  # listed first, in this order
_registry: dict[str, Family] = {}
_loaded = False


def register(family: Family | type[Family]) -> Family:
    """Add (or replace) a family; returns the instance."""
    instance = family() if isinstance(family, type) else family
    if not getattr(instance, "name", None):
        raise InputError(f"{type(instance).__name__}: a verdict family needs a `name`")
    _registry[instance.name] = instance
    return instance


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    order = {name: i for i, name in enumerate(_BUILTIN)}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: (order.get(m.name, 99), m.name)):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Family) and value is not Family \
                    and value.__module__ == module.__name__ and getattr(value, "name", None):
                register(value)
    for ep in metadata.entry_points(group=ENTRY_POINTS):
        register(ep.load())


def reload() -> None:
    """Find the families again (after installing a package that provides one)."""
    global _loaded
    _registry.clear()
    _loaded = False
    _load()


def names() -> tuple[str, ...]:
    _load()
    return tuple(_registry)


def get(name: str) -> Family:
    """The family registered as `name`; InputError naming the known ones otherwise."""
    _load()
    try:
        return _registry[name]
    except KeyError:
        raise InputError(f"no verdict family {name!r} (known: {', '.join(_registry)})") from None


__all__ = ["ENTRY_POINTS", "Family", "RateInputs", "get", "names", "register", "reload",
           "rule_value", "trap_problems"]
