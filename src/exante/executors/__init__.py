"""Executors: where runs happen. `make_executor` is the only entry point the runner uses.

The registry maps a name to where its class lives, and imports that module only
when the executor is built (cluster engines stay unloaded until asked for).
Executors come from three places:

- the built-ins below (inline, local, ray, slurm);
- the ``exante.executors`` entry-point group, for a third party's package:
  ``[project.entry-points."exante.executors"] mine = "pkg.module:MyExecutor"``
  (a subclass of `Executor` taking `ExecutorOptions`);
- `register(name, "module:Class")` at run time.

`names()` lists them (the CLI's ``--executor`` reads it); engine options reach
an executor as `ExecutorOptions.extra`, from ``--opt key=value`` or a profile.
"""

from __future__ import annotations

import importlib
from importlib import metadata

from ..errors import InputError
from .base import Executor, ExecutorOptions

ENTRY_POINTS = "exante.executors"
_BUILTIN = {
    "inline": "exante.executors.inline:InlineExecutor",
    "local": "exante.executors.local:LocalExecutor",
    "ray": "exante.executors.ray:RayExecutor",
    "slurm": "exante.executors.slurm:SlurmExecutor",
}
NAMES = tuple(_BUILTIN)  # the built-in ones; `names()` adds the installed ones
_registry: dict[str, str | type] = dict(_BUILTIN)
_loaded = False


def register(name: str, target: "str | type[Executor]") -> None:
    """Add an executor: a class, or ``"module:Class"`` imported when it is first built."""
    _registry[name] = target


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for ep in metadata.entry_points(group=ENTRY_POINTS):
            _registry.setdefault(ep.name, ep.value)


def reload() -> None:
    """Read the entry points again (after installing a package that provides an executor)."""
    global _loaded
    _registry.clear()
    _registry.update(_BUILTIN)
    _loaded = False
    _load()


def names() -> tuple[str, ...]:
    _load()
    return tuple(_registry)


def executor_class(name: str) -> type[Executor]:
    _load()
    target = _registry.get(name)
    if target is None:
        raise InputError(f"unknown executor {name!r}; expected one of {', '.join(_registry)}")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target


def make_executor(name: str, options: ExecutorOptions) -> Executor:
    """Build the executor called `name`; its module is imported only now."""
    return executor_class(name)(options)


__all__ = ["ENTRY_POINTS", "Executor", "ExecutorOptions", "NAMES", "executor_class",
           "make_executor", "names", "register", "reload"]
