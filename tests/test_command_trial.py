"""A command trial around a small training script, the way seed 003 runs `train_llm.py`.

The metric comes from the registered regex (last match wins, as seed 003 says:
"record the last val_loss value"); parameter values with `;`, `$(...)` and
spaces reach the program as literal arguments (no shell); stdout and stderr
are kept in the run folder; the registered cleanup removes the checkpoint
folder once the result is recorded; a non-zero exit is a failed record that
carries the tail of stderr.
"""

import json
import shutil

from exante import registration
from runner_fixtures.harness import FIXTURES, assert_each_once, cli, planned_ids, status, write_plan

HOSTILE = "two words; echo $(whoami) `id` && rm -rf ~ 'q' \"dq\" | cat > pwned"
COMMAND = ("python train_llm.py --train_tokens {train_tokens} --seed {seed} --tag {tag} "
           "--output_dir checkpoints/{run_id} --argv_file {run_dir}/argv.json --fail {fail}")


def test_command_trial_extracts_metric_passes_arguments_literally_and_cleans_up(tmp_path):
    plan = write_plan(
        tmp_path, "cmd", lock=False, metric="val_loss", direction="lower",
        trial={"command": COMMAND, "metrics_regex": {"val_loss": r"val_loss: ([0-9.]+)"},
               "cleanup": ["checkpoints/{run_id}"], "timeout": 60},
        design={"arms": {"hostile": {"tag": HOSTILE}, "crashes": {"fail": "yes"}},
                "baseline": {"tag": "plain"}, "fixed": {"train_tokens": 1000000, "fail": "no",
                                                        "tag": "plain"},
                "seeds": [42, 137]})
    shutil.copy(FIXTURES / "train_llm.py", plan.parent / "train_llm.py")
    registration.lock(plan)

    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    by_id = assert_each_once(plan, planned_ids(plan))
    for run_id, record in by_id.items():
        data = record["data"]
        run_dir = plan.parent / "runs" / run_id
        stdout = (run_dir / "stdout.log").read_text()
        stderr = (run_dir / "stderr.log").read_text()
        assert stdout.startswith("Step 100 | val_loss: "), stdout
        assert f"tokenizer cache miss for seed {data['seed']}" in stderr
        # the script wrote a checkpoint there; the registered cleanup removed it afterwards
        assert (plan.parent / "checkpoints").is_dir()
        assert not (plan.parent / "checkpoints" / run_id).exists()

        argv = json.loads((run_dir / "argv.json").read_text())
        tag = HOSTILE if data["cell"] == "hostile" else "plain"
        assert argv == ["--train_tokens", "1000000", "--seed", str(data["seed"]), "--tag", tag,
                        "--output_dir", f"checkpoints/{run_id}", "--argv_file",
                        f"{run_dir.resolve()}/argv.json", "--fail",
                        "yes" if data["cell"] == "crashes" else "no"]

        if data["cell"] == "crashes":
            assert record["event"] == "RUN_FAILED"
            assert data["error_kind"] == "exit_code"
            assert "exit status 1" in data["error"]
            assert "CUDA out of memory" in data["error"]  # the tail of stderr
            continue
        assert record["event"] == "RUN_OK", data
        assert "saved checkpoint to" in stdout
        # three val_loss lines were printed; the last one is the result
        assert stdout.count("val_loss: ") == 3
        assert data["metrics"]["val_loss"] == round(3.0 + data["seed"] / 10000, 4)

    assert not (tmp_path / "pwned").exists() and not (plan.parent / "pwned").exists()
    s = status(plan)
    assert (s["planned"], s["completed"], s["failed"], s["pending"]) == (6, 4, 2, 0)
