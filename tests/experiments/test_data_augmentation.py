"""CIFAR pad-and-crop and flip on tensors: exact copies, seeded, flips half."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from experiments.data import augment_cifar


def explanations(x: torch.Tensor, out: torch.Tensor, padding: int) -> list[list[tuple]]:
    """For each image, every (dy, dx, flipped) for which out is that crop of padded x."""
    padded = F.pad(x, (padding,) * 4)
    h, w = x.shape[2:]
    found: list[list[tuple]] = [[] for _ in range(len(x))]
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[:, :, dy:dy + h, dx:dx + w]
            for flipped, candidate in ((False, crop), (True, crop.flip(3))):
                for i in torch.nonzero((candidate == out).flatten(1).all(1)).flatten().tolist():
                    found[i].append((dy, dx, flipped))
    return found


def test_each_output_is_a_shifted_or_mirrored_copy_of_its_input():
    x = torch.randn(48, 3, 32, 32)
    before = x.clone()
    out = augment_cifar(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(x, before)
    found = explanations(x, out, 4)
    assert all(len(f) == 1 for f in found)  # random pixels: exactly one explanation
    shifts = {f[0][:2] for f in found}
    assert len(shifts) > 10  # the offsets vary from image to image


def test_same_seed_same_augmentation_and_flips_about_half():
    x = torch.randn(2000, 1, 5, 5)
    a = augment_cifar(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, augment_cifar(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, augment_cifar(x, torch.Generator().manual_seed(4)))
    found = explanations(x, a, 4)
    assert all(len(f) == 1 for f in found)
    flipped = sum(f[0][2] for f in found) / len(found)
    assert 0.45 < flipped < 0.55  # binomial(2000, 1/2): 4.5 standard deviations
    offsets = {f[0][0] for f in found} | {f[0][1] for f in found}
    assert offsets == set(range(9))  # every shift from -4 to 4 occurs


def test_without_flip_or_padding():
    x = torch.randn(64, 3, 8, 8)
    same = augment_cifar(x, torch.Generator().manual_seed(0), padding=0, flip=False)
    assert torch.equal(same, x)
    mirrored = augment_cifar(x, torch.Generator().manual_seed(0), padding=0)
    is_flipped = [torch.equal(m, xi.flip(2)) for m, xi in zip(mirrored, x)]
    assert all(f or torch.equal(m, xi) for f, m, xi in zip(is_flipped, mirrored, x))
    assert 0 < sum(is_flipped) < len(x)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(3, 8, 8\)"):
        augment_cifar(x[0])
    with pytest.raises(ValueError, match="padding must be a non-negative int, got -1"):
        augment_cifar(x, padding=-1)
