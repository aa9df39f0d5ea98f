"""Fully connected MNIST networks: LeNet-300-100 (Frankle 2020) and Goodfellow et al.'s (2015).

Goodfellow, Vinyals & Saxe (2015, App. A) take their ReLU network from pylearn2's
``scripts/papers/dropout/mnist_valid.yaml`` (Srivastava 2013's dropout network, hidden
layers of 898 and 1532 rectified linear units), remove the dropout for the network
without it, and swap the ReLUs for logistic sigmoids for the sigmoid network. Their
maxout network is in :mod:`experiments.models.maxout`.
"""

from __future__ import annotations

from torch import nn

from experiments.models.checks import choice, positive_int
from experiments.models.initialization import irange_, kaiming_normal_
from experiments.models.layers import dropout_inputs

__all__ = ["lenet_300_100", "fully_connected", "wide_mlp", "MLP_WIDTHS"]

#: Hidden widths of the width family ``mnist_mlp_w<width>`` (Entezari et al. 2022, Fig. 2;
#: Ainsworth et al. 2023, Fig. 5): 32 to 2048 units per hidden layer.
MLP_WIDTHS = (32, 64, 128, 256, 512, 1024, 2048)

_LENET_INITS = ("pytorch", "kaiming_normal")
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
# mnist_valid.yaml: hidden widths and their pylearn2 ``irange``; the softmax layer has
# ``sparse_init: 0``, i.e. all-zero initial weights.
_GOODFELLOW_HIDDEN = ((898, 0.00891030471479), (1532, 0.0575059125935))


def lenet_300_100(
    num_classes: int = 10, *, inputs: int = 784, init: str = "pytorch"
) -> nn.Sequential:
    """LeNet-300-100: fully connected 784–300–100–10, ReLU (OpenLTH ``mnist_lenet_300_100``).

    Frankle (2020, §2) uses this network as implemented in OpenLTH.

    Parameters
    ----------
    num_classes : int
        Output units.
    inputs : int
        Input features; images are flattened first, so (1, 28, 28) and (784,) both work.
    init : {"pytorch", "kaiming_normal"}
        ``"pytorch"`` (default) keeps PyTorch's default layer initialisation;
        ``"kaiming_normal"`` is OpenLTH's default for this model (He-normal weights,
        PyTorch-default biases), see :func:`~experiments.models.initialization.kaiming_normal_`.

    Returns
    -------
    torch.nn.Sequential
        ``Flatten, Linear, ReLU, Linear, ReLU, Linear``.

    Examples
    --------
    >>> sum(p.numel() for p in lenet_300_100().parameters())
    266610
    """
    positive_int(num_classes, "num_classes")
    positive_int(inputs, "inputs")
    choice(init, "init", _LENET_INITS)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(inputs, 300),
        nn.ReLU(),
        nn.Linear(300, 100),
        nn.ReLU(),
        nn.Linear(100, num_classes),
    )
    return kaiming_normal_(model) if init == "kaiming_normal" else model


def wide_mlp(width: int, num_classes: int = 10, *, inputs: int = 784) -> nn.Sequential:
    """A LeNet-style ReLU MLP with two hidden layers of ``width`` units: 784–W–W–10.

    The width sweep of permutation alignment (Entezari et al. 2022, Fig. 2; Ainsworth,
    Hayase & Srinivasa 2023, Fig. 5) trains this family for many widths; the layers and
    their PyTorch-default initialisation are LeNet-300-100's.

    Examples
    --------
    >>> sum(p.numel() for p in wide_mlp(32).parameters())
    26506
    """
    positive_int(width, "width")
    positive_int(num_classes, "num_classes")
    positive_int(inputs, "inputs")
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, width), nn.ReLU(),
                         nn.Linear(width, width), nn.ReLU(), nn.Linear(width, num_classes))


def fully_connected(
    activation: str = "relu", *, dropout: bool = False, num_classes: int = 10
) -> nn.Sequential:
    """Goodfellow et al. (2015)'s fully connected MNIST network: 784–898–1532–10.

    The architecture and initialisation of pylearn2's ``dropout/mnist_valid.yaml``, which
    Goodfellow et al. (2015, App. A) use for their "ReLU network with dropout" (and, with
    the dropout removed or the ReLUs swapped for sigmoids, for the other two):

    * hidden layers of 898 and 1532 units, weights from U(±0.00891) and U(±0.0575),
      biases zero (pylearn2 ``irange``, ``init_bias: 0``);
    * a 10-way softmax output layer (logits here) with all-zero initial weights
      (``sparse_init: 0``) and zero biases;
    * with ``dropout``, each layer's input is dropped: p=0.2 for the pixels, p=0.5 for
      the hidden layers (see :func:`~experiments.models.layers.dropout_inputs`).

    pylearn2's max-column-norm constraints are part of training, not of the network,
    and are not applied here.

    Parameters
    ----------
    activation : {"relu", "sigmoid"}
        Hidden units: rectified linear, or logistic sigmoid (Goodfellow et al.'s swap).
    dropout : bool
        Drop the input of every layer as in ``mnist_valid.yaml``.
    num_classes : int
        Width of the output layer.

    Returns
    -------
    torch.nn.Sequential
        ``Flatten`` then the (dropout,) linear and activation layers in order.

    Examples
    --------
    >>> net = fully_connected("sigmoid")
    >>> [m.out_features for m in net if isinstance(m, nn.Linear)]
    [898, 1532, 10]
    >>> bool((net[-1].weight == 0).all())
    True
    """
    unit = _ACTIVATIONS[choice(activation, "activation", _ACTIVATIONS)]
    positive_int(num_classes, "num_classes")
    layers: list[list[nn.Module]] = []
    width = 784
    for units, irange in _GOODFELLOW_HIDDEN:
        layers.append([irange_(nn.Linear(width, units), irange), unit()])
        width = units
    layers.append([irange_(nn.Linear(width, num_classes), 0.0)])
    return nn.Sequential(nn.Flatten(), *dropout_inputs(layers, dropout=dropout))
