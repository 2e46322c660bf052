"""A command that writes its pid, optionally waits for a file, sleeps, then prints a score.

    python sleeper.py PID_FILE SECONDS [WAIT_FOR_FILE]
"""

import os
import sys
import time
from pathlib import Path

Path(sys.argv[1]).write_text(str(os.getpid()))
if len(sys.argv) > 3 and sys.argv[3]:
    deadline = time.monotonic() + 60
    while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
time.sleep(float(sys.argv[2]))
print("score=1.0")
