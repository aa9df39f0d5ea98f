"""Network in Network (Lin et al. 2014) for CIFAR-10, as Im et al. (2016) ran it.

Im et al. (2016, §3.4) use the NIN of Zagoruyko's ``cifar.torch`` (``models/nin.lua``),
a batch-normalised version of Lin et al.'s CIFAR-10 network.

Other image sizes. The first convolution takes the dataset's channels, the two 3×3/2
pools round up as in ``nin.lua`` (32→16→8 on CIFAR-10, 28→14→7 on MNIST), and the
last pool averages whatever map is left: ``nin.lua``'s 8×8 average pool is exactly
that on CIFAR-10, and on 28×28 images it averages the 7×7 map. A fixed 8×8 pool would
not fit a 7×7 map; padding the image to 32×32 instead would cost ≈ 1.3× the compute.
"""

from __future__ import annotations

from torch import nn

from experiments.models.checks import positive_int
from experiments.models.initialization import uniform_batch_norm_
from experiments.models.layers import GlobalAvgPool2d

__all__ = ["nin"]

# (in, out, kernel) of each "mlpconv" stack: a spatial convolution then two 1x1 ones; the
# first input (None) is the image's channels, the last output (None) the classes.
_STACKS = (
    ((None, 192, 5), (192, 160, 1), (160, 96, 1)),
    ((96, 192, 5), (192, 192, 1), (192, 192, 1)),
    ((192, 192, 3), (192, 192, 1), (192, None, 1)),
)


def nin(
    *, batch_norm: bool = True, dropout: bool = True, num_classes: int = 10, in_channels: int = 3
) -> nn.Sequential:
    """Network in Network for 3×32×32 images (``cifar.torch``'s ``nin.lua``), or any size.

    Three mlpconv stacks, each a 5×5, 5×5 or 3×3 "same" convolution followed by two 1×1
    convolutions, every convolution followed by batch norm (eps 1e-3) and ReLU:

    * 192, 160, 96 channels; 3×3/2 max-pool (ceil) to 16×16; dropout 0.5;
    * 192, 192, 192 channels; 3×3/2 average pool (ceil) to 8×8; dropout 0.5;
    * 192, 192, ``num_classes`` channels; global average pool to the logits (8×8 on
      CIFAR-10, 7×7 on 28×28 images).

    The last ReLU comes before the global pool, as in ``nin.lua``, so the logits are
    non-negative. Initialisation as in ``nin.lua``: conv weights N(0, 0.05²), conv biases
    zero, batch-norm scales U[0, 1) (Torch7's default) and shifts zero. With
    ``batch_norm=False`` the batch-norm layers are left out (Im et al. 2016, §4.4 and
    App. A.5 train NIN both ways); without ``dropout`` the two dropout layers are.

    Parameters
    ----------
    batch_norm : bool
        Batch norm after every convolution.
    dropout : bool
        The two p=0.5 dropout layers after the first two pools.
    num_classes : int
        Channels of the last 1×1 convolution, which become the logits.
    in_channels : int
        Channels of the input image (3 for CIFAR-10, 1 for MNIST).

    Returns
    -------
    torch.nn.Sequential
        Ending in a ``Flatten`` of the globally pooled ``num_classes`` channels.

    Examples
    --------
    >>> import torch
    >>> logits = nin().eval()(torch.randn(2, 3, 32, 32))
    >>> logits.shape, bool((logits >= 0).all())
    (torch.Size([2, 10]), True)
    >>> nin(in_channels=1).eval()(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    positive_int(num_classes, "num_classes")
    positive_int(in_channels, "in_channels")
    pools: list[nn.Module] = [
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.AvgPool2d(3, 2, ceil_mode=True),
        GlobalAvgPool2d(),
    ]
    layers: list[nn.Module] = []
    for index, (stack, pool) in enumerate(zip(_STACKS, pools)):
        for c_in, c_out, kernel in stack:
            c_in, c_out = c_in or in_channels, c_out or num_classes
            conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
            nn.init.normal_(conv.weight, 0.0, 0.05)
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.BatchNorm2d(c_out, eps=1e-3)] if batch_norm else [conv]
            layers.append(nn.ReLU())
        layers.append(pool)
        if dropout and index < 2:
            layers.append(nn.Dropout(0.5))
    layers.append(nn.Flatten())
    return uniform_batch_norm_(nn.Sequential(*layers))
