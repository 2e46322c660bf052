"""The trial's parameters: plain YAML scalars in, one validated frozen `Config` out.

Every key is checked, unknown keys included, because a misspelled factor in a
sealed plan (``weight_deacy``) must fail the first run, not silently train the
default. Messages name the key: ``params.depth: expected an integer >= 1, got 'eight'``.

Keys, defaults and meaning:

    depth          int >= 1, required   hidden layers
    activation     relu | gelu, required  (gelu is the exact erf form, as nn.GELU())
    weight_decay   float >= 0, required  decoupled (AdamW) weight decay
    width          int >= 1, 256        units per hidden layer
    lr             float > 0, 1e-3      AdamW learning rate (betas 0.9/0.999, eps 1e-8)
    epochs         int >= 0, 20         full passes over the training split
    batch_size     int >= 1, 128        the last batch of an epoch is smaller (no drop_last)
    optimizer      adamw_fused | adamw  torch's fused CPU kernel, or its single-tensor loop
    dataset        mnist1d | cifar10
    data_dir       path, cifar10 only   folder holding the python-pickle batches
    cifar_mode     flatten | patches    see `exante_examples.mlp.data`
    labels         true | shuffled      shuffled: the shuffled-labels trap
    mode           train | oracle | untrained   oracle: trivial-pass trap; untrained: tau

PyYAML reads ``1e-4`` (no dot) as a string; numeric strings are accepted for
float keys so that such a plan still means what it says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

ACTIVATIONS = ("relu", "gelu")
OPTIMIZERS = ("adamw_fused", "adamw")
DATASETS = ("mnist1d", "cifar10")
CIFAR_MODES = ("flatten", "patches")
LABELS = ("true", "shuffled")
MODES = ("train", "oracle", "untrained")

REQUIRED = ("depth", "activation", "weight_decay")
DEFAULTS: dict[str, Any] = {
    "width": 256,
    "lr": 1e-3,
    "epochs": 20,
    "batch_size": 128,
    "optimizer": "adamw_fused",
    "dataset": "mnist1d",
    "data_dir": None,
    "cifar_mode": "flatten",
    "labels": "true",
    "mode": "train",
}
KNOWN_KEYS = frozenset(REQUIRED) | frozenset(DEFAULTS)


@dataclass(frozen=True)
class Config:
    """One run's validated parameters (the seed is separate: it is not a parameter)."""

    depth: int
    activation: str
    weight_decay: float
    width: int = 256
    lr: float = 1e-3
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adamw_fused"
    dataset: str = "mnist1d"
    data_dir: str | None = None
    cifar_mode: str = "flatten"
    labels: str = "true"
    mode: str = "train"

    def shape_key(self) -> tuple:
        """What runs must share to be trained in one stacked ensemble.

        Seed, weight decay, learning rate and labels may differ per member.
        """
        return (self.depth, self.activation, self.width, self.epochs, self.batch_size,
                self.optimizer, self.dataset, self.data_dir, self.cifar_mode, self.mode)

    def data_key(self) -> tuple:
        """What determines the arrays (train/val/test X and y)."""
        if self.dataset == "cifar10":
            return (self.dataset, self.data_dir, self.cifar_mode)
        return (self.dataset,)


class ParamError(ValueError):
    """A parameter that is missing, unknown or of the wrong type; the message names it."""


def parse_params(params: Mapping[str, Any]) -> Config:
    """Validate `params` (a plan's plain scalars) into a `Config`; raises `ParamError`."""
    if not isinstance(params, Mapping):
        raise ParamError(f"params: expected a mapping, got {type(params).__name__}")
    unknown = sorted(set(params) - KNOWN_KEYS)
    if unknown:
        raise ParamError(f"params.{unknown[0]}: unknown parameter; known: {sorted(KNOWN_KEYS)}")
    missing = [k for k in REQUIRED if k not in params]
    if missing:
        raise ParamError(f"params.{missing[0]}: required parameter is missing")
    values = {**DEFAULTS, **params}
    config = Config(
        depth=_integer(values, "depth", minimum=1),
        activation=_choice(values, "activation", ACTIVATIONS),
        weight_decay=_real(values, "weight_decay", minimum=0.0),
        width=_integer(values, "width", minimum=1),
        lr=_real(values, "lr", minimum=0.0, strict=True),
        epochs=_integer(values, "epochs", minimum=0),
        batch_size=_integer(values, "batch_size", minimum=1),
        optimizer=_choice(values, "optimizer", OPTIMIZERS),
        dataset=_choice(values, "dataset", DATASETS),
        data_dir=None if values["data_dir"] is None else str(values["data_dir"]),
        cifar_mode=_choice(values, "cifar_mode", CIFAR_MODES),
        # YAML reads an unquoted `labels: true` as a boolean
        labels=_choice({"labels": "true" if values["labels"] is True else values["labels"]},
                       "labels", LABELS),
        mode=_choice(values, "mode", MODES),
    )
    if config.dataset == "cifar10" and not config.data_dir:
        raise ParamError("params.data_dir: required when dataset is cifar10")
    return config


def check_seed(seed: Any) -> int:
    """The run seed as a non-negative int (numpy's SeedSequence refuses negatives)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError(f"seed: expected an integer >= 0, got {seed!r}")
    return seed


def _integer(values: Mapping[str, Any], key: str, *, minimum: int) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParamError(f"params.{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def _real(values: Mapping[str, Any], key: str, *, minimum: float, strict: bool = False) -> float:
    value = values[key]
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    too_small = number is not None and (number < minimum or (strict and number == minimum))
    if number is None or not math.isfinite(number) or too_small:
        raise ParamError(f"params.{key}: expected a number {bound}, got {value!r}")
    return number


def _choice(values: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = values[key]
    if value not in allowed:
        raise ParamError(f"params.{key}: expected one of {list(allowed)}, got {value!r}")
    return value
