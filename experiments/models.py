"""The papers' networks, by name.

Only LeNet-300-100 (``mnist_mlp``, Frankle 2020 via OpenLTH) is here so far.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["MODELS", "build", "lenet_300_100"]


def lenet_300_100(inputs: int = 784, outputs: int = 10) -> nn.Module:
    """LeNet-300-100: fully connected 784–300–100–10 with ReLU (OpenLTH ``mnist_lenet_300_100``).

    Examples
    --------
    >>> sum(p.numel() for p in lenet_300_100().parameters())
    266610
    """
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(inputs, 300),
        nn.ReLU(),
        nn.Linear(300, 100),
        nn.ReLU(),
        nn.Linear(100, outputs),
    )


#: Model constructors by experiment name.
MODELS: dict[str, Callable[[], nn.Module]] = {"mnist_mlp": lenet_300_100}


def build(name: str) -> nn.Module:
    """Build a model by name.

    Examples
    --------
    >>> build("mnst_mlp")
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'mnst_mlp'; choose from ['mnist_mlp']
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name]()
