"""One run per process, the loop a researcher would write by hand.

    python -m exante_examples.mlp.cli --depth 4 --activation gelu --weight_decay 1e-4 \\
        --seed 42 --out metrics.json [--epochs 20 --threads 1 ...]

Prints the metrics as one JSON object and writes the same object to ``--out``.
``--fingerprint`` prints the sha256 of the data the parameters select and exits.
Exit codes: 0 success, 2 invalid parameters or missing data (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from .config import DEFAULTS, ParamError


def build_parser() -> argparse.ArgumentParser:
    """The command line: one option per trial parameter, plus seed, threads and out."""
    parser = argparse.ArgumentParser(prog="python -m exante_examples.mlp.cli",
                                     description="Train and evaluate one MLP-ablation run.")
    parser.add_argument("--depth", type=int, help="hidden layers (required to train)")
    parser.add_argument("--activation", help="relu | gelu (required to train)")
    parser.add_argument("--weight_decay", type=float, help="AdamW weight decay (required to train)")
    parser.add_argument("--seed", type=int, help="run seed (required to train)")
    parser.add_argument("--out", type=Path, help="write the metrics JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1)")
    parser.add_argument("--fingerprint", action="store_true",
                        help="print the sha256 of the selected data and exit")
    for key, default in DEFAULTS.items():
        kind = type(default) if default is not None else str
        parser.add_argument(f"--{key}", type=kind, default=default, help=f"default {default}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    params = {key: getattr(args, key) for key in ("depth", "activation", "weight_decay", *DEFAULTS)}
    params = {key: value for key, value in params.items() if value is not None}
    missing = [k for k in ("depth", "activation", "weight_decay", "seed")
               if getattr(args, k) is None]
    if missing and not args.fingerprint:
        parser.error(f"to train, give --{' --'.join(missing)}")
    try:
        if args.fingerprint:
            from .data import fingerprint

            print(fingerprint(params))
            return 0
        from .train import train

        out_dir = args.out.parent if args.out else Path.cwd()
        ctx = SimpleNamespace(threads=args.threads, run_dir=out_dir, run_id="cli", role="arm")
        metrics = train(params, args.seed, ctx)
    except (ParamError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, sort_keys=True)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
