"""Bet 02: forty extra features make a small linear model fit better.

Hypothesis: adding 40 pure-noise features to a 5-feature linear model fitted on 50
samples lowers its mean squared error by at least 15% on every seed, scored on the
samples it was fitted on.

Criteria (registered in CRITERIA; exante judges the recorded payload):
    strict:       MSE gain >= STRICT_MIN_GAIN (15%) on every seed
    lenient:      mean gain >= LENIENT_MIN_GAIN (5%)
    catastrophic: the mean gain is below -CATASTROPHIC_LOSS (-50%)

Run: PYTHONPATH=src python -m examples.bets.02_nuisance_features   (from the project root)

sha256: "b53a525f11cd28292129a19ef040035ed9de57b9293ed1936e8769710b98a3b7"
"""

from __future__ import annotations

import numpy as np

from ._common import entry, fit_ridge, linear_task, mse, relative_gain, run_bet

SEEDS = (1, 2, 3)
N_TRAIN, D, EXTRA, NOISE, LAMBDA = 50, 5, 40, 1.0, 1.0
STRICT_MIN_GAIN = 0.15
LENIENT_MIN_GAIN = 0.05
CATASTROPHIC_LOSS = 0.50

CRITERIA = {
    "metrics": ["gain_min", "gain_mean"],
    "strict": "gain_min >= STRICT_MIN_GAIN",
    "lenient": "gain_mean >= LENIENT_MIN_GAIN",
    "catastrophic": "gain_mean < -CATASTROPHIC_LOSS",
    "not_claimed": ["that the gain holds on samples the model was not fitted on"],
}


def gain(seed: int) -> float:
    X, y = linear_task(seed, N_TRAIN, D, NOISE)
    nuisance = np.random.default_rng(seed + 7).standard_normal((N_TRAIN, EXTRA))
    wide = np.hstack([X, nuisance])
    small = mse(y, fit_ridge(X, y, LAMBDA)(X))
    return relative_gain(small, mse(y, fit_ridge(wide, y, LAMBDA)(wide)))


def experiment(run) -> dict:
    gains = [gain(s) for s in SEEDS]
    return {"metrics": {"gain_min": min(gains), "gain_mean": float(np.mean(gains))},
            "gains": gains}


def main():
    return run_bet(__file__, experiment)


if __name__ == "__main__":
    entry(main)
