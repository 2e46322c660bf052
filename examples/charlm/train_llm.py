#!/usr/bin/env python
"""Train a small byte-level transformer LM on CPU and report its validation loss.

This is the example workload for exante: an ordinary, unmodified training script
that takes ``--train_tokens/--seed/--output_dir`` and prints lines such as

    Step 977 | val_loss: 1.8309 | train_loss: 1.6994 | tokens: 1000448 | elapsed: 83.5s

exante runs it as a plain command, reads the *last* ``val_loss`` from stdout with
``Step \\d+ \\| val_loss: ([0-9.]+)`` and deletes ``--output_dir`` afterwards.

The corpus is a fixed list of pure-Python standard-library modules of the running
interpreter, so it is available offline and byte-identical across runs on the same
Python (its sha256 is printed; pass ``--corpus FILE`` to train on anything else).

    python train_llm.py --train_tokens 1000000 --seed 42 --output_dir checkpoints/run42
    python train_llm.py --train_tokens 1000000 --seed 42 --norm rmsnorm --output_dir ...
    python train_llm.py --train_tokens 1000000 --seed 42 --lr_schedule constant --output_dir ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import sysconfig
import time
from dataclasses import asdict

# torch and the model are imported inside main(), after the arguments and the corpus
# have been checked, so that a typo fails in milliseconds rather than after the
# seconds it takes to import torch on a busy machine.

# Single-file modules that exist under these names in CPython 3.10-3.13 (no packages,
# no thin wrappers such as 3.12's datetime.py), concatenated in this sorted order.
# Nothing here depends on site-packages, so the corpus depends only on the Python version.
STDLIB_MODULES = sorted([
    "argparse", "ast", "calendar", "configparser", "csv", "dataclasses", "difflib",
    "enum", "fractions", "functools", "gettext", "heapq", "inspect", "ipaddress",
    "optparse", "pickle", "pprint", "random", "shutil", "statistics", "string",
    "subprocess", "tarfile", "textwrap", "threading", "tokenize", "traceback", "typing",
])
VAL_FRACTION = 0.1  # the last 10% of the corpus bytes is held out for validation


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Byte-level GPT on CPU; prints 'Step N | val_loss: X | ...' lines.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--train_tokens", type=int, default=1_000_000,
                   help="training budget in tokens (bytes); the standard scale is 1000000")
    p.add_argument("--seed", type=int, default=42, help="controls weight init and batch sampling")
    p.add_argument("--output_dir", default=None,
                   help="directory for ckpt.pt and metrics.json (nothing is written if omitted)")
    p.add_argument("--corpus", default=None,
                   help="train on this text file instead of the built-in stdlib corpus")
    # The two experiment knobs.
    p.add_argument("--norm", choices=["layernorm", "rmsnorm"], default="layernorm")
    p.add_argument("--lr_schedule", choices=["cosine", "constant"], default="cosine",
                   help="after linear warmup: cosine decay to lr/10, or stay at lr")
    # Model / optimisation size.
    p.add_argument("--n_layer", type=int, default=4)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_embd", type=int, default=64)
    p.add_argument("--block_size", type=int, default=64, help="context length in bytes")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--lr", type=float, default=6e-3, help="peak learning rate (AdamW)")
    p.add_argument("--warmup_frac", type=float, default=0.1,
                   help="fraction of the steps spent in linear warmup")
    # Evaluation / runtime.
    p.add_argument("--eval_interval", type=int, default=100, help="steps between val evaluations")
    p.add_argument("--eval_tokens", type=int, default=32768,
                   help="size of the fixed validation sample (same windows for every seed)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads; >1 on a shared small machine is often much slower")
    args = p.parse_args(argv)

    # Reject bad values up front with a clear message (argparse exits with status 2).
    positive = ["train_tokens", "n_layer", "n_head", "n_embd", "block_size",
                "batch_size", "eval_interval", "eval_tokens", "threads"]
    for name in positive:
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.seed < 2**63:
        p.error(f"--seed must be in [0, 2**63), got {args.seed}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error(f"--lr must be a positive number, got {args.lr}")
    if not 0 <= args.warmup_frac < 1:
        p.error(f"--warmup_frac must be in [0, 1), got {args.warmup_frac}")
    if args.n_embd % args.n_head:
        p.error(f"--n_embd ({args.n_embd}) must be divisible by --n_head ({args.n_head})")
    if args.eval_tokens < args.block_size:
        p.error(f"--eval_tokens ({args.eval_tokens}) must be >= --block_size ({args.block_size})")
    if args.corpus is not None and not os.path.isfile(args.corpus):
        p.error(f"--corpus: no such file: {args.corpus}")
    args._error = p.error  # for errors only detectable after loading the corpus
    return args


def load_corpus(path: str | None) -> tuple[bytes, str]:
    """Return the corpus bytes and a human-readable description of where they came from."""
    if path is not None:
        with open(path, "rb") as f:
            return f.read(), path
    stdlib = sysconfig.get_paths()["stdlib"]
    chunks = []
    for name in STDLIB_MODULES:
        fn = os.path.join(stdlib, name + ".py")
        if not os.path.isfile(fn):
            raise SystemExit(f"error: stdlib module {fn} not found; pass --corpus FILE instead")
        with open(fn, "rb") as f:
            chunks.append(f.read())
    return b"".join(chunks), f"{len(STDLIB_MODULES)} stdlib modules from {stdlib}"


def lr_at(step: int, max_steps: int, args: argparse.Namespace) -> float:
    """Learning rate for optimisation step `step` (0-based)."""
    warmup = int(args.warmup_frac * max_steps)
    if step < warmup:
        return args.lr * (step + 1) / warmup
    if args.lr_schedule == "constant":
        return args.lr
    min_lr = args.lr / 10
    progress = (step - warmup) / max(1, max_steps - warmup)
    return min_lr + 0.5 * (args.lr - min_lr) * (1 + math.cos(math.pi * progress))


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args = parse_args(argv)

    # ---- data -------------------------------------------------------------------
    raw, source = load_corpus(args.corpus)
    n_val = int(len(raw) * VAL_FRACTION)
    if min(len(raw) - n_val, n_val) <= args.block_size + 1:
        args._error(f"corpus too small ({len(raw)} bytes) for --block_size {args.block_size}: "
                    f"need more than {args.block_size + 1} bytes in each of train and val "
                    f"(val is the last {VAL_FRACTION:.0%})")
    if args.output_dir:  # fail now, not after training, if it cannot be created
        os.makedirs(args.output_dir, exist_ok=True)
    sha = hashlib.sha256(raw).hexdigest()
    print(f"corpus: {source} | {len(raw)} bytes | sha256 {sha}", flush=True)

    import torch
    from model import GPT, GPTConfig

    torch.set_num_threads(args.threads)
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    train_data, val_data = data[:-n_val], data[-n_val:]

    # Validation windows are evenly spaced over the val split and do NOT depend on the
    # seed, so seed-to-seed differences in val_loss come from training alone.
    n_windows = max(1, min(args.eval_tokens // args.block_size, len(val_data) - args.block_size - 1))
    starts = torch.linspace(0, len(val_data) - args.block_size - 1, n_windows).long()
    offs = torch.arange(args.block_size)
    val_x, val_y = val_data[starts[:, None] + offs].long(), val_data[starts[:, None] + offs + 1].long()

    # ---- model --------------------------------------------------------------------
    # Two explicit generators derived from the seed: one for the initial weights, one
    # for batch sampling. Nothing else in the run is random (no dropout).
    torch.manual_seed(args.seed)  # belt and braces; nothing below uses the global RNG
    g_init = torch.Generator().manual_seed(args.seed)
    g_data = torch.Generator().manual_seed(args.seed + 1)
    cfg = GPTConfig(block_size=args.block_size, n_layer=args.n_layer, n_head=args.n_head,
                    n_embd=args.n_embd, norm=args.norm)
    model = GPT(cfg, g_init)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.99))

    tokens_per_step = args.batch_size * args.block_size
    max_steps = math.ceil(args.train_tokens / tokens_per_step)  # at least train_tokens are seen
    print(f"model: {model.num_params():,} params | {asdict(cfg)}", flush=True)
    print(f"train: {max_steps} steps x {tokens_per_step} tokens | lr {args.lr} {args.lr_schedule} "
          f"| seed {args.seed} | threads {args.threads} | eval on {n_windows * args.block_size} "
          f"val tokens", flush=True)

    # ---- training loop ------------------------------------------------------------
    hi = len(train_data) - args.block_size - 1  # largest start index with a full (x, y) window
    running, n_running = 0.0, 0
    val_loss = train_loss = float("nan")
    for step in range(max_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, max_steps, args)
        ix = torch.randint(0, hi + 1, (args.batch_size,), generator=g_data)
        idx = ix[:, None] + offs
        x, y = train_data[idx].long(), train_data[idx + 1].long()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            # Exit loudly: a "val_loss: nan" line would not match the usual regex, and a
            # reader of stdout would silently pick up the previous, stale value instead.
            sys.exit(f"error: training loss is {loss_value} at step {step + 1}; try a lower --lr")
        running += loss_value
        n_running += 1

        done = step + 1
        if done % args.eval_interval == 0 or done == max_steps:  # always a final eval line
            val_loss = model.estimate_loss(val_x, val_y)
            train_loss = running / n_running  # mean training-batch loss since the last line
            running, n_running = 0.0, 0
            print(f"Step {done} | val_loss: {val_loss:.4f} | train_loss: {train_loss:.4f} "
                  f"| tokens: {done * tokens_per_step} | elapsed: {time.perf_counter() - t0:.1f}s",
                  flush=True)

    wall_time = time.perf_counter() - t0

    # ---- outputs ------------------------------------------------------------------
    if args.output_dir:
        run_args = {k: v for k, v in vars(args).items() if not k.startswith("_")}
        torch.save({"model": model.state_dict(), "config": asdict(cfg), "args": run_args,
                    "step": max_steps, "val_loss": val_loss},
                   os.path.join(args.output_dir, "ckpt.pt"))
        metrics = {
            "val_loss": round(val_loss, 4),  # exactly the value printed on the last Step line
            "val_loss_full": val_loss,
            "train_loss": train_loss,
            "wall_time": wall_time,
            "tokens": max_steps * tokens_per_step,
            "steps": max_steps,
            "n_params": model.num_params(),
            "corpus_sha256": sha,
            "corpus_bytes": len(raw),
            "args": run_args,
            "python": platform.python_version(),
            "torch": torch.__version__,
        }
        with open(os.path.join(args.output_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
        print(f"wrote {args.output_dir}/ckpt.pt and metrics.json | wall_time {wall_time:.1f}s",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
