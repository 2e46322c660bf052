"""Run the example bet suite end to end: lock, run every bet, roll up, audit.

    python examples/bets/run_suite.py [FOLDER] [--fresh]     (FOLDER: .../examples/bets)

Bets 01 and 03 run with seed 001's own command (``python -m examples.bets.NN_name`` from
the project root), bets 02 and 04 with ``exante run``: both leave the same ledger record.
``--fresh`` first unseals the modules and removes their ledgers, results and summaries
(only inside FOLDER), so the whole record is regenerated. Exits non-zero when a step fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED_COMMAND = ("01_ridge_beats_mean", "03_nuisance_features_heldout")
GENERATED = ("SUMMARY.md", "SUMMARY.json", "index.html")


def bets(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py") if not p.name.startswith("00_"))


def fresh(folder: Path) -> None:
    """Unseal every bet and remove what running them wrote (inside `folder` only)."""
    for bet in bets(folder):
        bet.write_text(re.sub(r'sha256: "[a-f0-9]*"', 'sha256: ""', bet.read_text()))
        shutil.rmtree(folder / bet.stem, ignore_errors=True)
    shutil.rmtree(folder / "results", ignore_errors=True)
    for name in GENERATED:
        (folder / name).unlink(missing_ok=True)


def step(argv: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parent.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    print("$", " ".join(argv), flush=True)
    done = subprocess.run(argv, cwd=cwd, env=env, text=True, capture_output=True)
    print(done.stdout + done.stderr, end="", flush=True)
    if done.returncode != 0:
        sys.exit(f"step failed (exit {done.returncode}): {' '.join(argv)}")


def main(argv: list[str]) -> None:
    folder = Path(next((a for a in argv if not a.startswith("--")), HERE)).resolve()
    if "--fresh" in argv:
        fresh(folder)
    exante = [sys.executable, "-m", "exante"]
    for bet in bets(folder):
        step([*exante, "lock", str(bet)], folder.parent)
    for bet in bets(folder):
        if bet.stem in SEED_COMMAND:
            step([sys.executable, "-m", f"{folder.parent.name}.{folder.name}.{bet.stem}"],
                 folder.parent.parent)
        else:
            step([*exante, "run", str(bet)], folder.parent.parent)
    step([*exante, "rollup", str(folder)], folder.parent.parent)
    step([*exante, "audit", str(folder)], folder.parent.parent)


if __name__ == "__main__":
    main(sys.argv[1:])
