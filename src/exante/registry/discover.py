"""Finding every experiment under a registry folder.

Three kinds are found:

- ``plan``: a folder holding ``prereg.yaml`` (or ``prereg.yml``);
- ``bet``: a seed-001 bet module ``NN_name.py`` (anywhere) whose docstring
  names a hypothesis or carries a seal field; its ledger lives in ``NN_name/``
  and its results in ``results/NN_*.json`` next to the module;
- ``orphan``: a folder whose ledger survives but whose plan is gone. It is
  still an experiment: the record stays even when a file does not.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..paths import PLAN_NAMES

BET_RE = re.compile(r"^(\d{2,})_([A-Za-z0-9_]+)\.py$")
SKIP_DIRS = {"runs", "figures", "results", "__pycache__", "node_modules", "site-packages"}
LEDGER = "ledger.jsonl"


@dataclass(frozen=True)
class Found:
    """One experiment on disk: `path` is the plan, bet module or (orphan) ledger."""

    kind: str  # plan | bet | orphan
    path: Path
    folder: Path  # where its ledger, result and postmortem live


def module_docstring(path: Path) -> str:
    try:
        return ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
        return ""


def is_bet(path: Path) -> bool:
    """A bet module: an NN_name.py whose docstring states a hypothesis or holds a seal."""
    if not BET_RE.match(path.name):
        return False
    doc = module_docstring(path)
    return bool(re.search(r"hypothesis|sha256:", doc, re.IGNORECASE))


def _skip(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS or name.startswith("venv")


def discover(root: Path | str) -> list[Found]:
    """Every plan, bet module and orphaned ledger under `root`, in path order."""
    root = Path(root)
    found: list[Found] = []
    bet_folders: set[Path] = set()
    ledger_dirs: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skip(d))
        here = Path(dirpath)
        names = set(filenames)
        plan = next((here / n for n in PLAN_NAMES if n in names), None)
        if plan is not None:
            found.append(Found("plan", plan, here))
        for name in sorted(names):
            if BET_RE.match(name) and is_bet(here / name):
                folder = here / Path(name).stem
                bet_folders.add(folder)
                found.append(Found("bet", here / name, folder))
        if plan is None and LEDGER in names:
            ledger_dirs.append(here)
    for here in ledger_dirs:
        if here not in bet_folders:
            found.append(Found("orphan", here / LEDGER, here))
    return sorted(found, key=lambda f: str(f.path))
