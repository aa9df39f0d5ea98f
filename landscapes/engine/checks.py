"""Checks of user input shared by the engine's public entry points (one clear line each)."""

from __future__ import annotations

from typing import Any

from torch import nn

from landscapes.anchors import Anchor

__all__ = ["describe_fn", "check_callable", "check_loss_fn", "check_model_keys"]


def describe_fn(fn: Any) -> str:
    """A callable's name as results record it (its ``__name__``, else its class's)."""
    return getattr(fn, "__name__", None) or type(fn).__name__


def check_callable(name: str, fn: Any) -> None:
    """Raise ``TypeError`` unless ``fn`` can be called as ``fn(outputs, targets)``."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable as {name}(outputs, targets), got {fn!r}")


def check_loss_fn(loss_fn: Any) -> Any:
    """``loss_fn``, or :class:`torch.nn.CrossEntropyLoss` for ``None``, checked: callable,
    and reducing each batch to one number (``reduction`` ``"mean"`` or ``"sum"``)."""
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    check_callable("loss_fn", loss_fn)
    if getattr(loss_fn, "reduction", "mean") not in ("mean", "sum"):
        raise ValueError(
            f"loss_fn has reduction={loss_fn.reduction!r}; use 'mean' (or 'sum') so each "
            "batch gives one number"
        )
    return loss_fn


def check_model_keys(model: nn.Module, anchor: Anchor, what: str) -> None:
    """Raise ``ValueError`` unless every entry of ``anchor`` is one of the model's, with
    its shape and its kind of dtype (floating point or not)."""
    state = model.state_dict()
    for key, value in anchor.items():
        if key not in state:
            raise ValueError(
                f"{what} tensor {key!r} is not in the model's state_dict; the model has "
                f"{sorted(state)[:8]!r}{'...' if len(state) > 8 else ''}"
            )
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(
                f"{what} tensor {key!r} has shape {tuple(value.shape)!r} but the model's has "
                f"{tuple(state[key].shape)!r}"
            )
        if state[key].is_floating_point() != value.is_floating_point():
            raise ValueError(
                f"{what} tensor {key!r} has dtype {value.dtype} but the model's has "
                f"{state[key].dtype}; a floating-point entry cannot stand for an integer one "
                "or the reverse"
            )
