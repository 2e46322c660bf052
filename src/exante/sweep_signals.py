"""SIGINT and SIGTERM of the runner: the sweep stops, recorded, never a trial's failure.

Inside `stop_on_signals()` both signals raise `SweepInterrupted` (an exante
`ControlSignal`, not the KeyboardInterrupt a trial may raise itself), so the
trial layer passes it through and the runner records SWEEP_INTERRUPTED.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from .errors import SweepInterrupted, issue


@contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM become `SweepInterrupted` (not a trial's KeyboardInterrupt) here.

    Only the main thread can install handlers; elsewhere the defaults stay.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        for sig in previous:  # the first signal stops the sweep; a second must not cut its record
            signal.signal(sig, signal.SIG_IGN)
        raise issue(SweepInterrupted(signum))

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
