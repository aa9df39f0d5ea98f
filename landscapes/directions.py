"""Random directions in parameter space for 2-D slices (Li et al. 2018).

A raw Gaussian direction is dominated by the layers with the most parameters and
ignores the scale invariance of ReLU networks, so Li et al. (2018, §4, "Visualizing
the Loss Landscape of Neural Nets") rescale it *filter-wise*: for every filter i of
every layer, d_i ← d_i · ‖θ_i‖ / ‖d_i‖, where a filter is one slice along the first
(output) dimension of a weight tensor. Layer-wise normalisation rescales whole tensors
instead.

One-dimensional entries -- biases, normalisation-layer weights and biases, batch
norm's running statistics -- have no filters. Li et al. either zero their direction
(their ``ignore='biasbn'`` option, which keeps them at the centre's values) or set it
to the parameter itself (their default); both are offered, plus a normalised random
direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

from landscapes.anchors import Anchor, is_interpolated

__all__ = ["NORMALIZATIONS", "BIAS_BN", "random_direction", "orthogonalize"]

#: Allowed ``normalization`` values.
NORMALIZATIONS = ("filter", "layer", None)
#: Allowed ``bias_bn`` values.
BIAS_BN = ("zero", "copy", "normalize")

_EPS = 1e-10


def _check_choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose from {list(choices)}")


def random_direction(
    center: Mapping[str, torch.Tensor],
    *,
    seed: int,
    normalization: Literal["filter", "layer"] | None = "filter",
    bias_bn: Literal["zero", "copy", "normalize"] = "zero",
) -> Anchor:
    """A seeded Gaussian direction shaped like ``center``, normalised to its scale.

    Parameters
    ----------
    center : mapping of str to tensor
        The point the direction starts from; its per-filter norms set the scale.
    seed : int
        Seed of the CPU generator; the same seed gives the same direction on any device.
    normalization : {"filter", "layer", None}
        Filter-wise (Li et al. 2018), whole-tensor, or none (raw N(0, 1) entries).
    bias_bn : {"zero", "copy", "normalize"}
        Direction for entries with at most one dimension: zero (they stay at the
        centre), the entry itself, or a Gaussian rescaled to the entry's norm.

    Returns
    -------
    dict of str to torch.Tensor
        Zero on integer entries (they are not interpolated).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 2)
    >>> d = random_direction(net.state_dict(), seed=0)
    >>> torch.allclose(d["weight"].norm(dim=1), net.weight.detach().norm(dim=1))
    True
    >>> bool((d["bias"] == 0).all())
    True
    """
    _check_choice("normalization", normalization, NORMALIZATIONS)
    _check_choice("bias_bn", bias_bn, BIAS_BN)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    gen = torch.Generator().manual_seed(seed)
    out: Anchor = {}
    for key, theta in center.items():
        if not is_interpolated(theta):
            out[key] = torch.zeros_like(theta)
            continue
        # Draw for every floating entry, even zeroed ones, so that a direction does not
        # depend on the bias_bn choice for the other entries.
        d = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
        ref = theta.detach().to("cpu", torch.float64)
        if theta.dim() <= 1:
            if bias_bn == "zero":
                d = torch.zeros_like(d)
            elif bias_bn == "copy":
                d = ref.clone()
            else:
                d = d * (ref.norm() / (d.norm() + _EPS))
        elif normalization == "filter":
            dn = d.reshape(d.shape[0], -1).norm(dim=1)
            tn = ref.reshape(ref.shape[0], -1).norm(dim=1)
            d = d * (tn / (dn + _EPS)).reshape((-1,) + (1,) * (d.dim() - 1))
        elif normalization == "layer":
            d = d * (ref.norm() / (d.norm() + _EPS))
        out[key] = d.to(theta.device, theta.dtype)
    return out


def orthogonalize(d1: Mapping[str, torch.Tensor], d2: Mapping[str, torch.Tensor]) -> Anchor:
    """Remove from ``d2`` its component along ``d1``, keeping ``d2``'s norm.

    One Gram--Schmidt step over all floating-point entries together (the inner product
    of the flattened parameter vectors). Keeping the norm keeps the β axis on the same
    scale as before; per-filter norms change slightly.

    Parameters
    ----------
    d1, d2 : mapping of str to tensor
        Directions with the same keys and shapes.

    Returns
    -------
    dict of str to torch.Tensor
        The new second direction.

    Examples
    --------
    >>> import torch
    >>> d1 = {"w": torch.tensor([1.0, 0.0])}
    >>> orthogonalize(d1, {"w": torch.tensor([1.0, 1.0])})["w"]
    tensor([0.0000, 1.4142])
    """
    keys = [k for k, v in d1.items() if is_interpolated(v)]
    dot = sum(float((d1[k].double() * d2[k].double()).sum()) for k in keys)
    n1 = sum(float((d1[k].double() ** 2).sum()) for k in keys)
    n2 = sum(float((d2[k].double() ** 2).sum()) for k in keys)
    if n1 <= 0:
        raise ValueError("cannot orthogonalise against a zero direction d1")
    out: Anchor = {}
    residual_sq = 0.0
    for key, v in d2.items():
        if key in keys:
            r = v.double() - (dot / n1) * d1[key].double()
            residual_sq += float((r**2).sum())
            out[key] = r
        else:
            out[key] = v.clone()
    if residual_sq <= _EPS * max(n2, 1.0):
        raise ValueError("d2 is parallel to d1: no orthogonal component is left")
    scale = (n2 / residual_sq) ** 0.5
    return {
        k: (v * scale).to(d2[k].dtype) if k in keys else v for k, v in out.items()
    }
