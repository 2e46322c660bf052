"""The few git questions the audit asks, answered by the git command line.

Every call names its repository with ``git -C`` and passes paths after
``--``, so a file name can never be read as an option. Outside a git
repository (or without git installed) every answer is None.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

TIMEOUT_S = 30


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None


def toplevel(path: Path) -> Path | None:
    """The work tree holding `path`, or None outside git."""
    folder = path if path.is_dir() else path.parent
    if not _maybe_in_git(folder):
        return None  # no process to start per experiment of a registry outside git
    proc = _git(folder, "rev-parse", "--show-toplevel")
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        return None
    return Path(proc.stdout.strip())


def _maybe_in_git(folder: Path) -> bool:
    """False only when git surely sees no repository here: no GIT_DIR in the environment
    and no `.git` in this folder or any folder above it."""
    if os.environ.get("GIT_DIR"):
        return True
    here = Path(folder).resolve()
    return any(_has_git(d) for d in (here, *here.parents))


_SEEN: dict[Path, bool] | None = None  # within `remembered()`: folder -> has a .git


def _has_git(folder: Path) -> bool:
    if _SEEN is None:
        return (folder / ".git").exists()
    found = _SEEN.get(folder)
    if found is None:
        found = _SEEN[folder] = (folder / ".git").exists()
    return found


@contextlib.contextmanager
def remembered() -> Iterator[None]:
    """Within it, whether a folder holds a `.git` is looked up once: an audit asks it of the
    same registry's parent folders twice per experiment."""
    global _SEEN
    outer, _SEEN = _SEEN, ({} if _SEEN is None else _SEEN)
    try:
        yield
    finally:
        _SEEN = outer


def _lines(repo: Path, *args: str) -> list[str]:
    proc = _git(repo, *args)
    if proc is None or proc.returncode != 0:
        return []
    return [line for line in proc.stdout.splitlines() if line.strip()]


def first_adding_commit(repo: Path, path: Path) -> str | None:
    """The oldest commit that added `path` (``git log --diff-filter=A``)."""
    found = _lines(repo, "log", "--diff-filter=A", "--format=%H", "--", str(Path(path).resolve()))
    return found[-1] if found else None


def first_commit_containing(repo: Path, path: Path, needle: str) -> str | None:
    """The oldest commit whose change to `path` made `needle` appear (``git log -S``)."""
    found = _lines(repo, "log", "--reverse", "--format=%H", f"-S{needle}", "--",
                   str(Path(path).resolve()))
    return found[0] if found else None


def is_ancestor(repo: Path, older: str, newer: str) -> bool | None:
    """True when `older` is an ancestor of (or equal to) `newer`; None when git cannot tell."""
    proc = _git(repo, "merge-base", "--is-ancestor", older, newer)
    if proc is None or proc.returncode not in (0, 1):
        return None
    return proc.returncode == 0


def short(commit: str | None) -> str:
    return commit[:10] if commit else "—"
