"""Worked examples that exante plans call as trials.

    exante_examples.mlp    the pre-registered MLP ablation (depth × activation ×
                           weight decay on MNIST-1D or CIFAR-10): ``mlp.train:train``
                           for one run, ``mlp.train:train_batch`` for many runs
                           trained at once as a stacked-weight ensemble.

Heavy dependencies (torch, mnist1d) are imported only by the modules that need
them: ``pip install 'exante[torch]'``.
"""
