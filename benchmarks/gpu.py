"""A batched ensemble against one model at a time, on the same GPU.

    python benchmarks/gpu.py [--members 16] [--steps 300] [--width 256] [--depth 4]
    python benchmarks/gpu.py --device cpu --steps 20     # try the script itself on a CPU

Trains E small MLPs (MNIST-1D-sized inputs: 40 features, 10 classes, batch
128, AdamW) two ways on one device and prints both wall times and the ratio:

(a) one at a time: a plain `nn.Sequential` and `torch.optim.AdamW` per member,
    trained one after another (the loop a researcher writes);
(b) batched: the E members stacked into (E, in, out) weight tensors, one
    `torch.baddbmm` per layer and one AdamW over the stacked tensors (AdamW is
    elementwise, so each member's update is its own), as exante's batched
    trials do.

Without CUDA it says it needs a GPU and exits 0 (there is nothing to measure).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            return "load " + " ".join(fh.read().split()[:3])
    except OSError:
        return "load ?"


def one_at_a_time(torch, device, members, steps, width, depth, x, y) -> float:
    start = _sync(torch, device)
    for e in range(members):
        torch.manual_seed(e)
        layers, fan_in = [], x.shape[-1]
        for _ in range(depth - 1):
            layers += [torch.nn.Linear(fan_in, width), torch.nn.GELU()]
            fan_in = width
        model = torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, 10)).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        for s in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x[s % len(x)]), y[s % len(y)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return _sync(torch, device) - start


def batched(torch, device, members, steps, width, depth, x, y) -> float:
    torch.manual_seed(0)
    dims = [x.shape[-1]] + [width] * (depth - 1) + [10]
    params = []
    for fan_in, fan_out in zip(dims, dims[1:]):
        bound = fan_in ** -0.5
        w = torch.empty(members, fan_in, fan_out, device=device).uniform_(-bound, bound)
        b = torch.empty(members, 1, fan_out, device=device).uniform_(-bound, bound)
        params += [w.requires_grad_(), b.requires_grad_()]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)
    start = _sync(torch, device)
    for s in range(steps):
        h = x[s % len(x)].expand(members, -1, -1)  # every member sees its batch
        for i in range(0, len(params), 2):
            h = torch.baddbmm(params[i + 1], h, params[i])
            if i + 2 < len(params):
                h = torch.nn.functional.gelu(h)
        target = y[s % len(y)].repeat(members)
        loss = torch.nn.functional.cross_entropy(h.reshape(-1, 10), target) * members
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return _sync(torch, device) - start


def _sync(torch, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("benchmarks/gpu.py needs PyTorch (pip install -e '.[torch]'); nothing measured")
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("benchmarks/gpu.py needs a CUDA GPU and this machine has none "
              f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); nothing "
              "measured. Run it on a GPU machine, or with --device cpu to try the script.")
        return 0
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(32, 128, 40, generator=gen).to(device)  # 32 batches of 128 samples
    y = torch.randint(0, 10, (32, 128), generator=gen).to(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{args.members} MLPs of depth {args.depth}, width {args.width}, {args.steps} AdamW "
          f"steps each, batch 128, on {name}; {loadavg()}")
    batched(torch, device, 2, 3, args.width, args.depth, x, y)  # warm up the kernels
    seq = one_at_a_time(torch, device, args.members, args.steps, args.width, args.depth, x, y)
    bat = batched(torch, device, args.members, args.steps, args.width, args.depth, x, y)
    print(f"(a) one model at a time (nn.Sequential + AdamW)  {seq:8.2f} s")
    print(f"(b) batched stacked ensemble (baddbmm + AdamW)   {bat:8.2f} s   {seq / bat:5.1f}x")
    print(f"{loadavg()} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
