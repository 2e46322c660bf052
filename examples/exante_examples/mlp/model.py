"""A plain MLP, E independent copies trained at once as a stacked-weight ensemble.

Member e is exactly ``nn.Sequential(Linear(F, W), act, …, Linear(W, 10))`` with
``depth`` hidden layers: the same parameterisation, the same initialisation
(``nn.Linear.reset_parameters``: kaiming-uniform(a=√5) weights, then
U(±1/√fan_in) biases, layer by layer, drawn from the member's own generator),
and mean cross-entropy over the batch as the loss.

Storage is stacked: ``weights[l]`` is (E, in, out) (each member's W_lᵀ) and
``biases[l]`` is (E, 1, out), so a layer is one ``torch.baddbmm``, which runs
one gemm per member. The output layer is the exception: its weight is kept as
(E, classes, in) (nn.Linear's own W) and its bias as (E, classes, 1), and it
computes the logits transposed, (E, classes, rows): a gemm whose output has 10
columns runs at a fifth of the speed of one with 10 rows at these sizes (11 vs
48 GFLOP/s measured for the forward, 10 vs 53 for the weight gradient), and at
depth 2 those two gemms were a sixth of a training step. `linear(l, e)` and
`linear_grad(l, e)` give any layer in nn.Linear's layout, whatever its storage.
On the CPU a training step and an evaluation run on one intra-op thread
(`_one_thread`), whatever ``torch.get_num_threads()`` says. With more, a kernel
splits its work by what the tensor holds, so a lone member's work is cut
elsewhere than a stack's: MKL splits a lone member's 10-row gemm along its
reduction but a stack's by member, and the softmax along the classes gave a
member other bits stacked than alone on an AVX512 CPU with 2 threads (rows 44
and 100, not 128). What that costs a process given 2 threads: one step of
width 256, depth 2, 128 rows took 1.25 ms for one member and 2.60 ms for three
with the threads, 1.36 and 3.91 ms on one (measured 2026-12-03, 2-core AVX512
machine). Two workers of one thread each do better than either, two stacks of
three in 3.9 ms, and that is what the study's executor runs.
Why member e gets the same bits whatever else is stacked with it (the property
``tests/test_mlp_train.py`` checks):

- the per-member gemms have the same shapes as a lone member's;
- elementwise ops (activation and its gradient) run over the stacked tensor,
  and each member's block is rows×width values, a whole number of SIMD
  vectors when it is a multiple of 32 (width 256 always is), so no member's
  values fall into a scalar tail loop that a lone member would not use;
- reductions (bias gradients, softmax, loss) run per member along
  dimensions that stacking does not change.

The gradient is written by hand into preallocated buffers instead of going
through autograd: it saves the graph bookkeeping and the allocations, which
dominate at these tiny sizes. The tests compare it with autograd.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

EVAL_ROWS = 2048  # evaluation forwards go in chunks of this many rows (bounds memory on CIFAR)


@dataclass(frozen=True)
class Arch:
    """The network: `features` inputs per row, `depth` hidden layers of `width`, `classes` outputs.

    group: rows per sample (CIFAR patches: 16); a sample's logits are the mean of its rows'.
    """

    features: int
    width: int
    depth: int
    activation: str
    classes: int = 10
    group: int = 1

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer, input layer first."""
        sizes = [self.features] + [self.width] * self.depth + [self.classes]
        return list(zip(sizes[:-1], sizes[1:]))

    def flops_per_sample(self) -> int:
        """Matmul FLOPs of one training sample: forward, weight gradient, input gradient.

        Counts 2·in·out per layer for the forward and for the weight gradient, and
        for the input gradient of every layer but the first (never needed). Bias
        adds, activations, softmax and the optimizer are left out (< 1% here).
        """
        shapes = self.layer_shapes()
        per_row = sum(4 * i * o for i, o in shapes) + sum(2 * i * o for i, o in shapes[1:])
        return per_row * self.group


def training_flops(arch: Arch, n_train: int, epochs: int) -> int:
    """Analytic training FLOPs of one run: `epochs` passes over `n_train` samples."""
    return arch.flops_per_sample() * n_train * epochs


def init_member(arch: Arch, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One member's (W (out, in), b (out,)) per layer, drawn as nn.Linear draws them."""
    layers = []
    for fan_in, fan_out in arch.layer_shapes():
        weight = torch.empty(fan_out, fan_in)
        torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(fan_in)
        bias = torch.empty(fan_out)
        torch.nn.init.uniform_(bias, -bound, bound, generator=generator)
        layers.append((weight, bias))
    return layers


class _Workspace:
    """Preallocated activations and gradients for one batch size (rows per member)."""

    def __init__(self, arch: Arch, members: int, samples: int, device: torch.device):
        rows = samples * arch.group
        shapes = arch.layer_shapes()
        self.x = torch.empty(members, rows, arch.features, device=device)
        # z_l = a_{l-1} W_l + b_l, a_l = act(z_l); the output layer's z is stored transposed
        self.pre = [torch.empty(members, rows, o, device=device) for _, o in shapes[:-1]]
        self.pre.append(torch.empty(members, arch.classes, rows, device=device))
        self.post = [torch.empty(members, rows, o, device=device) for _, o in shapes[:-1]]
        self.grad_in = [None] + [torch.empty(members, rows, i, device=device)
                                 for i, _ in shapes[1:]]


class StackedMLP:
    """E members' parameters and gradients, stacked along dim 0 (see the module doc).

    device: where the stacked tensors live (CPU by default; a CUDA device trains the
    whole ensemble there). Members are drawn on the CPU from their generators either
    way, so a seed gives the same initial weights on every device.
    """

    def __init__(self, arch: Arch, generators: list[torch.Generator],
                 device: torch.device | str | None = None):
        self.arch = arch
        self.members = len(generators)
        self.device = torch.device(device or "cpu")
        drawn = [init_member(arch, g) for g in generators]
        hidden = len(arch.layer_shapes()) - 1  # the output layer is stored as nn.Linear stores it
        self.weights = [torch.stack([m[l][0].t() for m in drawn]).contiguous().to(self.device)
                        for l in range(hidden)]
        self.weights.append(torch.stack([m[hidden][0] for m in drawn]).contiguous().to(self.device))
        self.biases = [torch.stack([m[l][1] for m in drawn]).unsqueeze(1).to(self.device)
                       for l in range(hidden)]
        self.biases.append(torch.stack([m[hidden][1] for m in drawn]).unsqueeze(2).to(self.device))
        self.weight_grads = [torch.zeros_like(w) for w in self.weights]
        self.bias_grads = [torch.zeros_like(b) for b in self.biases]
        self._workspaces: dict[int, _Workspace] = {}

    def parameters(self) -> list[torch.Tensor]:
        """W_0, b_0, W_1, b_1, …: stacked tensors, shapes (E, in, out) and (E, 1, out), but
        (E, classes, in) and (E, classes, 1) for the output layer (see the module doc)."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def gradients(self) -> list[torch.Tensor]:
        """Gradients in `parameters` order; written in place by `train_step`."""
        return [t for pair in zip(self.weight_grads, self.bias_grads) for t in pair]

    def linear(self, l: int, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Member e's layer l as nn.Linear holds it: weight (out, in) and bias (out,), views."""
        if l == len(self.weights) - 1:
            return self.weights[l][e], self.biases[l][e, :, 0]
        return self.weights[l][e].t(), self.biases[l][e, 0]

    def linear_grad(self, l: int, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The gradients of `linear(l, e)`, in the same layout."""
        if l == len(self.weights) - 1:
            return self.weight_grads[l][e], self.bias_grads[l][e, :, 0]
        return self.weight_grads[l][e].t(), self.bias_grads[l][e, 0]

    def workspace(self, samples: int) -> _Workspace:
        """Buffers for batches of `samples` samples per member (created once per size)."""
        if samples not in self._workspaces:
            self._workspaces[samples] = _Workspace(self.arch, self.members, samples, self.device)
        return self._workspaces[samples]

    @torch.no_grad()
    def train_step(self, ws: _Workspace, targets: torch.Tensor) -> None:
        """Forward and backward on ``ws.x`` (E, rows, F) with `targets` (E, samples) int64.

        Leaves d(mean cross-entropy per member)/dθ in `gradients()`; each member's
        loss is its own batch mean, so members do not scale each other's gradient.
        """
        with _one_thread(self.device):
            logits_t = self._forward_into(ws)
            delta_t = _cross_entropy_grad_t(logits_t, targets, self.arch.group)
            self._backward(ws, delta_t)

    def _forward_into(self, ws: _Workspace) -> torch.Tensor:
        """The hidden layers into `ws`, then the transposed logits (E, classes, rows)."""
        h = ws.x
        last = len(self.weights) - 1
        for l in range(last):
            torch.baddbmm(self.biases[l], h, self.weights[l], out=ws.pre[l])
            _activate(self.arch.activation, ws.pre[l], out=ws.post[l])
            h = ws.post[l]
        return torch.baddbmm(self.biases[last], self.weights[last], h.transpose(1, 2),
                             out=ws.pre[last])

    def _backward(self, ws: _Workspace, delta_t: torch.Tensor) -> None:
        last = len(self.weights) - 1
        inputs = ws.x if last == 0 else ws.post[last - 1]
        torch.bmm(delta_t, inputs, out=self.weight_grads[last])
        torch.sum(delta_t, dim=2, keepdim=True, out=self.bias_grads[last])
        if last == 0:
            return
        torch.bmm(delta_t.transpose(1, 2), self.weights[last], out=ws.grad_in[last])
        delta = _activation_grad(self.arch.activation, ws.grad_in[last],
                                 ws.pre[last - 1], ws.post[last - 1])
        for l in range(last - 1, -1, -1):
            inputs = ws.x if l == 0 else ws.post[l - 1]
            torch.bmm(inputs.transpose(1, 2), delta, out=self.weight_grads[l])
            torch.sum(delta, dim=1, keepdim=True, out=self.bias_grads[l])
            if l > 0:
                torch.bmm(delta, self.weights[l].transpose(1, 2), out=ws.grad_in[l])
                delta = _activation_grad(self.arch.activation, ws.grad_in[l],
                                         ws.pre[l - 1], ws.post[l - 1])

    @torch.inference_mode()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample logits (E, N, classes) of shared inputs `x` (N, group, F), on the device.

        Rows go through in chunks of about EVAL_ROWS rows, the same chunks for every
        ensemble size, so evaluation too is independent of what is stacked.
        """
        with _one_thread(self.device):
            return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        out = torch.empty(self.members, n, self.arch.classes, device=self.device)
        step = max(1, EVAL_ROWS // self.arch.group)
        for start in range(0, n, step):
            chunk = x[start:start + step]
            rows = chunk.reshape(1, -1, self.arch.features).expand(self.members, -1, -1)
            h = rows.contiguous()
            last = len(self.weights) - 1
            for l in range(last):
                h = _activate(self.arch.activation, torch.baddbmm(self.biases[l], h, self.weights[l]))
            logits_t = torch.baddbmm(self.biases[last], self.weights[last], h.transpose(1, 2))
            out[:, start:start + len(chunk)] = _pool(logits_t.transpose(1, 2), self.arch.group)
        return out


@contextlib.contextmanager
def _one_thread(device: torch.device):
    """Run the enclosed CPU ops on one intra-op thread (see the module doc); 0.3 µs a call."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _pool(row_logits: torch.Tensor, group: int) -> torch.Tensor:
    """(E, samples·group, C) row logits → (E, samples, C) sample logits (mean over the group)."""
    if group == 1:
        return row_logits
    e, rows, c = row_logits.shape
    return row_logits.view(e, rows // group, group, c).mean(dim=2)


def _cross_entropy_grad_t(logits_t: torch.Tensor, targets: torch.Tensor,
                          group: int) -> torch.Tensor:
    """d(mean over samples of cross-entropy)/d(row logits), per member, transposed.

    logits_t: (E, classes, rows); targets: (E, samples); returns (E, classes, rows).
    """
    e, samples = targets.shape
    classes = logits_t.shape[1]
    pooled = logits_t if group == 1 else logits_t.view(e, classes, samples, group).mean(dim=3)
    delta = torch.softmax(pooled, dim=1)
    at_target = targets.unsqueeze(1)
    delta.scatter_(1, at_target, delta.gather(1, at_target) - 1.0)
    delta.div_(samples)
    if group == 1:
        return delta
    delta.div_(group)
    return delta.unsqueeze(3).expand(e, classes, samples, group).reshape(e, classes, samples * group)


def _activate(name: str, z: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    if name == "relu":
        return torch.clamp_min(z, 0.0, out=out) if out is not None else torch.clamp_min(z, 0.0)
    return torch.ops.aten.gelu.out(z, out=out) if out is not None else torch.ops.aten.gelu(z)


def _activation_grad(name: str, grad: torch.Tensor, pre: torch.Tensor,
                     post: torch.Tensor) -> torch.Tensor:
    """Chain `grad` (d loss/d a) through the activation in place, with autograd's kernels."""
    if name == "relu":
        return torch.ops.aten.threshold_backward.grad_input(grad, post, 0.0, grad_input=grad)
    return torch.ops.aten.gelu_backward.grad_input(grad, pre, grad_input=grad)
