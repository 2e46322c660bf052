"""A command trial: writes the argv it received to argv.json and prints a metric.

    python fixture_command.py OUT_DIR SEED [ARG ...]
"""

import json
import sys
from pathlib import Path

out, seed = Path(sys.argv[1]), int(sys.argv[2])
(out / "argv.json").write_text(json.dumps(sys.argv[1:]))
print(f"score={2 * seed}")
