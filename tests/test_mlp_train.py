"""The MLP trial end to end: batched == one at a time, seeds, traps, tau, CLI."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mnist1d")

from exante_examples.mlp import cli  # noqa: E402
from exante_examples.mlp import train as trial  # noqa: E402

pytestmark = pytest.mark.torch

# small and fast: 29 steps of a 64-wide MLP
FAST = {"depth": 2, "activation": "gelu", "weight_decay": 1e-4, "width": 64, "epochs": 1}


@pytest.fixture(autouse=True, scope="module")
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EXANTE_DATA_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def ctx(threads=1, device="cpu"):
    return SimpleNamespace(threads=threads, run_dir=None, run_id="r", role="arm", device=device)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA device (torch sees none here): the stacked "
                                 "ensemble on CUDA is checked where one is present")


def run(params, seed):
    return SimpleNamespace(params=params, seed=seed, run_id=f"s{seed}", run_dir=".")


def comparable(metrics):
    return {k: v for k, v in metrics.items() if k not in trial.BATCH_DEPENDENT_METRICS}


REQUIRED = ("test_acc", "val_acc", "train_loss", "train_acc", "flops", "train_seconds")


RUNS = [
    run({**FAST, "weight_decay": 0.0}, 1),
    run({**FAST, "weight_decay": 1e-3, "lr": 3e-3}, 2),
    run({**FAST, "labels": "shuffled"}, 3),
    run({**FAST, "depth": 3}, 4),  # another architecture: its own group
    run({**FAST, "optimizer": "adamw"}, 5),
    run({**FAST, "mode": "untrained"}, 6),
    run({**FAST, "mode": "oracle"}, 7),
    run({**FAST, "weight_decay": 0.0}, 8),
]


@pytest.mark.parametrize("threads", [1, 2])
def test_batched_equals_one_at_a_time(threads):
    batched = trial.train_batch(RUNS, ctx(threads))
    assert [m["members"] for m in batched] == [4.0, 4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 4.0]
    for r, together in zip(RUNS, batched):
        alone = trial.train(r.params, r.seed, ctx(threads))
        assert comparable(together) == comparable(alone), r.params
        assert all(k in alone and math.isfinite(alone[k]) for k in REQUIRED)


@CUDA
def test_batched_equals_one_at_a_time_on_cuda():
    """On CUDA the ensemble trains on the device; stacked and alone agree to float32
    rounding (cuBLAS may pick another kernel for another batch count), and the run is
    close to the CPU's (the same initial weights and sample order, the device's arithmetic)."""
    assert trial.device_for(None).type == "cuda"  # auto-detected
    batched = trial.train_batch(RUNS, ctx(device="cuda"))
    on_cpu = trial.train_batch(RUNS, ctx(device="cpu"))
    for r, together, cpu in zip(RUNS, batched, on_cpu):
        alone = trial.train(r.params, r.seed, ctx(device="cuda"))
        for key, value in comparable(alone).items():
            assert together[key] == pytest.approx(value, rel=1e-4, abs=1e-5), (r.params, key)
        assert together["test_acc"] == pytest.approx(cpu["test_acc"], abs=0.03), r.params
        assert all(math.isfinite(alone[k]) for k in REQUIRED)


def test_the_device_comes_from_ctx_and_defaults_to_what_torch_sees():
    assert trial.device_for(ctx(device="cpu")).type == "cpu"
    assert trial.device_for(SimpleNamespace(threads=1)).type == \
        ("cuda" if torch.cuda.is_available() else "cpu")
    assert trial.device_for(ctx(device="meta")).type == "meta"


def test_same_seed_same_metrics_other_seed_other_metrics():
    first = comparable(trial.train(FAST, 42, ctx()))
    assert comparable(trial.train(FAST, 42, ctx())) == first
    other = comparable(trial.train(FAST, 43, ctx()))
    assert other["train_loss"] != first["train_loss"]


def test_training_learns_and_counts_flops():
    metrics = trial.train({**FAST, "epochs": 3}, 0, ctx())
    assert metrics["test_acc"] > 0.25  # chance is 0.1
    assert metrics["steps"] == 3 * math.ceil(3600 / 128)
    # 40→64→64→10: forward and weight grads 2·(2560+4096+640) each, input grads 2·(4096+640)
    assert metrics["flops"] == 3 * 3600 * (4 * 7296 + 2 * 4736)


def test_oracle_scores_exactly_one():
    metrics = trial.train({**FAST, "mode": "oracle"}, 0, ctx())
    assert metrics["test_acc"] == 1.0 and metrics["val_acc"] == 1.0 and metrics["train_acc"] == 1.0
    assert metrics["flops"] == 0.0


def test_untrained_is_near_chance():
    metrics = trial.train({**FAST, "width": 256, "mode": "untrained"}, 0, ctx())
    assert metrics["flops"] == 0.0 and metrics["steps"] == 0.0
    assert 0.03 <= metrics["test_acc"] <= 0.2
    assert math.isclose(metrics["test_loss"], math.log(10), rel_tol=0.15)


def test_shuffled_labels_fall_to_chance():
    # 1000 test signals: chance ± 0.06 is about six standard errors
    for seed in (0, 1):
        metrics = trial.train({**FAST, "epochs": 3, "labels": "shuffled"}, seed, ctx())
        assert abs(metrics["test_acc"] - 0.1) < 0.06, metrics
    true = trial.train({**FAST, "epochs": 3}, 0, ctx())
    assert true["test_acc"] > 0.25


def test_shuffled_permutation_depends_on_seed():
    y = torch.arange(100) % 10
    a, b = trial._train_labels(y, 1, "shuffled"), trial._train_labels(y, 2, "shuffled")
    assert not torch.equal(a, b) and torch.equal(torch.sort(a).values, torch.sort(y).values)
    assert torch.equal(trial._train_labels(y, 1, "shuffled"), a)


def test_threads_are_set_from_ctx():
    trial.train({**FAST, "mode": "oracle"}, 0, ctx(threads=1))
    assert torch.get_num_threads() == 1


def test_cli_prints_and_writes_metrics(tmp_path, capsys):
    out = tmp_path / "run" / "metrics.json"
    code = cli.main(["--depth", "2", "--activation", "relu", "--weight_decay", "1e-4",
                     "--seed", "42", "--width", "32", "--epochs", "1", "--out", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == printed
    assert comparable(printed) == comparable(trial.train(
        {"depth": 2, "activation": "relu", "weight_decay": 1e-4, "width": 32, "epochs": 1},
        42, ctx()))


def test_cli_fingerprint(capsys):
    assert cli.main(["--fingerprint"]) == 0
    digest = capsys.readouterr().out.strip()
    assert len(digest) == 64 and digest == trial.data.fingerprint({})


def test_cli_bad_input_is_one_line(capsys):
    code = cli.main(["--depth", "2", "--activation", "relu", "--weight_decay", "0",
                     "--seed", "1", "--dataset", "cifar10", "--data_dir", "/nonexistent"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: CIFAR-10 not found in /nonexistent") and err.count("\n") == 1
