"""Starting plans for `exante init NAME --template ablation|compare|bet`.

    ablation   experiments/NAME/prereg.yaml   a full factorial, per-factor verdicts (seed 002)
    compare    experiments/NAME/prereg.yaml   one change vs a baseline, variance first (seed 003)
    bet        experiments/bets/NN_NAME.py    a bet module: docstring with hypothesis, the
                                              strict / lenient / catastrophic tiers in a
                                              CRITERIA block exante judges (seed 001), plus
                                              the folder's _common.py harness and 00_rollup.py

Each is commented, validates as written, and is NOT sealed: the researcher edits it, writes
the trial it names (``train.py`` with ``train(params, seed, ctx)`` for the YAML plans), then
runs ``exante lock``. The files live in ``exante/templates/`` as package data.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from .errors import InputError
from .spec import check_id

TEMPLATES = {"ablation": "ablation.yaml", "compare": "compare.yaml", "bet": "bet.py.tmpl"}
_NUMBERED = re.compile(r"^(\d+)_")
BETS = "bets"  # seed 001: experiments/bets/NN_name.py


def template_text(template: str) -> str:
    """The raw text of a shipped template, placeholders unfilled."""
    if template not in TEMPLATES:
        raise InputError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    return resources.files("exante").joinpath("templates", TEMPLATES[template]).read_text(
        encoding="utf-8")


def write_template(name: str, template: str, root: Path) -> Path:
    """Write the starting plan for `name` under the registry `root`; return its path.

    Refuses a name that is not a simple experiment id and never overwrites a file.
    """
    check_id(name)
    root = Path(root)
    text = template_text(template)
    if template == "bet":
        root = root if root.name == BETS else root / BETS
        path = root / f"{_bet_stem(name, root)}.py"
        text = _fill_bet(text, path, root)
    else:
        path = root / name / "prereg.yaml"
        text = text.replace("__EXPERIMENT_ID__", name).replace("__PLAN_PATH__", str(path))
    if path.exists():
        raise InputError(f"{path} already exists; choose another name or edit that file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8", newline="\n") as fh:  # "x": never overwrite
        fh.write(text)
    if template == "bet":
        _bet_folder_files(root)
    return path


def _bet_folder_files(folder: Path) -> None:
    """The shared harness and the roll-up of a bets folder, written once (never overwritten)."""
    package = ".".join(folder.parts) if not folder.is_absolute() else folder.name
    for name, source in (("_common.py", "bet_common.py.tmpl"), ("00_rollup.py", "bet_rollup.py.tmpl")):
        target = folder / name
        if not target.exists():
            text = resources.files("exante").joinpath("templates", source).read_text(
                encoding="utf-8")
            target.write_text(text.replace("__PACKAGE__", package)
                              .replace("__FOLDER__", folder.as_posix()), encoding="utf-8")


def _bet_stem(name: str, root: Path) -> str:
    """`NN_name`: the next free bet number under `root`, unless `name` already has one."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if _NUMBERED.match(stem):
        return stem
    taken = [int(m.group(1)) for p in root.glob("*.py") if (m := _NUMBERED.match(p.name))]
    return f"{max(taken, default=0) + 1:02d}_{stem}"


def _fill_bet(text: str, path: Path, root: Path) -> str:
    stem = path.stem
    number, _, title = stem.partition("_")
    module = ".".join([*root.parts, stem]) if not root.is_absolute() else stem
    return (text.replace("__NUMBER__", number).replace("__TITLE__", title.replace("_", " "))
            .replace("__BET__", stem).replace("__LOCK_PATH__", str(path))
            .replace("__MODULE__", module))
