"""Where an experiment's files live, and the guarantee that ids stay inside the registry.

    experiments/<id>/prereg.yaml   the plan (or any NAME.yaml -> its files go in NAME/)
    experiments/<id>/ledger.jsonl  the ledger
    experiments/<id>/runs/<run_id>/
    experiments/<id>/result.json, report.md, report.html, figures/, postmortem.md
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .spec import check_id

PLAN_NAMES = ("prereg.yaml", "prereg.yml")
DEFAULT_ROOT = Path("experiments")


def experiment_dir(plan_path: Path) -> Path:
    """The folder that holds a plan's records: its own folder for prereg.yaml, else <stem>/."""
    plan_path = Path(plan_path)
    if plan_path.name in PLAN_NAMES:
        return plan_path.parent
    return plan_path.parent / plan_path.stem


def write_atomic(path: Path, text: str) -> None:
    """Write a whole text file or nothing: a full disk leaves the old file, never half a new one.

    Mode 0666 less the umask, as `open` would give.
    """
    import os
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc  # name the file it was
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ledger_path(plan_path: Path) -> Path:
    return experiment_dir(plan_path) / "ledger.jsonl"


def run_dir(plan_path: Path, run_id: str) -> Path:
    return experiment_dir(plan_path) / "runs" / run_id


def find_plan(target: str | Path, root: Path = DEFAULT_ROOT) -> Path:
    """A plan from a path, a folder holding prereg.yaml, or an experiment id under `root`."""
    path = Path(target)
    if path.is_file():
        return path
    if path.is_dir():
        for name in PLAN_NAMES:
            if (path / name).is_file():
                return path / name
        raise InputError(f"{path}: no prereg.yaml in this folder")
    if "/" in str(target) or "\\" in str(target) or str(target).endswith((".yaml", ".yml", ".py")):
        raise InputError(f"{target}: no such plan file")
    check_id(str(target))
    folder = (Path(root) / str(target)).resolve()
    if Path(root).resolve() not in folder.parents:
        raise InputError(f"{target}: outside the registry {root}")
    for name in PLAN_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"no experiment '{target}' under {root}/ (looked for {folder}/prereg.yaml)")
