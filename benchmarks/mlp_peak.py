"""Helpers for benchmarks/ablation.py: the machine's matmul peak and a run's training FLOPs.

    matmul_peak_gflops(threads)        large square fp32 matmul, measured now (GFLOP/s)
    training_flops(params, n_train)    analytic matmul FLOPs of one run of the MLP trial

"Achieved fraction of peak" = sum of runs' training_flops / wall seconds / peak.
Both numbers count 2 FLOPs per multiply-add; see
`exante_examples.mlp.model.Arch.flops_per_sample` for what is counted.
"""

from __future__ import annotations

import time
from typing import Any, Mapping


def matmul_peak_gflops(threads: int = 1, *, size: int = 2048, repeats: int = 5) -> float:
    """Best-of-`repeats` GFLOP/s of a `size`×`size` fp32 torch.mm with `threads` threads.

    The machine is shared, so this is "the peak available now": measure it in
    the same conditions as the runs it is compared with.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=gen)
        b = torch.randn(size, size, generator=gen)
        out = torch.empty(size, size)
        torch.mm(a, b, out=out)  # first call: MKL initialisation
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            best = min(best, time.perf_counter() - start)
        return 2 * size**3 / best / 1e9
    finally:
        torch.set_num_threads(previous)


def training_flops(params: Mapping[str, Any], n_train: int | None = None) -> int:
    """Analytic training FLOPs of one run with `params` on `n_train` samples.

    n_train defaults to the trial's training split (3600 for MNIST-1D, 45000
    for CIFAR-10). Runs in mode "oracle" or "untrained" train nothing: 0.
    """
    from exante_examples.mlp.config import parse_params
    from exante_examples.mlp.data import input_shape, train_size
    from exante_examples.mlp.model import Arch
    from exante_examples.mlp.model import training_flops as arch_flops

    config = parse_params(params)
    if config.mode != "train":
        return 0
    group, features = input_shape(config)
    arch = Arch(features=features, width=config.width, depth=config.depth,
                activation=config.activation, group=group)
    n = train_size(config) if n_train is None else n_train
    return arch_flops(arch, n, config.epochs)


if __name__ == "__main__":
    for n in (1, 2):
        print(f"matmul peak, {n} thread(s): {matmul_peak_gflops(n):.1f} GFLOP/s")
    for depth in (2, 4, 8):
        flops = training_flops({"depth": depth, "activation": "relu", "weight_decay": 0.0})
        print(f"depth {depth}: {flops / 1e9:.1f} GFLOP per run (MNIST-1D, registered settings)")
