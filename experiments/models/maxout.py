"""Goodfellow et al. (2013)'s maxout networks, as used by Goodfellow, Vinyals & Saxe (2015).

Both come from pylearn2's ``scripts/papers/maxout`` configurations named in Goodfellow
et al. (2015, App. A): ``mnist_pi.yaml`` for the permutation-invariant MNIST network
and ``cifar10_no_aug_valid.yaml`` for the convolutional CIFAR-10 network. Every weight
is drawn from U(−0.005, 0.005) (pylearn2 ``irange: .005``) and every bias is zero.
Max-norm constraints and per-layer learning-rate scales belong to training and are
not applied here.
"""

from __future__ import annotations

from torch import nn

from experiments.models.checks import positive_int
from experiments.models.initialization import irange_
from experiments.models.layers import Maxout, dropout_inputs

__all__ = ["maxout_mlp", "conv_maxout"]

_IRANGE = 0.005


def maxout_mlp(*, dropout: bool = False, num_classes: int = 10) -> nn.Sequential:
    """Permutation-invariant MNIST maxout network: 784–240×5–240×5–10 (``mnist_pi.yaml``).

    Two maxout layers of 240 units with 5 pieces each, then a softmax layer (logits here).
    With ``dropout``, each layer's input is dropped with p=0.2 for the pixels and p=0.5
    after (see :func:`~experiments.models.layers.dropout_inputs`); the paper's network
    trains with dropout. pylearn2 does not rescale the kept pixels (``input_scales: 1``)
    whereas :class:`torch.nn.Dropout` does; the difference is a constant factor 1.25 on
    the training-time input.

    Parameters
    ----------
    dropout : bool
        Drop each layer's input (``mnist_pi.yaml`` trains with it).
    num_classes : int
        Width of the softmax layer.

    Returns
    -------
    torch.nn.Sequential
        ``Flatten``, then (dropout,) linear and :class:`~experiments.models.layers.Maxout`
        layers.

    Examples
    --------
    >>> sum(p.numel() for p in maxout_mlp().parameters())
    1233610
    """
    positive_int(num_classes, "num_classes")
    layers = [
        [irange_(nn.Linear(784, 240 * 5), _IRANGE), Maxout(5)],
        [irange_(nn.Linear(240, 240 * 5), _IRANGE), Maxout(5)],
        [irange_(nn.Linear(240, num_classes), _IRANGE)],
    ]
    return nn.Sequential(nn.Flatten(), *dropout_inputs(layers, dropout=dropout))


def _conv(c_in: int, units: int, kernel: int, pad: int, pool: int, stride: int) -> list[nn.Module]:
    # cuda-convnet pools with ceil((size - pool) / stride) + 1 outputs: ceil_mode.
    return [
        irange_(nn.Conv2d(c_in, units * 2, kernel, padding=pad), _IRANGE),
        Maxout(2),
        nn.MaxPool2d(pool, stride, ceil_mode=True),
    ]


def conv_maxout(*, dropout: bool = True, num_classes: int = 10) -> nn.Sequential:
    """Convolutional maxout network for CIFAR-10 (``cifar10_no_aug_valid.yaml``).

    For 3×32×32 inputs:

    ========================================  ====================
    layer                                     output
    ========================================  ====================
    conv 8×8, pad 4, 96 units × 2 pieces      96×33×33
    max-pool 4×4, stride 2                    96×16×16
    conv 8×8, pad 3, 192 units × 2 pieces     192×15×15
    max-pool 4×4, stride 2                    192×7×7
    conv 5×5, pad 3, 192 units × 2 pieces     192×9×9
    max-pool 2×2, stride 2                    192×5×5
    maxout, 500 units × 5 pieces              500
    linear (softmax logits)                   10
    ========================================  ====================

    Pools use cuda-convnet's (and pylearn2's) ceil rounding. With ``dropout`` (the
    default, as in the paper) each layer's input is dropped, p=0.2 for the image and
    p=0.5 after (see :func:`~experiments.models.layers.dropout_inputs`). The paper's
    inputs are globally contrast-normalised and ZCA-whitened.

    Parameters
    ----------
    dropout : bool
        Drop each layer's input; on by default, as in the configuration file.
    num_classes : int
        Width of the softmax layer.

    Returns
    -------
    torch.nn.Sequential
        Convolution, maxout and pooling layers, then the two dense layers.

    Examples
    --------
    >>> import torch
    >>> conv_maxout().eval()(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 10])
    """
    positive_int(num_classes, "num_classes")
    layers = [
        _conv(3, 96, kernel=8, pad=4, pool=4, stride=2),
        _conv(96, 192, kernel=8, pad=3, pool=4, stride=2),
        _conv(192, 192, kernel=5, pad=3, pool=2, stride=2),
        [nn.Flatten(), irange_(nn.Linear(192 * 5 * 5, 500 * 5), _IRANGE), Maxout(5)],
        [irange_(nn.Linear(500, num_classes), _IRANGE)],
    ]
    return nn.Sequential(*dropout_inputs(layers, dropout=dropout))
