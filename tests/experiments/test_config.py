"""Hyperparameter dataclasses: names, round trips, registry and validation."""

from __future__ import annotations

import pytest

import experiments.models as models
from experiments import config as config_module
from experiments.config import TrainConfig, describe_experiments, experiment, parse_init
from experiments.models import CONV_DATASETS, CONV_FAMILIES, DATASETS, MODELS
from experiments.train import main

# The conv families on the data we have (issue 12), and the CIFAR-10 recipes they keep.
ELSEWHERE = sorted(n for n, e in MODELS.items() if e.family is not None and e.dataset != "cifar10")


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


@pytest.mark.parametrize("name", ELSEWHERE)
def test_conv_families_keep_their_papers_recipe_on_other_data(name):
    family = MODELS[name].family
    config = experiment(name)
    on_cifar = experiment(f"cifar_{name.split('_', 1)[1]}")
    # The same hyperparameters as on CIFAR-10, without CIFAR's crop-and-flip augmentation.
    assert config == on_cifar.replace(model=name, augment=False)
    if family in ("resnet20", "vgg16"):  # Frankle 2020 via OpenLTH
        assert on_cifar.augment
        assert (config.optimizer, config.lr, config.momentum, config.weight_decay) == (
            "momentum", 0.1, 0.9, 1e-4)
        assert (config.batch_size, config.epochs, config.milestones) == (128, 160.0, "80ep,120ep")
    else:  # Im et al. 2016, §3.4
        assert not on_cifar.augment
        assert (config.optimizer, config.lr, config.batch_size, config.epochs) == (
            "sgd", 0.05, 128, 200.0)
    line = dict(describe_experiments())[name]
    assert "trim them with --epochs" in line and f"{config.epochs:g} epochs" in line
    assert line.startswith(MODELS[name].description)
    openlth_without_bn = family in ("resnet20", "vgg16") and name.endswith("_nobn")
    assert ("no paper trains this one" in line) == openlth_without_bn


def test_list_shows_every_conv_experiment_with_its_recipe(capsys):
    assert main(["--list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for prefix in ("mnist", "fashion"):
        for family in ("resnet20", "vgg16", "vgg16_dropout", "nin"):
            for name in (f"{prefix}_{family}", f"{prefix}_{family}_nobn"):
                assert "Recipe: " in rows[name] and "batch 128" in rows[name]
    assert "no batch norm" in rows["fashion_nin_nobn"] and "no batch" not in rows["fashion_nin"]


def test_a_new_dataset_entry_gets_the_family_experiments(monkeypatch):
    monkeypatch.setattr(models, "DATASETS", (*DATASETS, "toy"))
    monkeypatch.setitem(models._IMAGES, "toy", ((2, 20, 24), 7))
    monkeypatch.setitem(CONV_DATASETS, "toy", "toy")
    for entry in models._entries():
        if entry.dataset == "toy":
            monkeypatch.setitem(MODELS, entry.name, entry)
    registry = config_module._registry()
    for family in CONV_FAMILIES:
        for suffix in ("", "_nobn"):
            config, recipe = registry[f"toy_{family}{suffix}"]
            assert config == experiment(f"mnist_{family}{suffix}").replace(model=config.model)
            assert "trim them with --epochs" in recipe


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
