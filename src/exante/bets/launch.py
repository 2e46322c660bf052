"""`exante run NN_name.py`: verify a sealed bet, import it and call its ``main()``.

The module is imported from its file under a private package name for its
folder (so ``from ._common import ...`` resolves to the sealed harness next
to it), never through ``sys.path`` guesses. Its ``main()`` calls
`exante.bets.run`, which records the invocation; `launch` checks that it did.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from types import ModuleType

from ..errors import ExanteError, InputError, IntegrityError, RefusedError
from ..experiment import open_experiment
from ..trials import exception_message
from . import outcome as O
from . import record


class BetFailed(IntegrityError):
    """The bet's own code raised; the run is on the record as RUN_FAILED (exit 1).

    run_id: the run this invocation recorded (None: it raised before recording one)."""

    def __init__(self, message: str, run_id: str | None = None):
        super().__init__(message)
        self.run_id = run_id


def launch(path: str | Path) -> O.BetOutcome:
    """Run the sealed bet at `path` once, as ``python -m`` would; return its outcome.

    Its RUN_STARTED is recorded before the module is imported (`record.open_run`), so no
    code of the bet runs off the record; a run it leaves open (it exited) counts as spent,
    and one it ends without recording (main() returned early, or raised) is RUN_FAILED."""
    module_path = Path(path).resolve()
    if not module_path.is_file():
        raise InputError(f"{path}: no such bet module")
    via, last = record.VIA.set("exante run"), record.LAST_RUN.set(None)
    opened = None
    try:
        run_id, common = record.open_run(module_path)  # refused here, before importing
        opened = record.OPENED.set((module_path, run_id, common))
        try:
            module = _import(module_path)
            main = getattr(module, "main", None)
            if not callable(main):
                raise InputError(f"{path}: a bet module needs a main() (seed 001's layout)")
            main()
        except ExanteError as exc:
            record.close_opened(module_path, str(exc))
            raise
        except BaseException as exc:
            text = exception_message(exc)
            record.close_opened(module_path, f"the bet raised {text}")
            if not isinstance(exc, Exception):
                raise
            raise BetFailed(f"{path}: the bet raised {text}; recorded as RUN_FAILED in "
                            f"{open_experiment(module_path).ledger.path}", run_id) from exc
        if record.OPENED.get() is not None:  # main() returned and never called run
            record.close_opened(module_path, "main() returned without recording its run")
            raise RefusedError(f"{path}: main() returned without recording a run; it must "
                               "call exante.bets.run(__file__, experiment) (the harness in "
                               "_common.py does), so that every invocation is on the record; "
                               f"{run_id} is recorded as RUN_FAILED")
    finally:
        if opened is not None:
            record.OPENED.reset(opened)
        record.VIA.reset(via)
        record.LAST_RUN.reset(last)
    return O.outcome(open_experiment(module_path).history)


def _import(path: Path) -> ModuleType:
    """Import `path` as a submodule of a private package standing for its folder."""
    folder = path.parent
    package = "_exante_bet_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [str(folder)]
        pkg.__package__ = package
        sys.modules[package] = pkg
    for stale in [m for m in sys.modules if m.startswith(package + ".")]:
        del sys.modules[stale]  # this run imports the files as they are now (verified above)
    name = f"{package}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
