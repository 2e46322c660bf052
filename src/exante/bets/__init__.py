"""Seed 001's bets, run and judged by exante (the bet API a bet's harness calls).

    exante.bets.run(__file__, experiment)   one sealed, recorded invocation (what main() calls)
    exante.bets.entry(main)                  ``if __name__ == "__main__": entry(main)``: one line
                                             and exit 1 on a refusal (PREREG TAMPERED, a rerun)
    exante.bets.launch(path)                 `exante run NN_name.py`: verify, import, call main()
    exante.bets.outcome_of(path)             the bet's outcome from its ledger

The tiers are computed by exante from the payload the ledger recorded, under
the criteria the lock read from the module (`exante.families.bet`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import ExanteError
from .launch import BetFailed, launch
from .outcome import BetOutcome, RunOutcome, outcome
from .record import BetRun, results_path, run


def outcome_of(path: str | Path) -> BetOutcome:
    """The outcome of the bet module at `path`, from its ledger alone."""
    from ..experiment import open_experiment

    return outcome(open_experiment(Path(path).resolve()).history)


def run_ids(path: str | Path) -> set[str]:
    """The ids of the runs the bet's ledger holds now (none while it cannot be read: not
    sealed yet, say), so that a caller can tell which run an invocation added."""
    try:
        return {r.run_id for r in outcome_of(path).runs}
    except ExanteError:
        return set()


def summary_line(name: str, result: BetOutcome) -> str:
    """`NN_name: STRICT (run NN_name-r1) — DEVIATED` for a terminal."""
    last = result.runs[-1] if result.runs else None
    line = f"{name}: {result.verdict}"
    if last is not None:
        line += f" (run {last.run_id}: {last.verdict or last.status})"
    if result.deviated:
        line += " — DEVIATED (rerun after an amendment; the first outcome stays in the ledger)"
    return line


def entry(main: Callable[[], Any]) -> None:
    """Call a bet's main() as a script: print its outcome, or one line and exit 1 (refused)."""
    try:
        result = main()
    except ExanteError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    if isinstance(result, BetOutcome):
        name = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "bet"
        print(summary_line(name, result))


__all__ = ["BetFailed", "BetOutcome", "BetRun", "RunOutcome", "entry", "launch", "outcome",
           "outcome_of", "results_path", "run", "run_ids", "summary_line"]
