"""Trials whose runs cost what their parameters say: `cost_s` seconds of sleep per run."""

from __future__ import annotations

import time


def costly(params, seed, ctx):
    time.sleep(float(params["cost_s"]))
    return {"score": float(seed) + float(params["cost_s"]), "val_score": float(seed)}


def costly_batch(runs, ctx):
    time.sleep(sum(float(r.params["cost_s"]) for r in runs))
    return [{"score": float(r.seed) + float(r.params["cost_s"])} for r in runs]
