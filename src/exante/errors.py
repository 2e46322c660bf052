"""Every error exante raises, as one tree.

    ExanteError                      base; carries an exit code for the CLI
    ├── InputError                   exit 2: the user gave something unusable
    │   ├── PlanError                a plan file that does not validate (names file + YAML path)
    │   ├── RuleError                a rule expression that cannot be parsed or names an unknown name
    │   └── MissingDependencyError   an optional extra is not installed (names the pip extra)
    └── IntegrityError               exit 1: something refuses to go on
        ├── TamperedError            the seal does not match the text (``PREREG TAMPERED``)
        ├── FingerprintError         code or data changed after the lock
        ├── LedgerError              the hash chain is broken or the ledger is unreadable
        ├── RefusedError             a valid request that the rules forbid (killed plan, busy lock)
        └── AuditError               an audit finding

The library raises these; only ``exante.cli`` turns them into one line and an
exit code.
"""

from __future__ import annotations


class ExanteError(Exception):
    """Base of every exante error."""

    exit_code = 1


class InputError(ExanteError):
    """Bad input or usage; the CLI exits 2."""

    exit_code = 2


class PlanError(InputError):
    """A plan that does not validate.

    The message reads ``FILE: YAML.PATH: expected X, got Y``.
    """

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None):
        self.file = file
        self.path = path
        where = ": ".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class RuleError(PlanError):
    """A rule expression that is not allowed or names something unknown."""


class MissingDependencyError(InputError):
    """An optional dependency is missing; the message names the extra."""

    def __init__(self, module: str, extra: str):
        super().__init__(
            f"this needs the optional dependency {module!r}: pip install 'exante[{extra}]'"
        )


class IntegrityError(ExanteError):
    """Something does not add up; the CLI exits 1."""

    exit_code = 1


class TamperedError(IntegrityError):
    """The sealed text changed after the lock."""


class FingerprintError(IntegrityError):
    """A sealed code or data file changed after the lock."""


class LedgerError(IntegrityError):
    """The ledger's hash chain is broken or a record is unreadable."""


class RefusedError(IntegrityError):
    """The request is valid but the registered rules forbid it."""


class AuditError(IntegrityError):
    """The audit found a problem."""


class ControlSignal(BaseException):
    """Raised by exante itself to stop a trial from outside (a deadline, the runner's Ctrl-C).

    Not an `Exception`, so a trial's own `except Exception` lets it through, and
    `trials` never records it as the trial's failure: it passes it on, but only one
    that exante raised (`issue`). A trial that raises one itself, to stop the sweep as
    if Ctrl-C had been pressed and run again, gets a failed run instead.
    """

    issued = False


def issue(signal: ControlSignal) -> ControlSignal:
    """`raise issue(SweepInterrupted(signum))`: mark a ControlSignal as exante's own."""
    signal.issued = True
    return signal


class SweepInterrupted(ControlSignal):
    """The runner got SIGINT or SIGTERM: the sweep stops and records SWEEP_INTERRUPTED."""

    def __init__(self, signum: int = 2):
        self.signum = signum
        super().__init__(f"signal {signum}")


def require(module: str, extra: str):
    """Import an optional dependency late, or raise a message naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(module, extra) from exc
