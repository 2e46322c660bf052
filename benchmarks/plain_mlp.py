"""The trainer a researcher would write by hand: `nn.Sequential` and `torch.optim.AdamW`.

    python benchmarks/plain_mlp.py --depth 4 --activation gelu --weight_decay 1e-4 \\
        --seed 42 [--epochs 20]

One run per process on the study's MNIST-1D split (the same arrays as
`exante_examples.mlp`), with the study's hyper-parameters (width 256, lr 1e-3,
batch 128): shuffle with `torch.randperm` each epoch, cross-entropy, AdamW's
default implementation (no fused kernel, no stacked ensemble). Prints one JSON
object with the accuracies and the wall time. `benchmarks/ablation.py` times it as
the per-process baseline a reader would actually compare against.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from exante_examples.mlp.config import parse_params
from exante_examples.mlp.data import load

ACT = {"relu": nn.ReLU, "gelu": nn.GELU}


def model_for(features: int, depth: int, width: int, activation: str) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(features if i == 0 else width, width), ACT[activation]()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(depth: int, activation: str, weight_decay: float, seed: int, epochs: int) -> dict:
    torch.manual_seed(seed)
    cfg = parse_params({"depth": depth, "activation": activation, "weight_decay": weight_decay})
    data = load(cfg)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    model = model_for(data.group * data.features, depth, cfg.width, activation)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return {"train_acc": accuracy(model, x, y),
            "val_acc": accuracy(model, torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)),
            "test_acc": accuracy(model, torch.from_numpy(data.x_test),
                                 torch.from_numpy(data.y_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, required=True)
    parser.add_argument("--activation", choices=sorted(ACT), required=True)
    parser.add_argument("--weight_decay", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads; 0 leaves torch's default (every core), as a "
                             "script that never calls torch.set_num_threads gets")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    out = train(args.depth, args.activation, args.weight_decay, args.seed, args.epochs)
    print(json.dumps({**out, "wall_s": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
