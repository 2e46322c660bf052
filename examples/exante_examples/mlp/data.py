"""The study's data: MNIST-1D (generated, never downloaded) or CIFAR-10 (local files).

Splits are fixed and never depend on the run seed:

- **mnist1d**: ``mnist1d.data.make_dataset(MNIST1D_ARGS)``, the published
  default arguments (5000 samples, generator seed 42, 80/20 train/test), gives
  4000 training and 1000 test signals of length 40. The generator is procedural;
  ``mnist1d.get_dataset`` is never called because by default it downloads a
  pickle from GitHub. 10% of the 4000 (400, chosen by
  ``numpy.random.default_rng(SPLIT_SEED)``) become validation: 3600 / 400 / 1000.
  Features are the generator's (already standardised) float64 values as float32.
- **cifar10**: the python-pickle batches in ``data_dir`` (``data_batch_1`` …
  ``data_batch_5``, ``test_batch``). 10% of the 50000 training images (5000,
  same rule) become validation: 45000 / 5000 / 10000. Pixels are scaled to
  [0, 1] and standardised per channel with the mean and std of the 45000
  training images. ``cifar_mode`` decides what one MLP row is:
  ``flatten``: the whole image, 3072 values in the file's order (R plane, G
  plane, B plane, each row-major 32×32), one row per image;
  ``patches``: 16 non-overlapping 8×8 patches in row-major grid order, each
  192 values in (channel, row, column) order; the MLP sees every patch as a
  row and an image's logits are the mean of its 16 patch logits.

Arrays are ``x: (N, G, F) float32`` (G rows per sample: 1, or 16 for patches)
and ``y: (N,) int64``. `fingerprint` hashes exactly these arrays.

MNIST-1D generation costs a few seconds, so the arrays are kept in-process and
on disk (``$EXANTE_DATA_CACHE``, default ``~/.cache/exante/data``; ``off``
disables it), keyed by the generator arguments and the mnist1d version. The
sealed fingerprint, not the cache, is what proves the data unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config import Config, parse_params

SPLIT_SEED = 20240601  # fixed: the validation split is part of the design, not of a run
VAL_FRACTION = 0.1
N_CLASSES = 10
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
PATCH = 8  # CIFAR "patches" mode: 8×8 patches, a 4×4 grid on a 32×32 image

_SPLIT_NAMES = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
_MEMORY: dict[tuple, "Splits"] = {}


@dataclass(frozen=True, eq=False)
class Splits:
    """Train/validation/test arrays. x: (N, G, F) float32; y: (N,) int64 in [0, 10)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def group(self) -> int:
        """Rows the MLP sees per sample (16 for CIFAR patches, else 1)."""
        return self.x_train.shape[1]

    @property
    def features(self) -> int:
        """Input width of the MLP."""
        return self.x_train.shape[2]

    def arrays(self) -> dict[str, np.ndarray]:
        """The six arrays by name, in fingerprint order."""
        return {name: getattr(self, name) for name in _SPLIT_NAMES}


def load(config: Config) -> Splits:
    """The splits for `config`, generated or read once per process."""
    key = config.data_key()
    if key not in _MEMORY:
        if config.dataset == "mnist1d":
            _MEMORY[key] = _mnist1d_splits()
        else:
            _MEMORY[key] = load_cifar10(Path(config.data_dir or "."), config.cifar_mode)
    return _MEMORY[key]


def input_shape(config: Config) -> tuple[int, int]:
    """(rows per sample G, features F) that `config`'s data has, without loading it."""
    if config.dataset == "mnist1d":
        return 1, MNIST1D_ARGS["final_seq_length"]
    if config.cifar_mode == "patches":
        return (32 // PATCH) ** 2, 3 * PATCH * PATCH
    return 1, 3 * 32 * 32


def train_size(config: Config) -> int:
    """Samples in the training split (after the validation carve), without loading it."""
    pool = (int(MNIST1D_ARGS["num_samples"] * MNIST1D_ARGS["train_split"])
            if config.dataset == "mnist1d" else 50000)
    return len(split_validation(pool)[0])


def fingerprint(params: Mapping[str, Any]) -> str:
    """sha256 (hex) of the arrays `params` train and evaluate on.

    Hashes, for x_train, y_train, x_val, y_val, x_test, y_test in that order,
    the name, dtype, shape and C-order bytes, so a change of split, dtype or
    preprocessing changes the digest. Only data parameters matter; the model
    parameters in `params` are validated if present and otherwise not needed.
    """
    model_placeholders = {"depth": 1, "activation": "relu", "weight_decay": 0.0}
    splits = load(parse_params({**model_placeholders, **params}))
    digest = hashlib.sha256()
    for name, array in splits.arrays().items():
        header = f"{name}:{array.dtype.str}:{list(array.shape)}\n"
        digest.update(header.encode("ascii"))
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def split_validation(n: int, fraction: float = VAL_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (train_idx, val_idx) of a pool of `n` samples; both sorted, disjoint, covering."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# ---------------------------------------------------------------- MNIST-1D


# The published MNIST-1D generator arguments (mnist1d.data.get_dataset_args() of
# mnist1d 0.0.2, download URL dropped). Held here so that they are part of the
# study's code, and so that a cached dataset loads without importing mnist1d
# (which imports matplotlib: over a second per process).
MNIST1D_ARGS: dict[str, Any] = {
    "num_samples": 5000, "train_split": 0.8, "template_len": 12, "padding": [36, 60],
    "scale_coeff": 0.4, "max_translation": 48, "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2, "shear_scale": 0.75, "shuffle_seq": False,
    "final_seq_length": 40, "seed": 42,
}


def _mnist1d_splits() -> Splits:
    raw = _mnist1d_raw()
    train_idx, val_idx = split_validation(len(raw["y"]))
    x = raw["x"].astype(np.float32)[:, None, :]
    y = raw["y"].astype(np.int64)
    return Splits(
        name="mnist1d",
        x_train=x[train_idx], y_train=y[train_idx],
        x_val=x[val_idx], y_val=y[val_idx],
        x_test=raw["x_test"].astype(np.float32)[:, None, :],
        y_test=raw["y_test"].astype(np.int64),
    )


def _mnist1d_raw() -> dict[str, np.ndarray]:
    """The generator's x, y, x_test, y_test, from the disk cache when it has them."""
    from importlib.metadata import version

    args = dict(MNIST1D_ARGS)
    key = hashlib.sha256(
        json.dumps({"args": args, "mnist1d": version("mnist1d")}, sort_keys=True).encode()
    ).hexdigest()[:16]
    path = _cache_dir() / f"mnist1d-{key}.npz" if _cache_dir() else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as cached:
                return {name: cached[name] for name in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            pass  # a torn or foreign file: regenerate and overwrite it
    raw = _generate_mnist1d(args)
    if path is not None:
        _write_atomic_npz(path, raw)
    return raw


def _generate_mnist1d(args: dict[str, Any]) -> dict[str, np.ndarray]:
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    # make_dataset seeds numpy's and Python's global generators; put them back
    # so that loading data never changes anyone else's random stream.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {name: np.asarray(data[name]) for name in ("x", "y", "x_test", "y_test")}


def _cache_dir() -> Path | None:
    setting = os.environ.get("EXANTE_DATA_CACHE")
    if setting is not None and setting.strip().lower() in ("", "0", "off", "none", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "exante" / "data"


def _write_atomic_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)  # concurrent workers: the last complete file wins
    except OSError:
        pass  # a read-only cache only costs the regeneration time


# ---------------------------------------------------------------- CIFAR-10


def load_cifar10(data_dir: Path, mode: str) -> Splits:
    """CIFAR-10 splits from the python-pickle batches in `data_dir` (see the module doc)."""
    folder = _cifar_folder(Path(data_dir))
    train_x, train_y = zip(*(_read_cifar_batch(folder / name) for name in CIFAR_TRAIN_FILES))
    pool_x, pool_y = np.concatenate(train_x), np.concatenate(train_y)
    test_x, test_y = _read_cifar_batch(folder / CIFAR_TEST_FILE)
    train_idx, val_idx = split_validation(len(pool_y))
    mean, std = _channel_stats(pool_x[train_idx])

    def prepare(raw: np.ndarray) -> np.ndarray:
        # float32 in place: the 45000-image float64 intermediate would need 1.1 GB
        images = raw.reshape(-1, 3, 32 * 32).astype(np.float32)
        images /= np.float32(255.0)
        images -= mean.astype(np.float32)[:, None]
        images /= std.astype(np.float32)[:, None]
        images = images.reshape(-1, 3, 32, 32)
        return to_patches(images) if mode == "patches" else images.reshape(-1, 1, 3072)

    return Splits(
        name=f"cifar10-{mode}",
        x_train=prepare(pool_x[train_idx]), y_train=pool_y[train_idx],
        x_val=prepare(pool_x[val_idx]), y_val=pool_y[val_idx],
        x_test=prepare(test_x), y_test=test_y,
    )


def to_patches(images: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """(N, C, H, W) → (N, (H/p)·(W/p), C·p·p): row-major grid, each patch in (c, row, col) order."""
    n, c, h, w = images.shape
    grid = images.reshape(n, c, h // patch, patch, w // patch, patch)
    grid = grid.transpose(0, 2, 4, 1, 3, 5)  # n, gy, gx, c, py, px
    return np.ascontiguousarray(grid.reshape(n, (h // patch) * (w // patch), c * patch * patch))


def _cifar_folder(data_dir: Path) -> Path:
    names = (*CIFAR_TRAIN_FILES, CIFAR_TEST_FILE)
    for folder in (data_dir, data_dir / "cifar-10-batches-py"):
        if all((folder / name).is_file() for name in names):
            return folder
    missing = [name for name in names if not (data_dir / name).is_file()]
    raise FileNotFoundError(
        f"CIFAR-10 not found in {data_dir}: missing {', '.join(missing)}. Expected the "
        "python-pickle batches from cifar-10-python.tar.gz (data_batch_1 ... data_batch_5 and "
        "test_batch, each a pickled dict with b'data': uint8 N×3072 and b'labels': N ints) "
        f"directly in {data_dir} or in {data_dir / 'cifar-10-batches-py'}"
    )


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")  # local files the user points at
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: expected a dict with b'data' and b'labels' ({exc})") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: b'data' must be N×3072 uint8 with N labels, "
                         f"got {data.shape} and {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{path}: labels must lie in 0..9")
    return data, labels


def _channel_stats(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float64, 3 values each) of uint8 images N×3072 scaled to [0,1].

    Computed from the 256-bin histogram of each channel: exact sums, little memory.
    """
    values = np.arange(256, dtype=np.float64) / 255.0
    pixels = raw.reshape(len(raw), 3, -1)
    mean, std = np.zeros(3), np.ones(3)
    for c in range(3):
        counts = np.bincount(pixels[:, c, :].ravel(), minlength=256).astype(np.float64)
        total = counts.sum()
        if total == 0:
            continue
        mean[c] = counts @ values / total
        var = counts @ (values - mean[c]) ** 2 / total
        std[c] = np.sqrt(var) if var > 0 else 1.0
    return mean, std
