"""The code a trial runs: its module and every project module it imports, found by reading.

`import_closure` parses each file's imports (``ast``, nothing is executed) and
follows those that resolve to a file under the project's roots (the plan's
folder and `trial.pythonpath`), never into site-packages. The seal then covers
the helper next to ``train.py`` and the ``model.py`` it imports, and a script
it runs through ``runpy`` (a literal path), not only the file the plan names.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Iterable

MAX_FILES = 2000  # a project import graph bigger than this is not a trial's closure


def local_module_file(name: str, roots: Iterable[Path]) -> Path | None:
    """The file of module `name` (``a.b``) under one of `roots`, or None."""
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for root in roots:
        base = Path(root).joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
    return None


# (imports, run calls) of a source text already read: an audit of a registry whose
# experiments share their trial code parses each distinct file once
_SCANNED: dict[bytes, tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]] = {}
_SCANNED_MAX = 4096


def _scan(path: Path) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
    """(module name, relative level) of every import in the file at `path`, and (function,
    literal) of every `run_path("x.py")` / `run_module("m")` call: one parse, one walk.
    Nothing for a file that cannot be read or parsed."""
    try:
        source = path.read_bytes()
    except OSError:
        return (), ()
    key = hashlib.sha256(source).digest()
    found = _SCANNED.get(key)
    if found is None:
        found = _walk(source)
        if len(_SCANNED) >= _SCANNED_MAX:
            _SCANNED.clear()
        _SCANNED[key] = found
    return found


def _walk(source: bytes) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
    try:
        tree = ast.parse(source.decode("utf-8", errors="replace"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return (), ()
    names: list[tuple[str, int]] = []
    calls: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names.append((base, node.level))
            names += [(f"{base}.{a.name}" if base else a.name, node.level) for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if fn in ("run_path", "run_module"):
                calls.append((fn, node.args[0].value))
    return tuple(names), tuple(calls)


def _run_targets(calls: Iterable[tuple[str, str]], path: Path, roots: list[Path]) -> list[Path]:
    """Files a script runs through `runpy.run_path("x.py")` / `run_module("m")` (literals only)."""
    out = []
    for fn, target in calls:
        if fn == "run_path":
            found = [base / target for base in (path.parent, *roots) if (base / target).is_file()]
            out += [found[0].resolve()] if found else []
        else:
            found = local_module_file(target, roots)
            out += [found] if found else []
    return out


def _candidates(name: str, level: int, path: Path, roots: list[Path]) -> list[Path]:
    if level:  # relative: from the file's own package folder, `level - 1` folders up
        folder = path.parent
        for _ in range(level - 1):
            folder = folder.parent
        found = local_module_file(name, [folder]) if name else None
        return [found] if found else []
    out = []
    parts = name.split(".")
    for i in range(len(parts), 0, -1):  # a.b.c, then the packages a.b and a
        found = local_module_file(".".join(parts[:i]), roots)
        if found:
            out.append(found)
    return out


def import_closure(entry: Path, roots: Iterable[Path]) -> list[Path]:
    """`entry` and every project file it imports, directly or not (sorted, resolved)."""
    roots = [Path(r).resolve() for r in roots]
    seen: set[Path] = set()
    todo = [Path(entry).resolve()]
    while todo and len(seen) < MAX_FILES:
        path = todo.pop()
        if path in seen or "site-packages" in path.parts or "dist-packages" in path.parts:
            continue
        seen.add(path)
        names, calls = _scan(path)
        for name, level in names:
            todo += [p for p in _candidates(name, level, path, roots) if p not in seen]
        todo += [p for p in _run_targets(calls, path, roots) if p not in seen]
    return sorted(seen)


def load_module(name: str, roots: list[Path]):
    """The trial's module: a project file loads by its path, under a name unique to that file.

    Two experiments whose modules are both `train` never share a `sys.modules` entry,
    so the second never runs (or fingerprints) the first one's file. A dotted name or an
    installed package imports as usual (its relative imports need its package).
    """
    path = local_module_file(name, roots) if "." not in name else None
    if path is None or path.name == "__init__.py":
        return importlib.import_module(name)
    unique = f"_exante_trial_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{name}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module  # dataclasses and pickling look a module up by its name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique, None)
        raise
    return module
