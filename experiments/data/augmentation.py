"""CIFAR data augmentation on whole batches of tensors, seeded."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["augment_cifar"]


def augment_cifar(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    padding: int = 4,
    flip: bool = True,
) -> torch.Tensor:
    """Random pad-and-crop and horizontal flip of every image in a batch, in one gather.

    The standard CIFAR augmentation (He et al. 2016, as in OpenLTH, which Frankle 2020
    uses): pad each image with ``padding`` zeros on every side, crop a window of the
    original size at a uniformly random offset, and mirror it left-right with
    probability 1/2. Each image draws its own offset and flip.

    Parameters
    ----------
    x : torch.Tensor
        Images, shape (N, C, H, W), on any device.
    generator : torch.Generator, optional
        Source of the offsets and flips: the same seed gives the same augmentation.
        Default: torch's global generator.
    padding : int
        Largest shift in pixels, in each direction. The padding is zero, which for
        standardised images is the mean colour (torchvision pads black pixels before
        standardising).
    flip : bool
        Also mirror half of the images.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``; ``x`` is not modified.

    Examples
    --------
    >>> x = torch.arange(16.0).view(1, 1, 4, 4)
    >>> y = augment_cifar(x, torch.Generator().manual_seed(0), padding=1)
    >>> y.shape
    torch.Size([1, 1, 4, 4])
    >>> torch.equal(augment_cifar(x, torch.Generator().manual_seed(0), padding=1), y)
    True
    """
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got shape {tuple(x.shape)!r}")
    if padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    n, c, h, w = x.shape
    draw = generator.device if generator is not None else torch.device("cpu")
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=draw)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=draw)
    mirrored = torch.rand(n, 1, generator=generator, device=draw) < 0.5
    rows = (dy + torch.arange(h, device=draw)).to(x.device)
    cols = dx + torch.arange(w, device=draw)
    if flip:
        cols = torch.where(mirrored, cols.flip(1), cols)
    cols = cols.to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))
    # One advanced-indexing gather: out[i, k, r, s] = padded[i, k, rows[i, r], cols[i, s]].
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]
