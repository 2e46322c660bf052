"""The pre-registered MLP ablation's trainer (depth × activation × weight decay).

    config   params (plain YAML scalars) → validated frozen `Config`
    data     MNIST-1D (generated offline) / CIFAR-10 (local pickles), fixed splits,
             `fingerprint(params)` for sealing the data
    model    the MLP as a stacked-weight ensemble with a hand-written gradient
    optim    torch's AdamW arithmetic (fused kernel or single-tensor loop) per member
    train    the trial entry points: `train(params, seed, ctx)` and
             `train_batch(runs, ctx)`, bit-for-bit equal
    cli      one run per process: ``python -m exante_examples.mlp.cli --help``

Nothing here is imported eagerly: importing the package costs nothing, and
torch is loaded by `model`, `optim` and `train` only.
"""
