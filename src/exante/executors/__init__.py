"""Executors: where runs happen. `make_executor` is the only entry point the runner uses."""

from __future__ import annotations

from ..errors import InputError
from .base import Executor, ExecutorOptions

NAMES = ("inline", "local", "ray", "slurm")


def make_executor(name: str, options: ExecutorOptions) -> Executor:
    """Build the executor called `name`; cluster engines are imported only when asked for."""
    if name == "inline":
        from .inline import InlineExecutor

        return InlineExecutor(options)
    if name == "local":
        from .local import LocalExecutor

        return LocalExecutor(options)
    if name == "ray":
        from .ray import RayExecutor

        return RayExecutor(options)
    if name == "slurm":
        from .slurm import SlurmExecutor

        return SlurmExecutor(options)
    raise InputError(f"unknown executor {name!r}; expected one of {', '.join(NAMES)}")


__all__ = ["Executor", "ExecutorOptions", "make_executor", "NAMES"]
