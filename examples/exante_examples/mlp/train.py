"""The trial exante calls: `train` for one run, `train_batch` for many at once.

Both go through `fit_group`, which trains E runs as one stacked ensemble
(`exante_examples.mlp.model`); `train` is simply a group of one. A run's
metrics do not depend on which other runs share its group, so `train_batch`
reproduces `train` bit for bit (timings aside); ``tests/test_mlp_train.py``
checks it.

Randomness: the run seed alone drives everything random in a run, through
three independent streams ``numpy.random.SeedSequence(seed, spawn_key=(k,))``:
k=0 initialisation (a torch.Generator), k=1 the order of training samples
(a torch.Generator, one ``randperm`` per epoch), k=2 the label permutation of
the shuffled-labels trap (a numpy Generator). No global RNG is read or set.

Modes: ``train`` (the study); ``untrained`` (tau: the initialised network
evaluated as is); ``oracle`` (the trivial-pass trap: the evaluation below
scored on logits that predict the true labels, so every accuracy is exactly
1.0). With ``labels: shuffled`` the network trains on permuted training labels
and is evaluated on the true validation and test labels; its train_acc and
train_loss are measured against the permuted labels it was trained on.

Metrics (all floats): test_acc (primary), val_acc, train_acc, test_loss,
val_loss, train_loss (mean cross-entropy, nats), flops (analytic training
FLOPs, see `model.Arch.flops_per_sample`), steps (optimizer steps),
train_seconds / train_cpu_seconds (wall / process CPU time of the training
loop, divided by the group size when trained as a group), members (group size).

Device: the ensemble trains on CUDA when torch sees a device (under exante's
``--gpus`` each worker sees the one its slot was given, through
CUDA_VISIBLE_DEVICES) and on the CPU otherwise; ``ctx.device`` ("cpu",
"cuda", "cuda:1") overrides that. Initial weights, sample orders and label
permutations are drawn on the CPU, so they are the same on every device; the
arithmetic after them is the device's, so a CUDA run is not bit-equal to a
CPU one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from . import data
from .config import Config, check_seed, parse_params
from .model import Arch, StackedMLP, training_flops
from .optim import StackedAdamW

# the only metrics that depend on the group a run was trained in (timings, group size)
BATCH_DEPENDENT_METRICS = ("train_seconds", "train_cpu_seconds", "members")
_INIT, _ORDER, _LABELS = 0, 1, 2  # SeedSequence spawn keys
ORACLE_MARGIN = 30.0  # oracle logits: 30 for the true class, 0 elsewhere


@dataclass(frozen=True)
class _Tensors:
    x_train: torch.Tensor  # (N, G, F) float32
    y_train: torch.Tensor  # (N,) int64
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


_TENSORS: dict[tuple, _Tensors] = {}


def train(params: Mapping[str, Any], seed: int, ctx: Any = None) -> dict[str, float]:
    """Train and evaluate one run; returns its metrics (see the module doc).

    ctx: anything with ``threads`` (int, default 1); nothing else is read.
    """
    config = parse_params(params)
    _set_threads(ctx)
    return fit_group(config, [check_seed(seed)], weight_decays=[config.weight_decay],
                     lrs=[config.lr], labels=[config.labels], device=device_for(ctx))[0]


def train_batch(runs: Sequence[Any], ctx: Any = None) -> list[dict[str, float]]:
    """Train many runs; one metrics dict per run, in order.

    Each element of `runs` has ``.params`` (mapping) and ``.seed`` (int). Runs
    that agree on `Config.shape_key` (everything but seed, weight_decay, lr and
    labels) train as one stacked ensemble; others form further groups, so any
    mix is accepted, and grouping only changes speed, never a metric.
    """
    _set_threads(ctx)
    device = device_for(ctx)
    configs = [parse_params(run.params) for run in runs]
    seeds = [check_seed(run.seed) for run in runs]
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config.shape_key(), []).append(index)
    results: list[dict[str, float]] = [{} for _ in runs]
    for indices in groups.values():
        group = [configs[i] for i in indices]
        metrics = fit_group(group[0], [seeds[i] for i in indices],
                            weight_decays=[c.weight_decay for c in group],
                            lrs=[c.lr for c in group], labels=[c.labels for c in group],
                            device=device)
        for i, m in zip(indices, metrics):
            results[i] = m
    return results


def device_for(ctx: Any = None) -> torch.device:
    """`ctx.device` when given, else the first CUDA device torch sees, else the CPU."""
    named = getattr(ctx, "device", None)
    if named:
        return torch.device(named)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit_group(config: Config, seeds: list[int], *, weight_decays: list[float],
              lrs: list[float], labels: list[str],
              device: torch.device | None = None) -> list[dict[str, float]]:
    """Train len(seeds) members sharing `config`'s architecture; their metrics, in order."""
    device = torch.device(device or "cpu")
    tensors = _load_tensors(config, device)
    if config.mode == "oracle":
        return [_oracle_metrics(tensors) for _ in seeds]
    n_train, group, features = tensors.x_train.shape
    arch = Arch(features=features, width=config.width, depth=config.depth,
                activation=config.activation, group=group)
    model = StackedMLP(arch, [_torch_stream(s, _INIT) for s in seeds], device)
    targets = torch.stack([_train_labels(tensors.y_train, s, how) for s, how in zip(seeds, labels)])
    epochs = config.epochs if config.mode == "train" else 0
    wall, cpu, steps = 0.0, 0.0, 0
    if epochs:
        optimizer = StackedAdamW(model.parameters(), model.gradients(), lrs=lrs,
                                 weight_decays=weight_decays,
                                 fused=config.optimizer == "adamw_fused")
        orders = [_torch_stream(s, _ORDER) for s in seeds]
        wall, cpu = time.perf_counter(), time.process_time()
        steps = _fit(model, optimizer, tensors.x_train, targets, orders, epochs, config.batch_size)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    evaluated = _evaluate(model, tensors, targets)
    flops = float(training_flops(arch, n_train, epochs))
    members = len(seeds)
    return [{**m, "flops": flops, "steps": float(steps), "train_seconds": wall / members,
             "train_cpu_seconds": cpu / members, "members": float(members)} for m in evaluated]


def _fit(model: StackedMLP, optimizer: StackedAdamW, x_train: torch.Tensor,
         targets: torch.Tensor, orders: list[torch.Generator], epochs: int,
         batch_size: int) -> int:
    """Mini-batch AdamW over `epochs` epochs; every member sees its own sample order."""
    n = x_train.shape[0]
    rows = x_train.reshape(n, -1)  # one sample per row, so index_select gathers whole samples
    members = model.members
    steps = 0
    for _ in range(epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in orders])  # (E, n), CPU
        order = order.to(rows.device)
        for start in range(0, n, batch_size):
            idx = order[:, start:start + batch_size]
            ws = model.workspace(idx.shape[1])
            torch.index_select(rows, 0, idx.reshape(-1), out=ws.x.view(members * idx.shape[1], -1))
            model.train_step(ws, torch.gather(targets, 1, idx))
            optimizer.step()
            steps += 1
    return steps


def _evaluate(model: StackedMLP, tensors: _Tensors,
              train_targets: torch.Tensor) -> list[dict[str, float]]:
    splits = {
        "train": (tensors.x_train, train_targets),
        "val": (tensors.x_val, tensors.y_val.expand(model.members, -1)),
        "test": (tensors.x_test, tensors.y_test.expand(model.members, -1)),
    }
    per_member: list[dict[str, float]] = [{} for _ in range(model.members)]
    for name, (x, y) in splits.items():
        losses, accuracies = score(model.logits(x), y)
        for e in range(model.members):
            per_member[e][f"{name}_loss"] = losses[e]
            per_member[e][f"{name}_acc"] = accuracies[e]
    return per_member


@torch.inference_mode()
def score(logits: torch.Tensor, targets: torch.Tensor) -> tuple[list[float], list[float]]:
    """Mean cross-entropy (nats) and accuracy per member. logits (E, N, C), targets (E, N).

    Accuracy is correct/N computed exactly from integer counts, so all-correct
    predictions give exactly 1.0. An empty split scores NaN.
    """
    e, n, c = logits.shape
    if n == 0:
        return [float("nan")] * e, [float("nan")] * e
    log_probs = torch.log_softmax(logits, dim=-1)
    nll = -torch.gather(log_probs, 2, targets.unsqueeze(2)).squeeze(2)  # (E, N)
    losses = nll.double().mean(dim=1)
    correct = (logits.argmax(dim=2) == targets).sum(dim=1)
    return [float(v) for v in losses], [int(k) / n for k in correct]


def oracle_logits(targets: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """Logits (E, N, classes) that predict `targets` (E, N): ORACLE_MARGIN on the true class."""
    return torch.nn.functional.one_hot(targets, classes).float() * ORACLE_MARGIN


def _oracle_metrics(tensors: _Tensors) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name, y in (("train", tensors.y_train), ("val", tensors.y_val), ("test", tensors.y_test)):
        targets = y.unsqueeze(0)
        (loss,), (accuracy,) = score(oracle_logits(targets), targets)
        metrics[f"{name}_loss"], metrics[f"{name}_acc"] = loss, accuracy
    return {**metrics, "flops": 0.0, "steps": 0.0, "train_seconds": 0.0,
            "train_cpu_seconds": 0.0, "members": 1.0}


def _train_labels(y_train: torch.Tensor, seed: int, how: str) -> torch.Tensor:
    """The labels a member trains on: the true ones, or a seed-driven permutation of them."""
    if how == "true":
        return y_train
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_LABELS,)))
    return y_train[torch.from_numpy(rng.permutation(len(y_train))).to(y_train.device)]


def _torch_stream(seed: int, key: int) -> torch.Generator:
    state = np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _load_tensors(config: Config, device: torch.device) -> _Tensors:
    key = (config.data_key(), str(device))
    if key not in _TENSORS:
        splits = data.load(config)
        _TENSORS[key] = _Tensors(**{k: torch.from_numpy(v).to(device)
                                    for k, v in splits.arrays().items()})
    return _TENSORS[key]


def _set_threads(ctx: Any) -> None:
    # one thread per worker process: two threads per process on two loaded
    # cores made a run 20× slower in the measurements
    threads = int(getattr(ctx, "threads", 1) or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def warm_up(threads: int = 1) -> None:
    """Import and touch every kernel a run uses, on random data (for a worker initializer)."""
    torch.set_num_threads(threads)
    arch = Arch(features=8, width=32, depth=1, activation="gelu")
    model = StackedMLP(arch, [torch.Generator().manual_seed(0)])
    for fused in (True, False):
        optimizer = StackedAdamW(model.parameters(), model.gradients(), lrs=[1e-3],
                                 weight_decays=[1e-4], fused=fused)
        ws = model.workspace(4)
        ws.x.normal_(generator=torch.Generator().manual_seed(0))
        model.train_step(ws, torch.zeros(1, 4, dtype=torch.int64))
        optimizer.step()
    score(model.logits(torch.zeros(4, 1, 8)), torch.zeros(1, 4, dtype=torch.int64))
