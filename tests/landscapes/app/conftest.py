"""Tiny trained systems the zoo's analyses, the study and the projection share."""

from __future__ import annotations

import pytest
from torch import nn

from landscapes.app.settings import Budget, Runtime

#: Two inits, two optimizers, one switch; 4 iterations of 2 minibatches of 128 examples.
TINY = Budget(replicates=2, epochs=2.0, train_examples=256, eval_examples=64, points=5,
              surface_points=3, trajectory_points=2, optimizers=("sgd", "adam"),
              switches=("adam>sgd",))


@pytest.fixture(scope="session")
def tiny() -> Budget:
    return TINY


@pytest.fixture(scope="session")
def runtime(tmp_path_factory, data_root) -> Runtime:
    """One run store per test worker, so each tiny run is trained once."""
    return Runtime(device="cpu", data_dir=data_root, runs_dir=tmp_path_factory.mktemp("runs"),
                   progress=False)


def _tiny_conv(batch_norm: bool = True, num_classes: int = 10) -> nn.Module:
    layers = [nn.Conv2d(1, 4, 3, stride=2)]
    layers += [nn.BatchNorm2d(4)] if batch_norm else []
    layers += [nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes)]
    return nn.Sequential(*layers)


@pytest.fixture
def tiny_conv(monkeypatch) -> str:
    """A conv family registered with and without batch norm, like the real ones."""
    from experiments.config import EXPERIMENTS, TrainConfig, experiment
    from experiments.models import MODELS, ModelSpec

    experiment("mnist_mlp")  # the registry is built on first use
    for name, bn in (("mnist_tinyconv", True), ("mnist_tinyconv_nobn", False)):
        spec = ModelSpec(name, lambda bn=bn, **kw: _tiny_conv(bn, **kw), "mnist", (1, 28, 28),
                         "classification", 10, f"a 4-channel conv net, batch norm: {bn}")
        monkeypatch.setitem(MODELS, name, spec)
        monkeypatch.setitem(EXPERIMENTS, name, TrainConfig(model=name, lr=0.1))
    return "mnist_tinyconv"
