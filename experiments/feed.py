"""Data plumbing of training: the splits in the form a task needs, and its minibatches.

Every random stream is a pure function of (seed, replicate, position) (see
:mod:`experiments.trainer`): the minibatch order of each epoch and the augmentation of
each iteration come from generators seeded afresh, so a resumed run draws the same
batches as an uninterrupted one. Language models read their token stream in order, in
segments of :data:`BPTT_STEPS` (Zaremba et al. 2014).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from experiments import streams
from experiments.config import TrainConfig

__all__ = ["Data", "load_data", "batches", "iterations_per_epoch", "BPTT_STEPS", "EVAL_BATCH"]

#: Examples per forward pass when measuring the final accuracies.
EVAL_BATCH = 1000
#: Time steps per truncated-backpropagation segment for language models (Zaremba et al.).
BPTT_STEPS = 35


@dataclass
class Data:
    """Training and test data in the form the model's task needs."""

    task: str
    train: Any
    test: Any
    per_epoch: int


class Position(Protocol):
    """What the minibatches of a run read from its trainer, as they are drawn.

    ``step`` moves on while the batches are read (each batch is the one of the
    trainer's current step); ``hidden`` is a language model's carried state, which a
    new epoch resets; ``seed(stream, *counters)`` is the run's seed of a stream.
    """

    config: TrainConfig
    data: Data
    device: torch.device
    memory_format: torch.memory_format
    step: int
    total: int
    hidden: Any

    def seed(self, stream: str, *counters: int) -> int: ...


def batches(at: Position) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches from ``at.step`` on, the same ones whether resumed or not."""
    if at.data.task == "language_model":
        yield from _segments(at)
        return
    train_set = at.data.train
    x, y = train_set if isinstance(train_set, tuple) else (train_set, None)
    n = len(y) if y is not None else len(train_set)
    if at.config.train_examples is not None:
        n = min(n, at.config.train_examples)
    size, per_epoch = at.config.batch_size, at.data.per_epoch
    while at.step < at.total:
        epoch, first = divmod(at.step, per_epoch)
        order = streams.epoch_order(at, epoch, n)
        for i in range(first, per_epoch):
            if at.step >= at.total:
                return
            index = order[i * size:(i + 1) * size]
            if isinstance(x, torch.Tensor):
                index = index.to(x.device)
                inputs, targets = x[index], y[index]
            else:
                inputs, targets = _gather(x, index)
            inputs, targets = inputs.to(at.device), targets.to(at.device)
            if at.config.augment:
                inputs = _augment(at, inputs)
            yield inputs.contiguous(memory_format=at.memory_format), targets


def _augment(at: Position, inputs: torch.Tensor) -> torch.Tensor:
    from experiments.data import augment_cifar

    generator = torch.Generator(device=inputs.device).manual_seed(
        at.seed("augment", at.step, *streams.counters(at.config)))
    return augment_cifar(inputs, generator)


def _segments(at: Position) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    # Zaremba et al.: the token stream cut into batch_size parallel rows, read in order
    # in segments of BPTT_STEPS; the data order has no randomness.
    rows = at.data.train
    while at.step < at.total:
        i = at.step % at.data.per_epoch
        if i == 0:
            at.hidden = None
        chunk = rows[:, i * BPTT_STEPS:(i + 1) * BPTT_STEPS + 1]
        yield chunk[:, :-1], chunk[:, 1:]


def eval_batches(split: Any, task: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A whole split in evaluation batches, in order."""
    if task == "language_model":
        return ((split[:, i:i + BPTT_STEPS], split[:, i + 1:i + 1 + BPTT_STEPS])
                for i in range(0, split.shape[1] - 1 - BPTT_STEPS + 1, BPTT_STEPS))
    if isinstance(split, tuple):
        x, y = split
        return ((x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]) for i in range(0, len(y), EVAL_BATCH))
    return iter(torch.utils.data.DataLoader(split, batch_size=64,
                                            num_workers=min(8, os.cpu_count() or 1)))


def _gather(dataset: Any, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # A dataset of (image, label) items, as torchvision's folders give them.
    items = [dataset[int(i)] for i in index]
    return torch.stack([a for a, _ in items]), torch.as_tensor([int(b) for _, b in items])


def load_data(config: TrainConfig, spec: Any, data_dir: Any, device: torch.device) -> Data:
    """The training and test splits of ``config`` on ``device``, cut to its
    ``train_examples``; a language model's text as ``batch_size`` rows of tokens.

    ``spec`` is the model's :class:`~experiments.models.ModelSpec`, ``data_dir`` as
    :func:`experiments.data.data_root`.
    """
    from experiments import data

    if spec.task == "language_model":
        train_ids, _ = data.load(spec.dataset, "train", data_dir=data_dir)
        test_ids, _ = data.load(spec.dataset, "test", data_dir=data_dir)
        if config.train_examples is not None:
            train_ids = train_ids[: config.train_examples]
        rows = data.batchify(train_ids, config.batch_size).to(device)
        per_epoch = (rows.shape[1] - 1) // BPTT_STEPS
        if per_epoch < 1:
            raise ValueError(f"the {spec.dataset!r} training text is too short for one "
                             f"segment of {BPTT_STEPS} tokens at batch {config.batch_size}")
        test = data.batchify(test_ids, 10).to(device)
        return Data(spec.task, rows, test, per_epoch)
    train_set = data.load(spec.dataset, "train", data_dir=data_dir, device=device)
    test_set = data.load(spec.dataset, "test" if "test" in data.SPLITS[spec.dataset] else "val",
                         data_dir=data_dir, device=device)
    if isinstance(train_set, tuple):
        n = len(train_set[1])
        if config.train_examples is not None:
            n = min(n, config.train_examples)
            train_set = (train_set[0][:n], train_set[1][:n])
    else:
        n = len(train_set) if config.train_examples is None else min(len(train_set),
                                                                     config.train_examples)
    return Data(spec.task, train_set, test_set, math.ceil(n / config.batch_size))


def iterations_per_epoch(config: TrainConfig, data_dir: Any = None) -> int:
    """Iterations in one epoch of ``config`` (reads the training set's size)."""
    from experiments.models import spec

    return load_data(config, spec(config.model), data_dir, torch.device("cpu")).per_epoch

