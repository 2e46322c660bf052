"""Seed 003's variance-first protocol, run end to end on a deterministic trial.

The trial returns the cell's `level` plus a fixed per-seed noise, so every z
is known in advance: an arm one whole unit better than the baseline sits
about 70 sigma away (no stage 2), an arm at the baseline's level sits well
inside 2 sigma (stage 2 runs). The measured baseline is stored where
`seed_protocol.reuse` says and reused by the next experiment with the same
baseline configuration; a changed configuration refuses the reuse and says why.
"""

import json
import statistics

from runner_fixtures.harness import (assert_each_once, cli, events, planned_ids, status, terminal,
                                     write_plan)
from runner_fixtures.runner_trials import NOISE

STORE = "../../docs/research/baseline_variance_1M.json"
BASELINE_SEEDS = [42, 137, 256, 512, 1024]


def _plan(root, experiment_id, level, train_tokens=1_000_000):
    return write_plan(root, experiment_id, trial={"python": "runner_trials:level"},
                      metric="val_loss", direction="lower",
                      design={"arms": {"experiment": {"level": level}}, "baseline": {"level": 3.0},
                              "fixed": {"train_tokens": train_tokens}},
                      seed_protocol={"reuse": STORE},
                      decision={"rule": "sigma", "sigma": "baseline", "threshold": 2.0})


def _run(plan):
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    return out


def _z_rule_a(base_level, arm_level, arm_seeds):
    """z = -(mean_arm - mean_base) / sd_base: the registered rule A, lower is better."""
    base = [base_level + NOISE[s] for s in BASELINE_SEEDS]
    arm = [arm_level + NOISE[s] for s in arm_seeds]
    return -(statistics.mean(arm) - statistics.mean(base)) / statistics.stdev(base)


def _ran(plan):
    return [(r["data"]["role"], r["data"]["stage"], r["data"]["seed"]) for r in terminal(plan)]


def test_variance_first_stage2_exactly_when_close_and_baseline_reuse(tmp_path):
    # 1. a clearly better arm: baseline first (5 seeds), stage 1 (3 seeds), no stage 2
    win = _plan(tmp_path, "proto_win", level=2.0)
    out = _run(win)
    assert "stage 2 (2 more seeds): not needed" in out
    assert _ran(win) == ([("baseline", "baseline_variance", s) for s in BASELINE_SEEDS]
                         + [("arm", "stage1", s) for s in (42, 137, 256)])
    [stage] = events(win, "STAGE")
    assert stage["data"]["stage"] == "stage2" and stage["data"]["run"] is False
    z = _z_rule_a(3.0, 2.0, (42, 137, 256))
    assert abs(z) >= 2 and abs(stage["data"]["z"] - z) < 1e-9
    s = status(win)
    assert (s["planned"], s["completed"], s["pending"]) == (8, 8, 0)
    assert s["stage2"] is False and s["deviated"] is False
    stored = json.loads((tmp_path / "docs/research/baseline_variance_1M.json").read_text())
    assert stored["source"] == "proto_win"
    assert [r["seed"] for r in stored["runs"]] == BASELINE_SEEDS
    assert [r["value"] for r in stored["runs"]] == [3.0 + NOISE[s] for s in BASELINE_SEEDS]
    assert (tmp_path / "docs/research/baseline_variance_1M.md").is_file()

    # 2. an arm at the baseline's level, same baseline configuration: the measured
    #    baseline is reused (no baseline run at all) and stage 2 runs, as registered
    same = _plan(tmp_path, "proto_same", level=3.0)
    out = _run(same)
    assert "baseline variance reused from proto_win" in out
    assert "stage 2 (2 more seeds): ran" in out
    [reused] = events(same, "BASELINE_REUSED")
    assert reused["data"]["source"] == "proto_win"
    assert [r["seed"] for r in reused["data"]["runs"]] == BASELINE_SEEDS
    assert not any("baseline" in r["data"]["run_ids"][0] for r in events(same, "RUN_STARTED"))
    assert _ran(same) == ([("arm", "stage1", s) for s in (42, 137, 256)]
                          + [("arm", "stage2", s) for s in (512, 1024)])
    [stage] = events(same, "STAGE")
    assert stage["data"]["stage"] == "stage2" and stage["data"]["run"] is True
    z = _z_rule_a(3.0, 3.0, (42, 137, 256))
    assert abs(z) < 2 and abs(stage["data"]["z"] - z) < 1e-9
    # the STAGE record comes before any stage-2 run starts
    stage2_started = [r["seq"] for r in events(same, "RUN_STARTED")
                      if r["data"]["run_ids"][0] in ("arm__experiment__s512", "arm__experiment__s1024")]
    assert len(stage2_started) == 2 and min(stage2_started) > stage["seq"]
    assert_each_once(same, {k for k in planned_ids(same) if not k.startswith("baseline")})
    s = status(same)
    assert (s["planned"], s["completed"], s["pending"]) == (5, 5, 0)
    assert s["stage2"] is True and s["deviated"] is False  # a registered stage, not a deviation
    assert s["reused_baseline"] == "proto_win"

    # 3. a changed baseline configuration (a fixed parameter): reuse refused, baseline re-measured
    changed = _plan(tmp_path, "proto_changed", level=3.0, train_tokens=2_000_000)
    _run(changed)
    assert events(changed, "BASELINE_REUSED") == []
    refused = [e for e in events(changed, "STAGE") if e["data"]["stage"] == "baseline_reuse_refused"]
    assert len(refused) == 1
    assert "configuration changed" in refused[0]["data"]["why"]
    assert refused[0]["data"]["stored_config"] != refused[0]["data"]["this_config"]
    assert _ran(changed)[:5] == [("baseline", "baseline_variance", s) for s in BASELINE_SEEDS]
    # its arm is again within 2 sigma: stage 2 runs, and is recorded as the registered stage
    # (the earlier STAGE record about the refused reuse must not stand in for it)
    [stage] = [e for e in events(changed, "STAGE") if e["data"]["stage"] == "stage2"]
    assert stage["data"]["run"] is True
    assert _ran(changed)[5:] == ([("arm", "stage1", s) for s in (42, 137, 256)]
                                 + [("arm", "stage2", s) for s in (512, 1024)])
    s = status(changed)
    assert (s["planned"], s["completed"], s["pending"]) == (10, 10, 0)
    assert s["stage2"] is True and s["deviated"] is False
