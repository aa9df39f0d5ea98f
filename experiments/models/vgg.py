"""VGG-16 for CIFAR-10 (Simonyan & Zisserman 2015): OpenLTH's (Frankle 2020) and Im et al.'s (2016).

Both use the 13 convolutions of configuration D, 3×3 with padding 1, each followed by
batch norm and ReLU:

``64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512``

(``M`` a 2×2 max-pool). With ``batch_norm=False`` the batch-norm layers are left out;
the convolutions have biases either way, so that is the only difference.

Other image sizes. The first convolution takes the dataset's channels, and the 2×2
pools round up (``ceil_mode``), as ``cifar.torch``'s ``MaxPooling(2,2,2,2):ceil()``
does. On CIFAR-10's even sizes rounding up or down is the same pooling (OpenLTH rounds
down), so the CIFAR networks are unchanged; on 28×28 images the maps go
28→14→7→4→2 instead of 32→16→8→4→2, no row or column is dropped at 7→4, and the last
block of convolutions sees 2×2 maps exactly as on CIFAR-10. (Rounding down would give
28→14→7→3→1: the last three 3×3 convolutions would only ever use their centre tap, and
Im et al.'s fifth pool would have nothing left to pool.) The classifier then gets the
global pool of the last map, which on CIFAR-10 is the pooling both networks already do.
We pool rather than pad 28×28 images to 32×32: padding would cost (32/28)² ≈ 1.3× the
compute for a frame that carries no information.
"""

from __future__ import annotations

import torch
from torch import nn

from experiments.models.checks import positive_int
from experiments.models.initialization import kaiming_normal_, uniform_batch_norm_
from experiments.models.layers import GlobalAvgPool2d

__all__ = ["VGG_16", "OpenLTHVGG", "vgg16", "vgg16_dropout"]

#: Configuration D of Simonyan & Zisserman (2015): filters, or ``"M"`` for a 2×2 max-pool.
VGG_16: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)  # fmt: skip

# Im et al.'s cifar.torch network drops out after these convolutions (0-based) with p=0.4,
# after the first with p=0.3; it also ends with a fifth max-pool ("G" in its plan: over
# the whole remaining map, which is cifar.torch's 2x2 pool on 2x2 maps and keeps the
# classifier's 512 inputs on larger images).
_DROPOUT_AFTER = {0: 0.3, 2: 0.4, 4: 0.4, 5: 0.4, 7: 0.4, 8: 0.4, 10: 0.4, 11: 0.4}


def _features(
    plan: tuple[int | str, ...],
    *,
    in_channels: int,
    batch_norm: bool,
    eps: float,
    dropout: dict[int, float],
) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in, conv_index = in_channels, 0
    for item in plan:
        if item in ("M", "G"):
            pool = nn.MaxPool2d(2, 2, ceil_mode=True) if item == "M" else nn.AdaptiveMaxPool2d(1)
            layers.append(pool)
            continue
        layers.append(nn.Conv2d(c_in, int(item), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(item), eps=eps))
        layers.append(nn.ReLU())
        if conv_index in dropout:
            layers.append(nn.Dropout(dropout[conv_index]))
        c_in, conv_index = int(item), conv_index + 1
    return nn.Sequential(*layers)


class OpenLTHVGG(nn.Module):
    """OpenLTH's CIFAR VGG: convolutions, a 2×2 average pool and one linear layer."""

    def __init__(self, features: nn.Sequential, num_classes: int) -> None:
        super().__init__()
        self.features = features
        self.pool = GlobalAvgPool2d()
        self.fc = nn.Linear(512, num_classes)
        kaiming_normal_(self)
        uniform_batch_norm_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 32x32 and 28x28 inputs leave 2x2 maps after four pools; OpenLTH averages them
        # with avg_pool2d(2), which is the global average pool on 2x2 maps, bit for bit.
        return self.fc(self.pool(self.features(x)).flatten(1))


def vgg16(*, batch_norm: bool = True, num_classes: int = 10, in_channels: int = 3) -> OpenLTHVGG:
    """VGG-16 for CIFAR-10 as in OpenLTH's ``cifar_vgg_16`` (Frankle 2020, §2).

    :data:`VGG_16` convolutions with batch norm and ReLU (no pool after the last three),
    the average of the remaining 2×2 maps (OpenLTH's 2×2 average pool; here the global
    average, the same on 2×2 maps) and a single 512→10 linear layer:
    14,728,266 parameters with batch norm. Initialisation is OpenLTH's default: He-normal
    conv and linear weights, PyTorch-default biases, batch-norm scales U[0, 1).
    Built for 3×32×32 inputs, it takes any size (see the module docstring); pools
    round up.

    Parameters
    ----------
    batch_norm : bool
        Batch norm after every convolution (OpenLTH always has it).
    num_classes : int
        Outputs of the single linear layer.
    in_channels : int
        Channels of the input image (3 for CIFAR-10, 1 for MNIST).

    Returns
    -------
    OpenLTHVGG
        With ``features`` (the convolutions) and ``fc``.

    Examples
    --------
    >>> sum(p.numel() for p in vgg16().parameters())
    14728266
    >>> import torch
    >>> vgg16(in_channels=1).eval()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    positive_int(num_classes, "num_classes")
    positive_int(in_channels, "in_channels")
    features = _features(VGG_16, in_channels=in_channels, batch_norm=batch_norm, eps=1e-5,
                         dropout={})
    return OpenLTHVGG(features, num_classes)


def vgg16_dropout(
    *, batch_norm: bool = True, dropout: bool = True, num_classes: int = 10, in_channels: int = 3
) -> nn.Sequential:
    """Im et al. (2016)'s VGG: ``vgg_bn_drop.lua`` of Zagoruyko's ``cifar.torch`` (§3.4).

    :data:`VGG_16` convolutions with batch norm (eps 1e-3) and ReLU, dropout after the
    first convolution of each block and after the middle ones (p=0.3 after the first
    layer, 0.4 elsewhere), five 2×2 max-pools rounding up (one more than OpenLTH's,
    leaving 1×1 maps; the fifth is a global max-pool, the same on the 2×2 maps CIFAR-10
    and MNIST leave), then a classifier ``dropout 0.5 – linear 512→512 – batch norm –
    ReLU – dropout 0.5 – linear 512→10``: 14,991,946 parameters. Initialisation as in
    ``cifar.torch``: conv weights N(0, 2/(9·c_out)) (He et al. 2015 with fan-out), conv
    biases zero, batch-norm scales U[0, 1) (Torch7's default), linear layers Torch7's (=
    PyTorch's) default. With ``batch_norm=False`` the classifier's batch norm goes too.
    Built for 3×32×32 inputs, it takes any size (see the module docstring).

    Parameters
    ----------
    batch_norm : bool
        Batch norm after every convolution and in the classifier.
    dropout : bool
        Without it every dropout layer is left out.
    num_classes : int
        Outputs of the last linear layer.
    in_channels : int
        Channels of the input image (3 for CIFAR-10, 1 for MNIST).

    Returns
    -------
    torch.nn.Sequential
        Convolutional features, ``Flatten`` and the classifier, in one sequence.

    Examples
    --------
    >>> sum(p.numel() for p in vgg16_dropout().parameters())
    14991946
    """
    positive_int(num_classes, "num_classes")
    positive_int(in_channels, "in_channels")
    drops = _DROPOUT_AFTER if dropout else {}
    features = _features((*VGG_16, "G"), in_channels=in_channels, batch_norm=batch_norm,
                         eps=1e-3, dropout=drops)
    head: list[nn.Module] = [nn.Flatten(), nn.Dropout(0.5), nn.Linear(512, 512)]
    head += [nn.BatchNorm1d(512, eps=1e-3)] if batch_norm else []
    head += [nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, num_classes)]
    model = nn.Sequential(*features, *(m for m in head if dropout or not isinstance(m, nn.Dropout)))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            nn.init.zeros_(module.bias)
    return uniform_batch_norm_(model)
