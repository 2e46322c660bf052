"""A plain MLP, E independent copies trained at once as a stacked-weight ensemble.

Member e is exactly ``nn.Sequential(Linear(F, W), act, …, Linear(W, 10))`` with
``depth`` hidden layers: the same parameterisation, the same initialisation
(``nn.Linear.reset_parameters``: kaiming-uniform(a=√5) weights, then
U(±1/√fan_in) biases, layer by layer, drawn from the member's own generator),
and mean cross-entropy over the batch as the loss.

Storage is stacked: ``weights[l]`` is (E, in, out) (each member's W_lᵀ) and
``biases[l]`` is (E, 1, out), so a layer is one ``torch.baddbmm``, which runs
one gemm per member. Why member e gets the same bits whatever else is stacked
with it (the property ``tests/test_mlp_train.py`` checks):

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
        # z_l = a_{l-1} W_l + b_l, a_l = act(z_l)
        self.pre = [torch.empty(members, rows, o, device=device) for _, o in shapes]
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
        depth_plus_one = len(arch.layer_shapes())
        self.weights = [torch.stack([m[l][0].t() for m in drawn]).contiguous().to(self.device)
                        for l in range(depth_plus_one)]
        self.biases = [torch.stack([m[l][1] for m in drawn]).unsqueeze(1).to(self.device)
                       for l in range(depth_plus_one)]
        self.weight_grads = [torch.zeros_like(w) for w in self.weights]
        self.bias_grads = [torch.zeros_like(b) for b in self.biases]
        self._workspaces: dict[int, _Workspace] = {}

    def parameters(self) -> list[torch.Tensor]:
        """W_0, b_0, W_1, b_1, …: stacked tensors, shapes (E, in, out) and (E, 1, out)."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def gradients(self) -> list[torch.Tensor]:
        """Gradients in `parameters` order; written in place by `train_step`."""
        return [t for pair in zip(self.weight_grads, self.bias_grads) for t in pair]

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
        logits = self._forward_into(ws)
        delta = _cross_entropy_grad(logits, targets, self.arch.group)
        self._backward(ws, delta)

    def _forward_into(self, ws: _Workspace) -> torch.Tensor:
        h = ws.x
        last = len(self.weights) - 1
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            torch.baddbmm(b, h, w, out=ws.pre[l])
            if l < last:
                _activate(self.arch.activation, ws.pre[l], out=ws.post[l])
                h = ws.post[l]
        return ws.pre[last]

    def _backward(self, ws: _Workspace, delta: torch.Tensor) -> None:
        for l in range(len(self.weights) - 1, -1, -1):
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
        n = x.shape[0]
        out = torch.empty(self.members, n, self.arch.classes, device=self.device)
        step = max(1, EVAL_ROWS // self.arch.group)
        for start in range(0, n, step):
            chunk = x[start:start + step]
            rows = chunk.reshape(1, -1, self.arch.features).expand(self.members, -1, -1)
            h = rows.contiguous()
            last = len(self.weights) - 1
            for l, (w, b) in enumerate(zip(self.weights, self.biases)):
                h = torch.baddbmm(b, h, w)
                if l < last:
                    h = _activate(self.arch.activation, h)
            out[:, start:start + len(chunk)] = _pool(h, self.arch.group)
        return out


def _pool(row_logits: torch.Tensor, group: int) -> torch.Tensor:
    """(E, samples·group, C) row logits → (E, samples, C) sample logits (mean over the group)."""
    if group == 1:
        return row_logits
    e, rows, c = row_logits.shape
    return row_logits.view(e, rows // group, group, c).mean(dim=2)


def _cross_entropy_grad(row_logits: torch.Tensor, targets: torch.Tensor,
                        group: int) -> torch.Tensor:
    """d(mean over samples of cross-entropy)/d(row logits), per member. targets: (E, samples)."""
    e, samples = targets.shape
    delta = torch.softmax(_pool(row_logits, group), dim=-1)
    flat = delta.view(e * samples, -1)
    flat[torch.arange(e * samples), targets.reshape(-1)] -= 1.0
    delta.div_(samples)
    if group == 1:
        return delta
    delta.div_(group)
    rows = delta.unsqueeze(2).expand(e, samples, group, delta.shape[-1])
    return rows.reshape(e, samples * group, -1)


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
