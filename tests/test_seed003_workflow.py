"""Seed 003's variance-first workflow, end to end from the CLI, around the real trainer.

The unmodified examples/charlm/train_llm.py runs as a command at a reduced
token count. Two experiments share one baseline configuration:

- `same` (the baseline's own settings as the arm): stage 1 lands within 2σ,
  so the registered seeds 512 and 1024 must run;
- `frozen` (learning rate 1e-7, so nothing is learnt): stage 1 is far beyond
  2σ, so stage 2 must not run, and the baseline measured by `same` is reused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
EXANTE = [sys.executable, "-m", "exante"]
REGEX = r"Step \d+ \| val_loss: ([0-9.]+)"

PLAN = """\
experiment_id: {name}
hypothesis: The arm changes validation loss of the small character-level transformer.
metrics:
  primary: {{name: val_loss, direction: lower}}
design:
  fixed: {{train_tokens: 6144, lr_schedule: cosine, norm: layernorm, eval_tokens: 4096}}
  baseline: {{lr: 0.006}}
  arms:
    {name}: {{lr: {lr}}}
trial:
  command: >-
    python ../../charlm/train_llm.py --train_tokens {{train_tokens}} --seed {{seed}}
    --norm {{norm}} --lr_schedule {{lr_schedule}} --lr {{lr}} --eval_tokens {{eval_tokens}}
    --output_dir {{run_dir}}/checkpoints
  metrics_regex: {{val_loss: '{regex}'}}
  cleanup: ["{{run_dir}}/checkpoints"]
  timeout: 600
code: [../../charlm/model.py]
decision: {{rule: sigma, sigma: baseline, threshold: 2.0}}
seed_protocol:
  reuse: ../../docs/research/baseline_variance_1M.json
  report: ../../docs/research/experiment_{name}_1M.md
sha256: ""
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([*EXANTE, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"exante {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def ledger(root: Path, name: str) -> list[dict]:
    path = root / "experiments" / name / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_experiment(root: Path, name: str, lr: str) -> list[dict]:
    plan = root / "experiments" / name / "prereg.yaml"
    plan.parent.mkdir(parents=True)
    plan.write_text(PLAN.format(name=name, lr=lr, regex=REGEX.replace("\\", "\\\\")))
    for verb in ("lock", "run", "decide", "report"):
        args = [verb, str(plan)] + (["--workers", "2", "--quiet"] if verb == "run" else [])
        cli(*args, cwd=root)
    return ledger(root, name)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seed003")
    shutil.copytree(REPO / "examples" / "charlm", root / "charlm",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def same(workspace: Path) -> list[dict]:
    return run_experiment(workspace, "same", "0.006")


@pytest.fixture(scope="module")
def frozen(workspace: Path, same: list[dict]) -> list[dict]:
    return run_experiment(workspace, "frozen", "1.0e-7")


def runs(records: list[dict]) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for r in records:
        if r["event"] == "RUN_OK":
            out.setdefault((r["data"]["role"], r["data"]["stage"]), []).append(r["data"]["seed"])
    return {k: sorted(v) for k, v in out.items()}


def test_variance_first_then_stage2_when_within_two_sigma(same: list[dict]) -> None:
    assert runs(same) == {("baseline", "baseline_variance"): [42, 137, 256, 512, 1024],
                          ("arm", "stage1"): [42, 137, 256], ("arm", "stage2"): [512, 1024]}
    order = [r["data"]["stage"] for r in same if r["event"] == "RUN_OK"]
    assert order.index("stage1") > max(i for i, s in enumerate(order) if s == "baseline_variance")
    stage = next(r["data"] for r in same if r["event"] == "STAGE")
    assert stage["run"] is True and abs(stage["z"]) < 2


def test_metric_parsed_from_real_stdout_and_checkpoints_cleaned(workspace: Path,
                                                                 same: list[dict]) -> None:
    for record in (r for r in same if r["event"] == "RUN_OK"):
        run_dir = workspace / "experiments" / "same" / "runs" / record["data"]["run_id"]
        stdout = (run_dir / "stdout.log").read_text()
        assert record["data"]["metrics"]["val_loss"] == float(re.findall(REGEX, stdout)[-1])
        assert not (run_dir / "checkpoints").exists(), "registered cleanup did not run"


def test_no_stage2_beyond_two_sigma_and_baseline_reused(frozen: list[dict]) -> None:
    assert runs(frozen) == {("arm", "stage1"): [42, 137, 256]}
    stage = next(r["data"] for r in frozen if r["event"] == "STAGE")
    assert stage["run"] is False and abs(stage["z"]) >= 2
    reused = next(r["data"] for r in frozen if r["event"] == "BASELINE_REUSED")
    assert reused["source"] == "same" and len(reused["runs"]) == 5


def test_both_markdown_files_in_seed_003_format(workspace: Path, same, frozen) -> None:
    research = workspace / "docs" / "research"
    baseline = (research / "baseline_variance_1M.md").read_text()
    assert "val_loss" in baseline and "| 1024 |" in baseline
    assert json.loads((research / "baseline_variance_1M.json").read_text())["source"] == "same"
    same_md = (research / "experiment_same_1M.md").read_text()
    frozen_md = (research / "experiment_frozen_1M.md").read_text()
    for text in (same_md, frozen_md):
        for heading in ("## Baseline Statistics", "## Experiment Statistics",
                        "## Statistical Test", "## Wall Clock"):
            assert heading in text
    assert re.search(r"## Verdict: NEUTRAL", same_md)
    assert re.search(r"## Verdict: LOSER", frozen_md)  # lower is better; nothing learnt
    assert "reused" in frozen_md.lower() and "same" in frozen_md
    result = json.loads((workspace / "experiments" / "frozen" / "result.json").read_text())
    assert result["wall_clock"]["delta_pct"] is not None
