"""The papers' networks, by name.

Each entry of :data:`MODELS` is a :class:`ModelSpec`: the builder, the dataset and input
shape it is for, the task and a one-line description with its source. :func:`build`
makes a fresh network from torch's global generator, so ``torch.manual_seed(s)`` before
it fixes the initial parameters.

==================================  ========================================================
name                                network
==================================  ========================================================
``mnist_mlp``                       LeNet-300-100 (Frankle 2020, via OpenLTH)
``fashion_mlp``                     the same network for Fashion-MNIST
``mnist_mlp_w<W>``                  784–W–W–10 ReLU, W in :data:`~experiments.models.mlp.MLP_WIDTHS`
``mnist_relu[_dropout]``            Goodfellow et al. (2015)'s 784–898–1532–10 ReLU network
``mnist_sigmoid[_dropout]``         the same with logistic sigmoid units
``mnist_maxout[_dropout]``          Goodfellow et al. (2013)'s 240×5, 240×5 maxout network
``cifar_maxout``                    Goodfellow et al. (2013)'s convolutional maxout network
``<data>_resnet20[_nobn]``          ResNet-20 (Frankle 2020, via OpenLTH)
``<data>_vgg16[_nobn]``             VGG-16 (Frankle 2020, via OpenLTH)
``<data>_vgg16_dropout[_nobn]``     Im et al. (2016)'s VGG (``cifar.torch``)
``<data>_nin[_nobn]``               Network in Network (Im et al. 2016, via ``cifar.torch``)
``imagenet_resnet50``               ResNet-50 (Frankle 2020, via OpenLTH)
``ptb_lstm_medium``                 Zaremba et al. (2014)'s medium LSTM (Goodfellow et al. 2015)
==================================  ========================================================

The convolutional families (:data:`CONV_FAMILIES`) are registered for every dataset of
:data:`CONV_DATASETS`, ``<data>`` being ``cifar`` (CIFAR-10, their papers' dataset),
``mnist`` or ``fashion`` (Fashion-MNIST): each with batch norm and, as ``_nobn``,
without it, the two differing in the normalisation layers only (in ResNet-20 the
convolution before each one takes over its shift as a bias). A family takes its
input channels and class count from the dataset's entry, and every family takes any
image size (see :mod:`~experiments.models.vgg` and :mod:`~experiments.models.nin` for
how 28×28 images pass their pools), so a new image dataset needs a line with its example
shape and class count (next to :data:`DATASETS`) and one in :data:`CONV_DATASETS`, and no
model code. The networks are built for CIFAR-10's 3×32×32 images and are
unchanged there.

Every network is a plain function of its input in eval mode (no Python-side state,
no in-place activations), so it works with :func:`torch.func.functional_call` and,
for the feed-forward ones, with :func:`torch.vmap` over stacked parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from experiments.models.initialization import reinitialize
from experiments.models.lstm import lstm_medium
from experiments.models.maxout import conv_maxout, maxout_mlp
from experiments.models.mlp import MLP_WIDTHS, fully_connected, lenet_300_100, wide_mlp
from experiments.models.nin import nin
from experiments.models.resnet import cifar_resnet, resnet50
from experiments.models.vgg import vgg16, vgg16_dropout
from landscapes.names import unknown_name

__all__ = [
    "DATASETS",
    "TASKS",
    "CONV_DATASETS",
    "CONV_FAMILIES",
    "ModelSpec",
    "MODELS",
    "build",
    "spec",
    "describe_models",
    "lenet_300_100",
    "reinitialize",
]

# Example shape and number of classes of each image dataset.
_IMAGES: dict[str, tuple[tuple[int, ...], int]] = {
    "mnist": ((1, 28, 28), 10),
    "fashion_mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "imagenet": ((3, 224, 224), 1000),
}
#: Datasets a model can be for: the image datasets, then the text.
DATASETS = (*_IMAGES, "ptb")
#: What a model's output means: class logits ``(batch, classes)`` or next-token logits
#: ``(batch, time, vocab)``.
TASKS = ("classification", "language_model")


@dataclass(frozen=True)
class ModelSpec:
    """One registered network.

    Attributes
    ----------
    name : str
        Registry key.
    builder : callable
        Returns a freshly initialised :class:`torch.nn.Module`; keyword arguments
        override the entry's defaults.
    dataset : str
        One of :data:`DATASETS`.
    input_shape : tuple of int
        Shape of one example: ``(channels, height, width)`` for images, ``(time,)`` for
        token sequences (int64; 35 is the unrolled length used in training).
    task : str
        One of :data:`TASKS`.
    num_outputs : int
        Classes, or vocabulary size for a language model.
    description : str
        One line, with the paper it comes from.
    family : str or None
        The key of :data:`CONV_FAMILIES` it was built from, or None for a network
        registered on its own.
    """

    name: str
    builder: Callable[..., nn.Module]
    dataset: str
    input_shape: tuple[int, ...]
    task: str
    num_outputs: int
    description: str
    family: str | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {list(DATASETS)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from {list(TASKS)}")
        if self.family is not None and self.family not in CONV_FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; choose from {list(CONV_FAMILIES)}")


_GOODFELLOW = "Goodfellow, Vinyals & Saxe 2015, App. A"
_OPENLTH = "OpenLTH (Frankle 2020, §2)"
_CIFAR_TORCH = "cifar.torch (Im et al. 2016, §3.4)"
_WIDTHS = {"relu": "784-898-1532-10", "sigmoid": "784-898-1532-10", "maxout": "784-240x5-240x5-10"}

#: The convolutional families: builder (taking ``batch_norm``, ``in_channels`` and
#: ``num_classes``) and description, by the name that follows the dataset prefix.
CONV_FAMILIES: dict[str, tuple[Callable[..., nn.Module], str]] = {
    "resnet20": (cifar_resnet, f"ResNet-20, {_OPENLTH}"),
    "vgg16": (vgg16, f"VGG-16, {_OPENLTH}"),
    "vgg16_dropout": (vgg16_dropout, f"VGG-16 with dropout, {_CIFAR_TORCH}"),
    "nin": (nin, f"Network in Network (Lin et al. 2014), {_CIFAR_TORCH}"),
}

#: The image datasets every family of :data:`CONV_FAMILIES` is registered for, by the
#: prefix of the model names (``fashion_resnet20`` is ResNet-20 for ``fashion_mnist``);
#: input shape and classes come from the dataset.
CONV_DATASETS: dict[str, str] = {"cifar": "cifar10", "mnist": "mnist", "fashion": "fashion_mnist"}


def _goodfellow_mlp(unit: str, dropout: bool) -> Callable[..., nn.Module]:
    if unit == "maxout":
        return partial(maxout_mlp, dropout=dropout)
    return partial(fully_connected, activation=unit, dropout=dropout)


def _conv_entries() -> list[ModelSpec]:
    # Family x dataset x batch norm; the two variants share all but the normalisation layers.
    entries = []
    for prefix, dataset in CONV_DATASETS.items():
        shape, classes = _IMAGES[dataset]
        where = f"{'×'.join(map(str, shape))} {dataset}, {classes} classes"
        for family, (builder, text) in CONV_FAMILIES.items():
            for batch_norm in (True, False):
                name = f"{prefix}_{family}" + "_nobn" * (not batch_norm)
                make = partial(builder, batch_norm=batch_norm, in_channels=shape[0],
                               num_classes=classes)
                norm = "batch norm" if batch_norm else "no batch norm"
                entries.append(ModelSpec(name, make, dataset, shape, "classification", classes,
                                         f"{text}, {norm}; {where}", family=family))
    return entries


def _entries() -> list[ModelSpec]:
    rows: list[tuple[str, Callable[..., nn.Module], str, str]] = [
        ("mnist_mlp", lenet_300_100, "mnist", f"LeNet-300-100, {_OPENLTH}"),
        ("fashion_mlp", lenet_300_100, "fashion_mnist", "LeNet-300-100, Fashion-MNIST (Xiao 2017)"),
    ]
    rows += [(f"mnist_mlp_w{w}", partial(wide_mlp, w), "mnist",
              f"784-{w}-{w}-10 ReLU MLP, the width sweep (Entezari et al. 2022)")
             for w in MLP_WIDTHS]
    for unit, dropout in [(u, d) for u in _WIDTHS for d in (False, True)]:
        text = f"{_WIDTHS[unit]} {unit} network{' with dropout' * dropout} ({_GOODFELLOW})"
        name = f"mnist_{unit}" + "_dropout" * dropout
        rows.append((name, _goodfellow_mlp(unit, dropout), "mnist", text))
    text = f"conv maxout network with dropout ({_GOODFELLOW})"
    rows.append(("cifar_maxout", conv_maxout, "cifar10", text))
    entries = []
    for name, builder, dataset, text in rows:
        shape, classes = _IMAGES[dataset]
        entries.append(ModelSpec(name, builder, dataset, shape, "classification", classes, text))
    shape, classes = _IMAGES["imagenet"]
    resnet = ModelSpec("imagenet_resnet50", resnet50, "imagenet", shape, "classification",
                       classes, f"ResNet-50, {_OPENLTH}")
    text = "2-layer 650-unit LSTM, Zaremba et al. 2014 medium (Goodfellow et al. 2015, §4)"
    lstm = ModelSpec("ptb_lstm_medium", lstm_medium, "ptb", (35,), "language_model", 10_000, text)
    return [*entries, *_conv_entries(), resnet, lstm]


#: Registered networks by name.
MODELS: dict[str, ModelSpec] = {entry.name: entry for entry in _entries()}


def spec(name: str) -> ModelSpec:
    """The registry entry of ``name``.

    Examples
    --------
    >>> spec("cifar_resnet20").input_shape
    (3, 32, 32)
    >>> spec("fashion_resnet20").input_shape, spec("fashion_resnet20").family
    ((1, 28, 28), 'resnet20')
    >>> spec("mnst_mlp")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'mnst_mlp' (did you mean 'mnist_mlp'?); choose from [...]
    """
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    return MODELS[name]


def build(name: str, **kwargs: object) -> nn.Module:
    """Build a freshly initialised network by name.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    **kwargs
        Override the entry's builder arguments, e.g. ``num_classes``, ``batch_norm``
        or ``dropout`` where the network has them.

    Returns
    -------
    torch.nn.Module
        In training mode, initialised from torch's global generator.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> build("cifar_resnet20", num_classes=100).fc.out_features
    100
    >>> build("mnist_mlp", batch_norm=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: model 'mnist_mlp' takes no argument 'batch_norm'; it takes [...]
    """
    entry = spec(name)
    accepted = list(inspect.signature(entry.builder).parameters)
    for key in kwargs:
        if key not in accepted:
            raise ValueError(f"model {name!r} takes no argument {key!r}; it takes {accepted}")
    return entry.builder(**kwargs)


def describe_models() -> list[tuple[str, str]]:
    """``(name, description)`` of every registered network, sorted by name.

    Examples
    --------
    >>> dict(describe_models())["mnist_mlp"]
    'LeNet-300-100, OpenLTH (Frankle 2020, §2)'
    """
    return sorted((entry.name, entry.description) for entry in MODELS.values())
