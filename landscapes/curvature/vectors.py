"""Flat Hessian eigenvectors as directions shaped like the state dict."""

from __future__ import annotations

import torch

from landscapes.anchors import Anchor
from landscapes.curvature.objective import Objective
from landscapes.engine.point_measures import PointContext

__all__ = ["unit_direction"]


def unit_direction(ctx: PointContext, objective: Objective, flat: torch.Tensor) -> Anchor:
    """A flat eigenvector as a direction shaped like the state dict, sign fixed."""
    # An eigenvector's sign is arbitrary; make its largest entry positive, so that the
    # same seed gives the same direction, whatever the device.
    flat = flat * (1.0 if float(flat[flat.abs().argmax()]) >= 0 else -1.0)
    parts = objective.unflatten(flat.detach())
    out: Anchor = {}
    for key, value in ctx.state.items():
        out[key] = parts[key].clone() if key in parts else torch.zeros_like(value)
    for group in ctx.tied:
        for name in group[1:]:
            out[name] = out[group[0]]
    return out
