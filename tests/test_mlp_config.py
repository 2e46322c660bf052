"""The MLP trial's parameters: defaults, types, and messages that name the key."""

from __future__ import annotations

import pytest
from exante_examples.mlp.config import Config, ParamError, check_seed, parse_params

BASE = {"depth": 4, "activation": "gelu", "weight_decay": 1e-4}


def test_defaults_are_the_registered_settings():
    config = parse_params(BASE)
    assert config == Config(depth=4, activation="gelu", weight_decay=1e-4, width=256, lr=1e-3,
                            epochs=20, batch_size=128, optimizer="adamw_fused",
                            dataset="mnist1d", labels="true", mode="train")


@pytest.mark.parametrize("params, where", [
    ({**BASE, "weight_deacy": 0.0}, "params.weight_deacy: unknown parameter"),
    ({"depth": 2, "activation": "relu"}, "params.weight_decay: required"),
    ({**BASE, "depth": "eight"}, "params.depth: expected an integer >= 1, got 'eight'"),
    ({**BASE, "depth": True}, "params.depth"),
    ({**BASE, "activation": "tanh"}, "params.activation: expected one of"),
    ({**BASE, "weight_decay": -1.0}, "params.weight_decay: expected a number >= 0"),
    ({**BASE, "weight_decay": float("inf")}, "params.weight_decay"),
    ({**BASE, "lr": 0}, "params.lr: expected a number > 0"),
    ({**BASE, "mode": "eval"}, "params.mode"),
    ({**BASE, "dataset": "cifar10"}, "params.data_dir: required when dataset is cifar10"),
])
def test_bad_params_name_the_key(params, where):
    with pytest.raises(ParamError, match=where.replace("(", r"\(").replace("[", r"\[")):
        parse_params(params)


def test_yaml_spellings_mean_what_they_say():
    # PyYAML reads 1e-4 (no dot) as a string and an unquoted `true` as a boolean
    config = parse_params({**BASE, "weight_decay": "1e-4", "labels": True})
    assert config.weight_decay == 1e-4 and config.labels == "true"


def test_shape_key_ignores_per_member_params():
    a = parse_params({**BASE, "weight_decay": 0.0, "lr": 1e-3, "labels": "shuffled"})
    b = parse_params({**BASE, "weight_decay": 1e-3, "lr": 3e-3})
    assert a.shape_key() == b.shape_key()
    assert a.shape_key() != parse_params({**BASE, "depth": 2}).shape_key()


@pytest.mark.parametrize("seed", [-1, 1.5, True, "42"])
def test_bad_seed(seed):
    with pytest.raises(ParamError, match="seed"):
        check_seed(seed)
