"""Seeded training that returns the initial and final parameters.

A deliberately small trainer: plain or momentum SGD on in-memory tensors, separate
seeds for initialisation and data order, deterministic on CPU. It is what the compare
command's quick budget needs today; run directories, checkpoint schedules, resuming
and the other optimisers are tracked separately.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from experiments.data import load_mnist
from experiments.models import build

__all__ = ["TrainConfig", "TrainResult", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (defaults: OpenLTH's LeNet-300-100 on MNIST)."""

    model: str = "mnist_mlp"
    dataset: str = "mnist"
    lr: float = 0.1
    momentum: float = 0.0
    batch_size: int = 128
    epochs: float = 40.0
    init_seed: int = 0
    data_seed: int = 0
    train_examples: int | None = None

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.batch_size < 1 or self.epochs <= 0:
            raise ValueError(f"lr, batch_size and epochs must be positive, got {self!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")


@dataclass
class TrainResult:
    """Parameters at the start and end of training, and how well the end does."""

    config: TrainConfig
    model: nn.Module
    init: dict[str, torch.Tensor]
    final: dict[str, torch.Tensor]
    steps: int
    test_accuracy: float


def train(
    config: TrainConfig,
    *,
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> TrainResult:
    """Train ``config.model`` from a seeded initialisation; same config, same weights.

    Parameters
    ----------
    config : TrainConfig
    data_dir : str or path-like, optional
        Data root, see :func:`experiments.data.data_root`.
    device : str or torch.device
    progress : bool, optional
        Progress bar; default on when stderr is a terminal.

    Returns
    -------
    TrainResult
    """
    dev = torch.device(device)
    dataset = config.dataset
    x, y = load_mnist("train", dataset=dataset, data_dir=data_dir, flatten=True)
    if config.train_examples is not None:
        x, y = x[: config.train_examples], y[: config.train_examples]
    x, y = x.to(dev), y.to(dev)
    torch.manual_seed(config.init_seed)
    model = build(config.model).to(dev)
    init = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    order = torch.Generator().manual_seed(config.data_seed)
    per_epoch = -(-len(x) // config.batch_size)
    steps = max(1, round(config.epochs * per_epoch))
    show = sys.stderr.isatty() if progress is None else progress
    model.train()
    perm = torch.randperm(len(x), generator=order)
    for step in tqdm(range(steps), desc=f"train {config.model}", disable=not show, unit="step"):
        i = step % per_epoch
        if i == 0 and step > 0:
            perm = torch.randperm(len(x), generator=order)
        idx = perm[i * config.batch_size : (i + 1) * config.batch_size].to(dev)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    xt, yt = load_mnist("test", dataset=dataset, data_dir=data_dir, flatten=True)
    with torch.no_grad():
        correct = sum(
            int((model(xt[s : s + 2000].to(dev)).argmax(1) == yt[s : s + 2000].to(dev)).sum())
            for s in range(0, len(xt), 2000)
        )
    return TrainResult(
        config, model, init, copy.deepcopy(model.state_dict()), steps, correct / len(xt)
    )

