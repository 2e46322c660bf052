"""A user's driver script: numpy imported at the top, then a plan run through the Python API.

    python driver_numpy.py PLAN
"""

import sys

import numpy  # noqa: F401  (the first line of most ML scripts)

from exante.runner import RunOptions, run

if __name__ == "__main__":
    run(sys.argv[1], RunOptions(executor="local", workers=1, threads=1))
