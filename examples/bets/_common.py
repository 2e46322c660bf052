"""Shared harness for the example bets (seed 001): data, the tiny models, the sealed run.

Every bet imports it, so `exante lock` seals it as code the bet imports: a change here
after the lock refuses every bet until `exante amend` records why. Everything is real
computation on generated data with numpy (no downloads), and runs in well under a second.
"""

from __future__ import annotations

import numpy as np

from exante.bets import entry, run

__all__ = ["entry", "fit_ridge", "linear_task", "mse", "relative_gain", "run_bet", "split"]


def run_bet(module_file, experiment):
    """Verify the seal and this file, refuse an unregistered rerun, run `experiment(run)`,
    record the invocation in the bet's ledger and write results/NN_name.json."""
    return run(module_file, experiment)


def linear_task(seed: int, n: int, d: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """y = X w + noise, X ~ N(0, 1): a regression problem with a known linear signal."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    return X, X @ w + noise * rng.standard_normal(n)


def split(X: np.ndarray, y: np.ndarray, n_train: int):
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def fit_ridge(X: np.ndarray, y: np.ndarray, lam: float):
    """Closed-form ridge regression with an unpenalised intercept; returns predict(X)."""
    mu_x, mu_y = X.mean(axis=0), y.mean()
    Xc = X - mu_x
    w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ (y - mu_y))
    return lambda Z: (Z - mu_x) @ w + mu_y


def mse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean((y - yhat) ** 2))


def relative_gain(baseline: float, method: float) -> float:
    """Relative reduction of an error (positive: the method is better)."""
    return (baseline - method) / baseline
