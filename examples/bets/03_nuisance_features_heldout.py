"""Bet 03: the forty extra features of bet 02 still help on held-out samples.

Hypothesis: the wide model of bet 02 (5 real + 40 noise features, 50 training samples)
lowers mean squared error by at least 15% on every seed on 200 held-out samples. If it
does not, bet 02's headline measured memorisation, and this bet retracts it.

Criteria (registered in CRITERIA; exante judges the recorded payload):
    strict:       held-out MSE gain >= STRICT_MIN_GAIN (15%) on every seed
    lenient:      mean held-out gain >= LENIENT_MIN_GAIN (5%)
    catastrophic: the mean held-out gain is below -CATASTROPHIC_LOSS (-500%)

Run: PYTHONPATH=src python -m examples.bets.03_nuisance_features_heldout   (from the project root)

sha256: "0ee94472786914809c525aa997709f0632faf7dae488191c7096da0e1daac29a"
"""

from __future__ import annotations

import numpy as np

from ._common import entry, fit_ridge, linear_task, mse, relative_gain, run_bet, split

SEEDS = (1, 2, 3)
N_TRAIN, N_TEST, D, EXTRA, NOISE, LAMBDA = 50, 200, 5, 40, 1.0, 1.0
STRICT_MIN_GAIN = 0.15
LENIENT_MIN_GAIN = 0.05
CATASTROPHIC_LOSS = 5.0

CRITERIA = {
    "metrics": ["gain_min", "gain_mean"],
    "strict": "gain_min >= STRICT_MIN_GAIN",
    "lenient": "gain_mean >= LENIENT_MIN_GAIN",
    "catastrophic": "gain_mean < -CATASTROPHIC_LOSS",
    "retracts": [{"id": "02_nuisance_features",
                  "reason": "bet 02 scored the wide model on the samples it was fitted on; on "
                            "held-out samples the extra features hurt (bet 03)"}],
    "not_claimed": ["that extra features never help: only these 40 pure-noise ones at 50 "
                    "samples were tested"],
}


def gain(seed: int) -> float:
    X, y = linear_task(seed, N_TRAIN + N_TEST, D, NOISE)
    nuisance = np.random.default_rng(seed + 7).standard_normal((N_TRAIN + N_TEST, EXTRA))
    wide = np.hstack([X, nuisance])
    (Xtr, ytr), (Xte, yte) = split(X, y, N_TRAIN)
    (Wtr, _), (Wte, _) = split(wide, y, N_TRAIN)
    small = mse(yte, fit_ridge(Xtr, ytr, LAMBDA)(Xte))
    return relative_gain(small, mse(yte, fit_ridge(Wtr, ytr, LAMBDA)(Wte)))


def experiment(run) -> dict:
    gains = [gain(s) for s in SEEDS]
    return {"metrics": {"gain_min": min(gains), "gain_mean": float(np.mean(gains))},
            "gains": gains}


def main():
    return run_bet(__file__, experiment)


if __name__ == "__main__":
    entry(main)
