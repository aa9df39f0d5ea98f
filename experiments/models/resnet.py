"""Residual networks of Frankle (2020): ResNet-20 for CIFAR-10 and ResNet-50 for ImageNet.

Both follow OpenLTH (``cifar_resnet_20`` and ``imagenet_resnet_50``), which Frankle
(2020, §2) uses, including its default initialisation: every conv and linear weight
He-normal with fan-in (:func:`~experiments.models.initialization.kaiming_normal_`), the
linear bias PyTorch's default, batch-norm scales U[0, 1) and shifts zero
(:func:`~experiments.models.initialization.uniform_batch_norm_`).

With ``batch_norm=False`` every batch-norm layer is left out and the convolution before
it gets a bias instead (otherwise the network would have no per-channel offsets at
all). That variant is ours; neither paper trains it.

The CIFAR ResNet takes any image size: its convolutions are "same"-padded, its two
strided stages halve the maps with rounding up (32→16→8 on CIFAR-10, 28→14→7 on
MNIST) and global average pooling feeds the classifier, so a 1×28×28 image needs only
``in_channels=1``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from experiments.models.checks import positive_int
from experiments.models.initialization import kaiming_normal_, uniform_batch_norm_

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "cifar_resnet", "resnet50"]


def conv_norm(
    c_in: int, c_out: int, kernel: int, stride: int = 1, *, batch_norm: bool = True
) -> nn.Sequential:
    """A "same"-padded convolution followed by batch norm (or, without it, with a bias).

    Examples
    --------
    >>> [type(m).__name__ for m in conv_norm(3, 16, 3)]
    ['Conv2d', 'BatchNorm2d']
    >>> conv_norm(3, 16, 3, batch_norm=False)[0].bias.shape
    torch.Size([16])
    """
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=not batch_norm)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out)) if batch_norm else nn.Sequential(conv)


def _shortcut(c_in: int, c_out: int, stride: int, batch_norm: bool) -> nn.Module:
    # OpenLTH and torchvision: a 1x1 projection wherever the shape changes, else identity.
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return conv_norm(c_in, c_out, 1, stride, batch_norm=batch_norm)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions around an identity or projection shortcut (He et al. 2016).

    ``relu(f(x) + shortcut(x))`` with ``f = conv-bn-relu-conv-bn``; the first convolution
    carries the stride.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, *, batch_norm: bool = True) -> None:
        super().__init__()
        self.conv1 = conv_norm(c_in, c_out, 3, stride, batch_norm=batch_norm)
        self.conv2 = conv_norm(c_out, c_out, 3, batch_norm=batch_norm)
        self.shortcut = _shortcut(c_in, c_out, stride, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand (×4) around a shortcut: torchvision's ResNet v1.5 block.

    The 3×3 convolution carries the stride, as in torchvision (and so OpenLTH).
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, *, batch_norm: bool = True) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = conv_norm(c_in, width, 1, batch_norm=batch_norm)
        self.conv2 = conv_norm(width, width, 3, stride, batch_norm=batch_norm)
        self.conv3 = conv_norm(width, c_out, 1, batch_norm=batch_norm)
        self.shortcut = _shortcut(c_in, c_out, stride, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A stem, stages of residual blocks, global average pooling and a linear classifier.

    Parameters
    ----------
    stem : torch.nn.Module
        Maps the image to the first stage's input.
    stages : torch.nn.Sequential
        The residual blocks.
    features : int
        Channels out of the last stage.
    num_classes : int
    """

    def __init__(
        self, stem: nn.Module, stages: nn.Sequential, features: int, num_classes: int
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.fc = nn.Linear(features, num_classes)
        kaiming_normal_(self)
        uniform_batch_norm_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(self.stem(x))
        return self.fc(out.mean(dim=(2, 3)))


def _stages(
    block: type[BasicBlock] | type[Bottleneck],
    c_in: int,
    plan: list[tuple[int, int, int]],
    batch_norm: bool,
) -> tuple[nn.Sequential, int]:
    blocks: list[nn.Module] = []
    for width, count, stride in plan:
        for index in range(count):
            blocks.append(block(c_in, width, stride if index == 0 else 1, batch_norm=batch_norm))
            c_in = width * getattr(block, "expansion", 1)
    return nn.Sequential(*blocks), c_in


def cifar_resnet(
    depth: int = 20,
    *,
    width: int = 16,
    batch_norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> ResNet:
    """CIFAR ResNet of He et al. (2016, §4.2) as OpenLTH builds it (``cifar_resnet_20``).

    A 3×3 convolution to ``width`` channels, then three stages of ``(depth - 2) / 6``
    basic blocks with ``width``, ``2·width`` and ``4·width`` filters (16/32/64 for
    ResNet-20: 3 stages × 3 blocks), the first block of stages 2 and 3 striding by 2
    with a 1×1 convolution + batch-norm shortcut (OpenLTH's choice, He et al.'s option
    B), global average pooling and a linear layer: 272,474 parameters for ResNet-20.

    Parameters
    ----------
    depth : int
        ``6n + 2`` for ``n >= 1`` (20, 32, 44, 56, 110, ...).
    width : int
        Filters of the first stage.
    batch_norm : bool
        Batch norm after every convolution, shortcuts included.
    num_classes : int
        Outputs of the final linear layer.
    in_channels : int
        Channels of the input image (3 for CIFAR-10, 1 for MNIST); only the stem's
        convolution depends on it.

    Returns
    -------
    ResNet
        Stem ``conv-bn-relu``, :class:`BasicBlock` stages, linear ``fc``.

    Examples
    --------
    >>> sum(p.numel() for p in cifar_resnet(20).parameters())
    272474
    >>> import torch
    >>> cifar_resnet(20, in_channels=1).eval()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    positive_int(depth, "depth")
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (20, 32, 56, 110, ...), got {depth!r}")
    positive_int(width, "width")
    positive_int(num_classes, "num_classes")
    positive_int(in_channels, "in_channels")
    n = (depth - 2) // 6
    stem = nn.Sequential(conv_norm(in_channels, width, 3, batch_norm=batch_norm), nn.ReLU())
    plan = [(width, n, 1), (2 * width, n, 2), (4 * width, n, 2)]
    stages, features = _stages(BasicBlock, width, plan, batch_norm)
    return ResNet(stem, stages, features, num_classes)


def resnet50(*, batch_norm: bool = True, num_classes: int = 1000) -> ResNet:
    """ResNet-50 for ImageNet (He et al. 2016), torchvision's v1.5 layout, as in OpenLTH.

    7×7/2 convolution to 64 channels, 3×3/2 max-pool, then stages of [3, 4, 6, 3]
    bottleneck blocks of widths 64, 128, 256, 512 (outputs ×4), strides 1, 2, 2, 2 on the
    3×3 convolutions, 1×1 projection shortcuts where the shape changes, global average
    pooling and a 2048→1000 linear layer: 25,557,032 parameters. Written here rather
    than imported, the project does not depend on torchvision. OpenLTH re-initialises
    torchvision's network with its defaults (see the module docstring), and so do we.

    Parameters
    ----------
    batch_norm : bool
        Batch norm after every convolution; without it the convolutions get biases.
    num_classes : int
        Outputs of ``fc`` (1000 ImageNet classes by default).

    Returns
    -------
    ResNet
        Stem ``conv-bn-relu-maxpool``, :class:`Bottleneck` stages, linear ``fc``.

    Examples
    --------
    >>> sum(p.numel() for p in resnet50().parameters())
    25557032
    """
    positive_int(num_classes, "num_classes")
    stem = nn.Sequential(
        conv_norm(3, 64, 7, 2, batch_norm=batch_norm),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, padding=1),
    )
    plan = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]
    stages, features = _stages(Bottleneck, 64, plan, batch_norm)
    return ResNet(stem, stages, features, num_classes)
