"""Hessian eigenvectors as directions for :mod:`landscapes.paths`.

Landscaper and loss-landscape-3d draw the loss along the top Hessian eigenvectors at a
solution, the axes of sharpest curvature, rather than along random directions. Here
the eigenvectors from :func:`landscapes.curvature.eigenvalues` become directions shaped
like the state dict, unit vectors or normalised per filter as Li et al. (2018) scale
random directions, and :func:`line` and :func:`plane` make paths of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from landscapes import paths
from landscapes.anchors import Anchor, as_anchor
from landscapes.curvature.estimators import COMMON, eigenvalues
from landscapes.directions import NORMALIZATIONS

__all__ = ["directions", "normalise", "line", "plane"]




def directions(
    model: nn.Module,
    data: Any,
    *,
    k: int = 2,
    which: str = "largest",
    normalization: str | None = None,
    bias_bn: str | None = None,
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    seed: int = 0,
    tol: float = 1e-3,
    max_iter: int = 100,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> list[Anchor]:
    """The top (or bottom) k Hessian eigenvectors as directions for :mod:`landscapes.paths`.

    Parameters
    ----------
    {common}
    k, which, seed, tol, max_iter
        As :func:`eigenvalues`.
    normalization : {{"filter", "layer", None}}
        ``None``: unit eigenvectors (‖d‖ = 1 over all parameters, the axes of
        landscaper and loss-landscape-3d); ``"filter"``: each filter rescaled to the
        norm of the point's filter, d_i ← d_i·‖θ_i‖/‖d_i‖ (Li et al. 2018);
        ``"layer"``: each tensor rescaled to the point's tensor norm.
    bias_bn : {{"keep", "zero"}}, optional
        One-dimensional entries (biases, normalisation parameters): the eigenvector's
        own components, or zero; default ``"keep"`` unnormalised and ``"zero"``
        normalised (as Li et al. treat them).

    Returns
    -------
    list of dict of str to tensor
        k directions shaped like the state dict (zero on buffers and integer entries,
        a tied tensor the same under each name), on the CPU in the point's dtype.

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature, paths
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> d1, d2 = curvature.directions(net, (x, y), k=2, device="cpu")
    >>> p = paths.plane(net, d1, d2, [-1, 0, 1], [-1, 0, 1])
    >>> p.shape
    (3, 3)
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; choose from {list(NORMALIZATIONS)}")
    if bias_bn not in (None, "keep", "zero"):
        raise ValueError(f"unknown bias_bn {bias_bn!r}; choose from [None, 'keep', 'zero']")
    if which not in ("largest", "smallest"):
        raise ValueError(f"unknown which {which!r}; choose from ['largest', 'smallest']")
    _, found = eigenvalues(model, data, k=k, which=which, point=point, loss_fn=loss_fn, bn=bn, output=output,
                           vectors=True, seed=seed, tol=tol, max_iter=max_iter, dtype=dtype, device=device,
                           batch_size=batch_size, bn_batches=bn_batches, bn_data=bn_data)
    rule = bias_bn or ("keep" if normalization is None else "zero")
    center = dict(model.state_dict()) if point is None else {**model.state_dict(), **dict(point)}
    return [normalise(d, center, normalization, rule) for d in found[which]]


def normalise(d: Anchor, center: Mapping[str, torch.Tensor], normalization: str | None, rule: str) -> Anchor:
    """``d`` scaled as :func:`directions` scales eigenvectors: per filter or per tensor to
    ``center``'s norms (or unchanged for ``None``), one-dimensional entries kept or zeroed
    by ``rule`` ("keep"/"zero"); on the CPU."""
    out: Anchor = {}
    for key, v in d.items():
        v = v.detach().cpu()
        ref = center[key].detach().to("cpu", v.dtype) if key in center else None
        if not v.is_floating_point() or ref is None:
            out[key] = v
        elif v.dim() <= 1:
            out[key] = torch.zeros_like(v) if rule == "zero" else v.clone()
        elif normalization == "filter":
            dn = v.reshape(v.shape[0], -1).norm(dim=1)
            tn = ref.reshape(ref.shape[0], -1).norm(dim=1)
            out[key] = v * (tn / (dn + 1e-10)).reshape((-1,) + (1,) * (v.dim() - 1))
        elif normalization == "layer":
            out[key] = v * (ref.norm() / (v.norm() + 1e-10))
        else:
            out[key] = v.clone()
    # A tied tensor stays one direction under each of its names.
    for first, *others in _ties(d):
        for name in others:
            out[name] = out[first]
    return out


def _ties(d: Anchor) -> list[tuple[str, ...]]:
    seen: dict[int, list[str]] = {}
    for key, v in d.items():
        seen.setdefault(id(v), []).append(key)
    return [tuple(g) for g in seen.values() if len(g) > 1]


def line(model: nn.Module, data: Any, alphas: Any, *, index: int = 0, **options: Any):
    """The line θ(α) = θ + α·d along the ``index``-th Hessian eigenvector d.

    Takes :func:`directions`' options (``k`` defaults to ``index + 1``). Returns a
    :class:`landscapes.paths.Path` with dimension ``alpha``, anchors
    ``("center", "eigenvector")`` and coefficients ``[1, α]``: evaluate it with
    :func:`landscapes.evaluate`.

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> curvature.line(net, (x, y), [-1.0, 0.0, 1.0], device="cpu").shape
    (3,)
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    options.setdefault("k", index + 1)
    d = directions(model, data, **options)[index]
    point = options.get("point")
    center = as_anchor(model) if point is None else {**as_anchor(model), **as_anchor(point, "point")}
    alpha = paths._as_grid(alphas, "alphas")
    coef = np.stack([np.ones_like(alpha), alpha], axis=1)
    info = {"direction": "hessian eigenvector", "index": index, "which": options.get("which", "largest"),
            "normalization": options.get("normalization")}
    return paths.Path((center, d), ("center", "eigenvector"), coef, ("alpha",), {"alpha": alpha},
                      np.array([1.0, 0.0]), "eigenline", info, affine=False)


def plane(model: nn.Module, data: Any, alphas: Any = None, betas: Any = None, **options: Any):
    """The plane θ + α·d₁ + β·d₂ along the top two Hessian eigenvectors.

    Takes :func:`directions`' options; returns :func:`landscapes.paths.plane`'s path
    (as landscaper and loss-landscape-3d draw it).

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> curvature.plane(net, (x, y), [-1.0, 1.0], [-1.0, 1.0], device="cpu").shape
    (2, 2)
    """
    options["k"] = 2
    d1, d2 = directions(model, data, **options)[:2]
    center = model if options.get("point") is None else {**model.state_dict(), **dict(options["point"])}
    return paths.plane(center, d1, d2, alphas, betas)




def _doc() -> None:
    directions.__doc__ = directions.__doc__.replace("{common}", COMMON).replace("{{", "{").replace("}}", "}")


_doc()
