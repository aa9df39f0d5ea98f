"""Initialisation schemes of the papers' code bases, and Im et al.'s exotic re-draws.

Every function draws from torch's global generator (so ``torch.manual_seed`` fixes the
result) except :func:`reinitialize`, which takes its own seed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["kaiming_normal_", "uniform_batch_norm_", "irange_", "reinitialize"]

_NORMALIZATION = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def kaiming_normal_(model: nn.Module) -> nn.Module:
    """OpenLTH's ``kaiming_normal``: every conv and linear weight from He et al.'s N(0, 2/fan_in).

    Biases keep PyTorch's default (OpenLTH leaves them alone). Returns ``model``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> layer = kaiming_normal_(nn.Linear(5000, 10))
    >>> round(layer.weight.std().item() * math.sqrt(5000 / 2), 1)
    1.0
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight)
    return model


def uniform_batch_norm_(model: nn.Module) -> nn.Module:
    """Batch-norm scales from U[0, 1) and shifts zero, in place; returns ``model``.

    This is OpenLTH's default ``batchnorm_init='uniform'`` and also what Torch7's
    ``nn.BatchNormalization:reset()`` did, so it is the initialisation of both Frankle
    (2020)'s networks and Im et al. (2016)'s ``cifar.torch`` networks.

    Examples
    --------
    >>> bn = uniform_batch_norm_(nn.BatchNorm2d(100))
    >>> bool(((bn.weight >= 0) & (bn.weight < 1)).all()), bool((bn.bias == 0).all())
    (True, True)
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
                module.weight.uniform_(0.0, 1.0)
                module.bias.zero_()
    return model


def irange_(layer: nn.Linear | nn.Conv2d, irange: float) -> nn.Module:
    """pylearn2's ``irange`` initialisation: weights from U(-irange, irange), biases zero.

    ``irange=0`` gives all-zero weights, which is what pylearn2's ``sparse_init: 0``
    means for a softmax layer (Goodfellow et al. 2015, App. A, ReLU network).

    Examples
    --------
    >>> layer = irange_(nn.Linear(100, 10), 0.005)
    >>> bool(layer.weight.abs().max() <= 0.005), bool((layer.bias == 0).all())
    (True, True)
    """
    if not (math.isfinite(irange) and irange >= 0):
        raise ValueError(f"irange must be a finite number >= 0, got {irange!r}")
    with torch.no_grad():
        layer.weight.uniform_(-irange, irange)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def reinitialize(
    model: nn.Module, mean: float, std: float, *, seed: int, normalization: bool = False
) -> nn.Module:
    """Re-draw the network's parameters from N(mean, std²), in place (Im et al. 2016, App. A.5).

    Im et al. train NIN from "initial parameters drawn from N(-10.0, 0.01) or N(-1.0, 1.0)",
    following Swirszcz et al. (2016); we read the second argument as the standard
    deviation. Every parameter of every layer is re-drawn, weights *and* biases (the
    paper says "parameters", not "weights"), except the affine scale and shift of
    normalisation layers, which keep their values unless ``normalization=True``: Im et
    al. contrast the same initialisations with and without batch norm, so the batch-norm
    layers are read as part of the architecture rather than of the initialisation.
    Buffers (batch-norm running statistics) are never touched.

    Parameters
    ----------
    model : torch.nn.Module
    mean, std : float
        Mean and standard deviation of the normal distribution; ``std >= 0``.
    seed : int
        Seed of a private generator: the result does not depend on, and does not
        advance, torch's global generator.
    normalization : bool
        Also re-draw normalisation layers' scale and shift.

    Returns
    -------
    torch.nn.Module
        ``model``, re-initialised.

    Examples
    --------
    >>> net = reinitialize(nn.Linear(1000, 100), -10.0, 0.01, seed=0)
    >>> round(net.weight.mean().item(), 2), round(net.bias.mean().item(), 1)
    (-10.0, -10.0)
    """
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise ValueError(
            f"need a finite mean and a finite std >= 0, got mean={mean!r}, std={std!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _NORMALIZATION) and not normalization:
                continue
            for param in module.parameters(recurse=False):
                draw = torch.randn(param.shape, generator=generator, dtype=param.dtype)
                param.copy_(draw.mul_(std).add_(mean))
    return model
