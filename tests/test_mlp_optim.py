"""StackedAdamW is torch.optim.AdamW, bit for bit, member by member."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from exante_examples.mlp.optim import StackedAdamW  # noqa: E402

pytestmark = pytest.mark.torch

LRS = [1e-3, 3e-3, 1e-3]
WEIGHT_DECAYS = [0.0, 1e-4, 1e-3]


@pytest.mark.parametrize("fused", [True, False])
def test_matches_torch_optim_adamw(fused):
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 40, 33), (3, 1, 10)]  # odd sizes: SIMD tails inside each member
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [torch.zeros(s) for s in shapes]
    ours = StackedAdamW(params, grads, lrs=LRS, weight_decays=WEIGHT_DECAYS, fused=fused)
    theirs = []
    for e in range(3):
        leaves = [torch.nn.Parameter(p[e].clone()) for p in params]
        options = {"fused": True} if fused else {"foreach": False}
        theirs.append((leaves, torch.optim.AdamW(leaves, lr=LRS[e], weight_decay=WEIGHT_DECAYS[e],
                                                 **options)))
    for _ in range(4):
        for g in grads:
            g.copy_(torch.randn(g.shape, generator=gen))
        ours.step()
        for e, (leaves, optimizer) in enumerate(theirs):
            for leaf, g in zip(leaves, grads):
                leaf.grad = g[e].clone()
            optimizer.step()
    for e, (leaves, _) in enumerate(theirs):
        for p, leaf in zip(params, leaves):
            assert torch.equal(p[e], leaf.detach()), f"member {e} differs"
