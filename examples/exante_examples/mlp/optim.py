"""AdamW for a stacked ensemble: torch's own arithmetic, applied member by member.

``adamw_fused`` calls ``torch._fused_adamw_``, the kernel that
``torch.optim.AdamW(fused=True)`` runs on CPU; ``adamw`` repeats, op for op,
the single-tensor loop that ``torch.optim.AdamW()`` runs on CPU (its default
there, ``foreach=False``). ``tests/test_mlp_optim.py`` pins both to
torch.optim bit for bit.

Each member is updated on its own views (``param[e]``, contiguous because e is
the outermost dimension), so a member's update never depends on what else is
stacked, and members may differ in learning rate and weight decay. Calling
the kernel directly also skips ``torch.optim.Optimizer.step``, whose first call
imports ``torch._dynamo`` (about 3 s per process).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BETAS = (0.9, 0.999)  # torch.optim.AdamW defaults
EPS = 1e-8


@dataclass(frozen=True)
class _Member:
    params: list[torch.Tensor]
    grads: list[torch.Tensor]
    exp_avgs: list[torch.Tensor]
    exp_avg_sqs: list[torch.Tensor]
    step: torch.Tensor  # float32 scalar, as torch.optim keeps it
    lr: float
    weight_decay: float


class StackedAdamW:
    """AdamW over stacked parameters (E, …); `lrs` and `weight_decays` have one value per member."""

    def __init__(self, params: list[torch.Tensor], grads: list[torch.Tensor], *,
                 lrs: list[float], weight_decays: list[float], fused: bool):
        self.fused = fused
        exp_avgs = [torch.zeros_like(p) for p in params]
        exp_avg_sqs = [torch.zeros_like(p) for p in params]
        self._members = [
            _Member(params=[p[e] for p in params], grads=[g[e] for g in grads],
                    exp_avgs=[m[e] for m in exp_avgs], exp_avg_sqs=[v[e] for v in exp_avg_sqs],
                    step=torch.zeros((), dtype=torch.float32, device=params[0].device),
                    lr=float(lrs[e]),
                    weight_decay=float(weight_decays[e]))
            for e in range(len(lrs))
        ]

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW update of every member from the gradients currently in `grads`."""
        for member in self._members:
            member.step.add_(1)
            if self.fused:
                _fused_step(member)
            else:
                _single_tensor_step(member)


def _fused_step(m: _Member) -> None:
    # the arguments torch.optim.adam._fused_adam passes for AdamW(fused=True)
    torch._fused_adamw_(
        m.params, m.grads, m.exp_avgs, m.exp_avg_sqs, [], [m.step] * len(m.params),
        lr=m.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=m.weight_decay, eps=EPS,
        amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
    )


def _single_tensor_step(m: _Member) -> None:
    # torch.optim.adam._single_tensor_adam, decoupled weight decay, not capturable
    beta1, beta2 = BETAS
    step = m.step.item()
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = m.lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    for param, grad, exp_avg, exp_avg_sq in zip(m.params, m.grads, m.exp_avgs, m.exp_avg_sqs):
        if m.weight_decay != 0:
            param.mul_(1 - m.lr * m.weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(EPS)
        param.addcdiv_(exp_avg, denom, value=-step_size)
