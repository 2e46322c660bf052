"""Hydra applications as trials, with a real hydra-core app: as a command trial (overrides,
metrics from the Hydra run folder or stdout) and through `trial.hydra` (compose API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exante import ledger as L
from exante import registration, runner
from exante.decide import decide
from exante.errors import FingerprintError, PlanError
from exante.spec import load_plan

pytest.importorskip("hydra")

APP = """\
import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    acc = 0.8 + 0.01 * cfg.model.depth + 0.001 * cfg.seed
    try:
        out = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # composed by exante (compose API): no Hydra run folder
        out = None
    if out is not None:
        (out / "metrics.json").write_text(json.dumps({"val_acc": acc}))
    print(f"depth={cfg.model.depth} val_acc={acc}")
    return {"val_acc": acc, "width": float(cfg.model.width)}


if __name__ == "__main__":
    main()
"""

CONFIG = "model:\n  depth: 2\n  width: 64\nseed: 0\n"

PLAN = """\
experiment_id: {id}
hypothesis: Depth 8 raises validation accuracy over depth 2.
metrics: {{primary: {{name: val_acc, direction: higher}}}}
design:
  baseline: {{{param}: 2}}
  arms: {{deep: {{{param}: 8}}}}
  seeds: [1, 2]
trial:
{trial}
decision: {{rule: threshold, acceptance: "experiment.mean > baseline.mean"}}
sha256: ""
"""

COMMAND = """\
  command: "python train.py model.depth={depth} seed={seed} hydra.run.dir={run_dir}"
  metrics_json: metrics.json"""
STDOUT = """\
  command: "python train.py model.depth={depth} seed={seed} hydra.run.dir={run_dir}"
  metrics_regex: {val_acc: "val_acc=([0-9.]+)"}"""
COMPOSE = "  hydra: {config_path: conf, config_name: config, task_function: train:main}"


def app(tmp_path: Path, eid: str, trial: str, param: str = "depth") -> Path:
    folder = tmp_path / "experiments" / eid
    (folder / "conf").mkdir(parents=True)
    (folder / "train.py").write_text(APP)
    (folder / "conf" / "config.yaml").write_text(CONFIG)
    plan = folder / "prereg.yaml"
    plan.write_text(PLAN.format(id=eid, trial=trial, param=param))
    return plan


@pytest.mark.parametrize("trial", [COMMAND, STDOUT], ids=["run-folder", "stdout"])
def test_a_hydra_app_as_a_command_trial(tmp_path, trial):
    plan = app(tmp_path, "cmd", trial)
    registration.lock(plan)
    report = runner.run(plan, runner.RunOptions(executor="inline"))
    assert (report.ok, report.failed) == (4, 0)
    records = L.Ledger(plan.parent / "ledger.jsonl").records()
    ok = {r["data"]["run_id"]: r["data"]["metrics"]["val_acc"] for r in records
          if r["event"] == "RUN_OK"}
    assert ok["arm__deep__s2"] == pytest.approx(0.8 + 0.08 + 0.002)
    run_dir = plan.parent / "runs" / "arm__deep__s2"
    # Hydra's own record of the composed config sits in the run's folder
    assert "depth: 8" in (run_dir / ".hydra" / "config.yaml").read_text()
    assert "model.depth=8" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert decide(plan)["verdict"] == "PASS"


def test_trial_hydra_composes_the_config_in_the_worker(tmp_path):
    plan = app(tmp_path, "compose", COMPOSE, "model.depth")  # the parameter is the config key
    loaded = load_plan(plan)
    assert loaded.trial.kind == "hydra" and loaded.trial.target == "train:main"
    digest, data = registration.lock(plan)
    assert "code:conf/config.yaml" in data["fingerprints"]  # the config is sealed with the code
    report = runner.run(plan, runner.RunOptions(executor="local", workers=2))
    assert (report.ok, report.failed) == (4, 0), report
    records = L.Ledger(plan.parent / "ledger.jsonl").records()
    ok = {r["data"]["run_id"]: r["data"]["metrics"] for r in records if r["event"] == "RUN_OK"}
    assert ok["baseline__baseline__s1"]["val_acc"] == pytest.approx(0.821)
    assert ok["arm__deep__s1"]["width"] == 64.0  # the rest of the config is Hydra's
    assert decide(plan)["verdict"] == "PASS"

    (plan.parent / "conf" / "config.yaml").write_text(CONFIG.replace("64", "128"))
    with pytest.raises(FingerprintError, match="conf/config.yaml"):
        runner.run(plan, runner.RunOptions(executor="inline"))


def test_trial_hydra_errors_name_the_yaml_path(tmp_path):
    plan = app(tmp_path, "bad", COMPOSE.replace("config_name: config", "config_name: nope"))
    with pytest.raises(PlanError, match=r"trial\.hydra.*no config"):
        load_plan(plan)
    plan.write_text(PLAN.format(id="bad", param="depth", trial=COMPOSE.replace(
        "config_path: conf", "config_path: ../conf")))
    with pytest.raises(PlanError, match=r"trial\.hydra\.config_path"):
        load_plan(plan)
