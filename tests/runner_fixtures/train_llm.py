"""A stand-in for seed 003's `train_llm.py`: prints `Step N | val_loss: X | ...` lines.

    python train_llm.py --train_tokens N --seed S --tag TEXT --output_dir DIR --argv_file FILE
                        [--fail yes]

Writes the argv it received (as JSON) to --argv_file, a checkpoint into
--output_dir, one line to stderr, and exits 1 with a traceback-like stderr
when --fail is "yes". The last val_loss it prints is 3.0 + seed / 10000.
"""

import argparse
import json
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--train_tokens", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--tag", required=True)
parser.add_argument("--output_dir", required=True)
parser.add_argument("--argv_file", required=True)
parser.add_argument("--fail", default="no")
args = parser.parse_args()

Path(args.argv_file).write_text(json.dumps(sys.argv[1:]))
out = Path(args.output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "model.pt").write_bytes(b"\0" * 1024)
print(f"warning: tokenizer cache miss for seed {args.seed}", file=sys.stderr)
final = 3.0 + args.seed / 10000
for step in (100, 200, 300):
    val = final + (300 - step) / 100  # falls to `final` at the last step
    print(f"Step {step} | val_loss: {val:.4f} | train_loss: {val + 0.1:.4f} | tokens: {step * 1000}")
    sys.stdout.flush()
    if args.fail == "yes" and step == 200:
        print("Traceback (most recent call last):\nRuntimeError: CUDA out of memory. "
              "Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(1)
print(f"saved checkpoint to {out / 'model.pt'}")
