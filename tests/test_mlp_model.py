"""The stacked MLP: nn.Linear's init, autograd's gradient, independence of members, FLOPs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from exante_examples.mlp.model import Arch, StackedMLP, init_member, training_flops  # noqa: E402

pytestmark = pytest.mark.torch


def reference(arch: Arch, member: StackedMLP, e: int) -> torch.nn.Sequential:
    """Member e of `member` as an ordinary nn.Sequential with the same parameters."""
    layers = []
    for l, (fan_in, fan_out) in enumerate(arch.layer_shapes()):
        linear = torch.nn.Linear(fan_in, fan_out)
        weight, bias = member.linear(l, e)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        layers.append(linear)
        if l < arch.depth:
            layers.append(torch.nn.ReLU() if arch.activation == "relu" else torch.nn.GELU())
    return torch.nn.Sequential(*layers)


def test_init_draws_what_nn_linear_draws():
    arch = Arch(features=5, width=7, depth=3, activation="relu")
    with torch.random.fork_rng():
        torch.manual_seed(11)
        linears = [torch.nn.Linear(i, o) for i, o in arch.layer_shapes()]
    drawn = init_member(arch, torch.Generator().manual_seed(11))
    for linear, (weight, bias) in zip(linears, drawn):
        assert torch.equal(linear.weight, weight) and torch.equal(linear.bias, bias)


@pytest.mark.parametrize("activation, group, depth",
                         [("relu", 1, 3), ("gelu", 1, 3), ("gelu", 4, 3), ("relu", 1, 0),
                          ("gelu", 4, 1)])
def test_hand_written_gradient_matches_autograd(activation, group, depth):
    arch = Arch(features=6, width=32, depth=depth, activation=activation, group=group)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    model = StackedMLP(arch, gens)
    samples = 9
    ws = model.workspace(samples)
    ws.x.normal_(generator=torch.Generator().manual_seed(3))
    targets = torch.randint(0, 10, (2, samples), generator=torch.Generator().manual_seed(4))
    model.train_step(ws, targets)
    for e in range(2):
        net = reference(arch, model, e)
        rows = net(ws.x[e]).view(samples, group, 10).mean(dim=1)
        torch.nn.functional.cross_entropy(rows, targets[e]).backward()
        for l, linear in enumerate(net[::2]):
            weight_grad, bias_grad = model.linear_grad(l, e)
            torch.testing.assert_close(weight_grad, linear.weight.grad, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(bias_grad, linear.bias.grad, rtol=1e-5, atol=1e-6)
        x = ws.x[e].view(samples, group, arch.features)
        torch.testing.assert_close(model.logits(x)[e], rows.detach(), rtol=1e-5, atol=1e-6)


@pytest.fixture
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("rows", [44, 100, 128])
@pytest.mark.parametrize("threads", [1, 2], indirect=True)
def test_a_member_computes_the_same_bits_alone_or_stacked(threads, rows):
    """Also with two threads: there MKL splits a lone member's output-layer gemm
    along its reduction but a stack's by member, and the softmax along the classes
    cuts a lone member's rows elsewhere than a stack's (seen at 44 and 100 rows,
    an epoch's last batch, on an AVX512 CPU), unless the step runs on one thread."""
    arch = Arch(features=40, width=64, depth=2, activation="gelu")
    seeds = [5, 6, 7, 8]
    stacked = StackedMLP(arch, [torch.Generator().manual_seed(s) for s in seeds])
    x = torch.randn(len(seeds), rows, 40, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (len(seeds), rows), generator=torch.Generator().manual_seed(1))
    stacked.workspace(rows).x.copy_(x)
    stacked.train_step(stacked.workspace(rows), y)
    probe = torch.randn(100, 1, 40, generator=torch.Generator().manual_seed(2))
    stacked_logits = stacked.logits(probe)
    for e, seed in enumerate(seeds):
        alone = StackedMLP(arch, [torch.Generator().manual_seed(seed)])
        alone.workspace(rows).x.copy_(x[e:e + 1])
        alone.train_step(alone.workspace(rows), y[e:e + 1])
        for big, small in zip(stacked.gradients(), alone.gradients()):
            assert torch.equal(big[e:e + 1], small), f"member {e}, {rows} rows"
        assert torch.equal(stacked_logits[e:e + 1], alone.logits(probe))
    assert torch.get_num_threads() == threads  # the step hands the threads back


def test_flops_by_hand():
    arch = Arch(features=3, width=4, depth=2, activation="relu", classes=2)
    # layers 3→4, 4→4, 4→2: forward 2·36, weight grads 2·36, input grads 2·(16+8)
    assert arch.flops_per_sample() == 72 + 72 + 48
    assert training_flops(arch, n_train=10, epochs=2) == 192 * 20
    patches = Arch(features=3, width=4, depth=2, activation="relu", classes=2, group=16)
    assert patches.flops_per_sample() == 16 * 192
