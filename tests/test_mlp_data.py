"""The MLP trial's data: offline MNIST-1D, fixed splits, CIFAR-10 pickles, fingerprints."""

from __future__ import annotations

import pickle
import random
import socket

import numpy as np
import pytest

pytest.importorskip("mnist1d")

from exante_examples.mlp import data  # noqa: E402
from exante_examples.mlp.config import ParamError  # noqa: E402

MNIST = {"depth": 2, "activation": "relu", "weight_decay": 0.0}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXANTE_DATA_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def small_mnist1d(monkeypatch):
    """A 500-sample MNIST-1D (fast to generate), with the in-process cache emptied around it."""
    monkeypatch.setattr(data, "MNIST1D_ARGS", {**data.MNIST1D_ARGS, "num_samples": 500})
    monkeypatch.setattr(data, "_MEMORY", {})
    return data


def write_cifar(folder, n_per_batch=6, seed=0):
    """The CIFAR-10 python-pickle layout with a few random images per batch."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*data.CIFAR_TRAIN_FILES, data.CIFAR_TEST_FILE):
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n_per_batch)],
                 b"batch_label": name.encode()}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    return folder


def cifar_params(folder, mode="flatten"):
    return {**MNIST, "dataset": "cifar10", "data_dir": str(folder), "cifar_mode": mode}


def test_split_is_fixed_disjoint_and_covering():
    train, val = data.split_validation(4000)
    assert len(val) == 400 and len(train) == 3600
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(4000))
    again_train, again_val = data.split_validation(4000)
    assert np.array_equal(val, again_val) and np.array_equal(train, again_train)


def test_mnist1d_is_generated_offline_and_leaves_global_rngs_alone(small_mnist1d, monkeypatch):
    monkeypatch.setenv("EXANTE_DATA_CACHE", "off")

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST-1D generation tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    splits = data.load(data.parse_params(MNIST))
    assert (np.random.random(), random.random()) == (expected_np, expected_py)
    assert splits.x_train.shape == (360, 1, 40) and splits.x_train.dtype == np.float32
    assert splits.x_val.shape == (40, 1, 40) and splits.x_test.shape == (100, 1, 40)
    assert splits.y_train.dtype == np.int64 and set(np.unique(splits.y_test)) <= set(range(10))


def test_fingerprint_is_stable_and_sensitive_to_generator_args(small_mnist1d, monkeypatch):
    first = data.fingerprint(MNIST)
    monkeypatch.setattr(data, "_MEMORY", {})  # regenerate or reread the disk cache
    assert data.fingerprint({**MNIST, "depth": 8, "weight_decay": 1e-3}) == first
    monkeypatch.setattr(data, "_MEMORY", {})
    monkeypatch.setattr(data, "MNIST1D_ARGS", {**data.MNIST1D_ARGS, "seed": 43})
    assert data.fingerprint(MNIST) != first
    assert len(first) == 64 and int(first, 16) >= 0


def test_fingerprint_needs_only_data_params(small_mnist1d):
    assert data.fingerprint({}) == data.fingerprint(MNIST)
    with pytest.raises(ParamError, match="params.cifar_mod: unknown"):
        data.fingerprint({"cifar_mod": "patches"})


def test_disk_cache_round_trips(small_mnist1d, tmp_path, monkeypatch):
    cache = tmp_path / "roundtrip"
    monkeypatch.setenv("EXANTE_DATA_CACHE", str(cache))
    generated = data.fingerprint(MNIST)
    assert len(list(cache.glob("mnist1d-*.npz"))) == 1
    monkeypatch.setattr(data, "_MEMORY", {})
    monkeypatch.setattr(data, "_generate_mnist1d", lambda args: pytest.fail("regenerated"))
    assert data.fingerprint(MNIST) == generated


def test_cifar_flatten_reads_the_pickle_layout(tmp_path):
    folder = write_cifar(tmp_path / "cifar")
    splits = data.load(data.parse_params(cifar_params(folder)))
    assert splits.x_train.shape == (27, 1, 3072) and splits.x_val.shape == (3, 1, 3072)
    assert splits.x_test.shape == (6, 1, 3072) and splits.y_test.dtype == np.int64
    # standardised per channel on the training split: mean 0, std 1 there
    channels = splits.x_train.reshape(27, 3, 1024).transpose(1, 0, 2).reshape(3, -1)
    np.testing.assert_allclose(channels.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(channels.std(axis=1), 1, atol=1e-4)


def test_cifar_patches_layout(tmp_path):
    images = np.arange(2 * 3 * 32 * 32, dtype=np.float32).reshape(2, 3, 32, 32)
    patches = data.to_patches(images)
    assert patches.shape == (2, 16, 192)
    # patch 5 is grid row 1, column 1; its values in (channel, row, column) order
    np.testing.assert_array_equal(patches[1, 5].reshape(3, 8, 8), images[1, :, 8:16, 8:16])
    folder = write_cifar(tmp_path / "cifar")
    splits = data.load(data.parse_params(cifar_params(folder, "patches")))
    assert splits.x_train.shape == (27, 16, 192) and splits.group == 16


def test_cifar_fingerprint_changes_with_mode_and_bytes(tmp_path):
    folder = write_cifar(tmp_path / "a")
    flat = data.fingerprint(cifar_params(folder))
    assert data.fingerprint(cifar_params(folder, "patches")) != flat
    other = write_cifar(tmp_path / "b", seed=1)
    assert data.fingerprint(cifar_params(other)) != flat


def test_cifar_accepts_the_tarball_folder(tmp_path):
    write_cifar(tmp_path / "cifar" / "cifar-10-batches-py")
    splits = data.load(data.parse_params(cifar_params(tmp_path / "cifar")))
    assert splits.x_test.shape == (6, 1, 3072)


def test_missing_cifar_names_path_and_layout(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        data.load(data.parse_params(cifar_params(folder)))
    text = str(info.value)
    assert str(folder) in text and "data_batch_1" in text and "test_batch" in text
    assert "b'data'" in text and "N×3072" in text


def test_malformed_cifar_batch_is_named(tmp_path):
    folder = write_cifar(tmp_path / "bad")
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(ValueError, match="test_batch: b'data' must be N×3072"):
        data.load(data.parse_params(cifar_params(folder)))
