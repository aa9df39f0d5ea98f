"""Hyperparameter dataclasses: names, round trips, registry and validation."""

from __future__ import annotations

import pytest

from experiments.config import TrainConfig, describe_experiments, experiment, parse_init
from experiments.models import MODELS


def test_name_hashes_only_non_default_fields():
    assert TrainConfig().name == "mnist_mlp-defaults"
    assert TrainConfig(lr=0.05).name == TrainConfig(lr=0.05).name
    assert TrainConfig(lr=0.05).name != TrainConfig(lr=0.06).name
    # 1 and 1.0 are one request, so one run
    assert TrainConfig(epochs=1).name == TrainConfig(epochs=1.0).name
    assert TrainConfig(checkpoints=(5, 3, 5)).checkpoints == (3, 5)


def test_dict_round_trip_is_exact():
    config = experiment("cifar_resnet20", switch_at=100, switch_optimizer="adam", checkpoints=(7,))
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_every_model_has_an_experiment_with_the_papers_settings():
    listed = dict(describe_experiments())
    assert set(listed) == set(MODELS)
    resnet = experiment("cifar_resnet20")
    # Frankle 2020: 160 epochs = 62,560 iterations at batch 128 on 50,000 images
    assert resnet.iterations(-(-50_000 // resnet.batch_size)) == 62_560
    assert (resnet.optimizer, resnet.lr, resnet.momentum, resnet.milestones) == (
        "momentum", 0.1, 0.9, "80ep,120ep")
    lenet = experiment("mnist_mlp")
    assert (lenet.optimizer, lenet.lr, lenet.batch_size, lenet.epochs) == ("sgd", 0.1, 128, 40.0)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model": "mnst_mlp"}, "did you mean 'mnist_mlp'"),
        ({"optimizer": "adm"}, "did you mean 'adam'"),
        ({"lr": 0}, "lr must be positive"),
        ({"momentum": 1.5}, "momentum must be in"),
        ({"switch_at": 10}, "go together"),
        ({"milestones": "80 epochs"}, "bad step"),
        ({"init": "uniform(0,1)"}, "bad init"),
        ({"precision": "fp8"}, "unknown precision"),
        ({"batch_size": "big"}, "must be a number"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_unknown_experiment_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'mnist_mlp'"):
        experiment("mnst_mlp")


def test_parse_init():
    assert parse_init("default") is None
    assert parse_init("normal(-10, 0.01)") == (-10.0, 0.01)
