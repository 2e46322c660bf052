"""A trial is arbitrary code, but the cheap ways for it to get a run executed twice with one
result on the record are closed: each trick below, played by the run it would hide (arm x=1,
seed 2), leaves that run charged once, every run executed once, and nothing to run again.
(Found by attacking the executors from a trial; every trick used to rerun the run.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import exante
from exante.ledger import Ledger

COUNT = '''from pathlib import Path


def _count(ctx):
    tries = Path(ctx.run_dir) / "tries"
    tries.write_text(str(int(tries.read_text()) + 1 if tries.exists() else 1))


def train(params, seed, ctx):
    _count(ctx)
    if params.get("x") == 1 and seed == 2:
        TRICK
    return {"score": float(params.get("x", 0)) + 0.01 * seed}
'''

TRICKS = {
    # exante's own stop signal, raised by the trial: it used to stop the sweep as a Ctrl-C
    "raises_sweep_interrupted": ("from exante.errors import SweepInterrupted\n"
                                 "        raise SweepInterrupted(2)", "base_exception"),
    # an exception whose message raises and whose pickle the driver cannot load: it used to
    # kill pebble's reader thread (the sweep hung, or stopped with nothing charged)
    "unreadable_exception": ("class E(Exception):\n"
                             "            def __str__(self): raise ValueError('no')\n"
                             "            def __reduce__(self): return (int, ('x',))\n"
                             "        raise E()", "exception"),
    # a metric whose __float__ raises something other than TypeError/ValueError
    "float_raises": ("class F:\n"
                     "            def __float__(self): raise RuntimeError('device assert')\n"
                     "        return {'score': F()}", "exception"),
    # an object in the environment every record carries: the ledger write used to fail and
    # take the batch's other results with it
    "poisons_env": ("from exante import trial_env\n"
                    "        trial_env.worker_environment()\n"
                    "        trial_env._ENV_CACHE['packages']['evil'] = {1, 2}\n"
                    "        return {'score': -100.0}", None),
}


@pytest.mark.parametrize("executor", ["inline", "local"])
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_of_the_trial_is_charged_once_and_never_reruns(make_plan, trick, executor):
    code, kind = TRICKS[trick]
    plan = make_plan()
    next(plan.parent.glob("trial_*.py")).write_text(COUNT.replace("TRICK", code),
                                                    encoding="utf-8")
    exante.lock(plan)
    report = exante.run(plan, executor=executor, workers=2)
    assert report.interrupted is None and report.remaining == 0, report
    records = Ledger(plan.parent / "ledger.jsonl").records()
    ended = {r["data"]["run_id"]: r for r in records if r["event"] in ("RUN_OK", "RUN_FAILED")}
    assert len(ended) == 6
    bad = ended["arm__treated__s2"]
    if kind is None:
        assert bad["event"] == "RUN_OK" and bad["data"]["metrics"]["score"] == -100.0
    else:
        assert bad["event"] == "RUN_FAILED" and bad["data"]["error_kind"] == kind, bad
    assert report.failed == (0 if kind is None else 1)
    tries = {p.parent.name: p.read_text() for p in (plan.parent / "runs").glob("*/tries")}
    assert tries == {run_id: "1" for run_id in ended}, tries
    assert exante.run(plan, executor=executor, workers=2).ran == 0
