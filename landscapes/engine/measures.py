"""What :func:`landscapes.evaluate` measures at a point, as one float64 row per batch.

The same row function serves the per-point loop and the batched engine (under
:func:`torch.vmap`), so both accumulate exactly the same quantities.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from landscapes.anchors import Anchor
from landscapes.engine.outputs import reader

__all__ = ["Measures", "classification_error", "is_classification", "per_example_loss",
           "example_losses", "label_disagreement", "takes_tensor"]

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Measures:
    """What to measure at each point, already validated."""

    loss_fn: Metric
    error: Metric | str | None
    metrics: dict[str, Metric]
    reference: Anchor | None
    divergence: str
    #: How to read the model's output (:mod:`landscapes.engine.outputs`); ``None``: as is.
    output: str | int | Callable[[object], torch.Tensor] | None = None
    #: The loss per example (``reduction="none"``), when asked for; see
    #: :func:`per_example_loss`.
    per_example: Metric | None = None
    #: Set by the sweep when the runner hands over what the model returns (a dict, a
    #: tuple): the function that reads the tensor from it for torch's own losses, the
    #: ``"auto"`` error and the divergence (``None`` where the output is not a tensor
    #: and ``output`` is unset). ``None``: the runner hands over that tensor itself.
    read: Callable[[Any], torch.Tensor | None] | None = None

    @property
    def given_output(self) -> bool:
        """Whether some measure is the user's own function, which receives what the
        model returns (dict, tuple, ``ModelOutput``) rather than the tensor
        ``output`` reads (:func:`takes_tensor`)."""
        fns = [self.loss_fn, *self.metrics.values(), *([self.error] if callable(self.error) else [])]
        return any(not takes_tensor(fn) for fn in fns)

    @property
    def names(self) -> list[str]:
        # Divergence stays last: the sweep takes the square root of the last column.
        extra = ["disagreement", "divergence"] if self.reference is not None else []
        return ["loss", "error", *self.metrics, *extra]

    @property
    def summed(self) -> bool:
        """Whether the loss sums over the batch instead of averaging."""
        return getattr(self.loss_fn, "reduction", "mean") == "sum"


def takes_tensor(fn: Any) -> bool:
    """Whether ``fn`` is torch's own (a ``torch.nn`` loss module, a function of
    ``torch.nn.functional``, possibly in a :func:`functools.partial`).

    Those take tensors, so they receive the tensor ``output=`` reads; any other
    callable is the user's, written for what their model returns, and receives that.

    Examples
    --------
    >>> import torch
    >>> takes_tensor(torch.nn.CrossEntropyLoss()), takes_tensor(torch.nn.functional.mse_loss)
    (True, True)
    >>> takes_tensor(lambda out, y: torch.nn.functional.cross_entropy(out["logits"], y))
    False
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    owner = type(fn) if isinstance(fn, nn.Module) else fn
    return (getattr(owner, "__module__", None) or "").split(".")[0] == "torch"


def as_returned(outputs: Any) -> Any:
    """What the model returned, unchanged: the reader of a loss of the user's own."""
    return outputs


def loss_reader(loss_fn: Any, output: Any) -> Callable[[Any], Any]:
    """The reader whose result ``loss_fn`` receives: what the model returns for a loss
    of the user's own, the tensor ``output`` reads for torch's (:func:`takes_tensor`)
    and for the built-in loss (``loss_fn=None``) -- the rule of
    :func:`landscapes.evaluate`, for measures that call the loss themselves.

    Examples
    --------
    >>> import torch
    >>> out = {"logits": torch.ones(2)}
    >>> loss_reader(None, "logits")(out), loss_reader(lambda o, y: o, "logits")(out) is out
    (tensor([1., 1.]), True)
    """
    if loss_fn is not None and not takes_tensor(loss_fn):
        return as_returned
    return reader(output)


def _seen(m: Measures, outputs: Any) -> tuple[torch.Tensor | None, Any]:
    """The tensor torch's own measures take (widened, see :func:`widened`; ``None``
    where there is none) and what the user's receive."""
    if m.read is None:
        t = widened(outputs)
        return t, t
    t = m.read(outputs)
    return (None if t is None else widened(t)), outputs


def _needed(tensor: torch.Tensor | None, outputs: Any) -> torch.Tensor:
    """``tensor``, or the clear error that says how to choose one from ``outputs``."""
    if tensor is None:
        return reader(None)(outputs)  # raises: names what the model returned
    return tensor


def is_classification(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """Whether ``outputs`` are class scores (dimension 1) for the integer labels ``targets``."""
    return (
        outputs.dim() >= 2
        and not targets.is_floating_point()
        and targets.shape == outputs.shape[:1] + outputs.shape[2:]
    )


def classification_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Top-1 error of class scores against integer labels; ``None`` when undefined.

    Defined when ``outputs`` has a class dimension at position 1 and ``targets`` are
    integer labels shaped like ``outputs`` without it (``(N, C)`` vs ``(N,)``, or
    ``(N, C, L)`` vs ``(N, L)``).

    Examples
    --------
    >>> import torch
    >>> float(classification_error(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])))
    0.5
    """
    if is_classification(outputs, targets):
        return (outputs.argmax(dim=1) != targets).to(torch.float64).mean()
    return None


def label_disagreement(
    outputs: torch.Tensor, reference: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor | None:
    """Share of predicted labels that differ from the reference network's; ``None`` when
    the outputs are not class scores for ``targets`` (see :func:`is_classification`).

    The label is the argmax over dimension 1, which softmax does not move, so
    ``reference`` may hold raw outputs or probabilities. With ``(N, C, L)`` outputs
    every position's label counts, as in :func:`classification_error`.

    Examples
    --------
    >>> import torch
    >>> out = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    >>> ref = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
    >>> round(float(label_disagreement(out, ref, torch.tensor([0, 0, 0]))), 4)
    0.3333
    """
    if not is_classification(outputs, targets):
        return None
    return (outputs.argmax(dim=1) != reference.argmax(dim=1)).to(torch.float64).mean()


def compare_form(outputs: torch.Tensor, divergence: str) -> torch.Tensor:
    """The quantity ``divergence`` compares: raw outputs or class probabilities."""
    if divergence == "probabilities":
        return torch.softmax(outputs, dim=1)
    return outputs


def widened(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 if it is in a reduced floating-point precision, else unchanged."""
    if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
        return t.float()
    return t


def _float64(value: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(torch.float64).reshape(())
    return torch.tensor(float(value), dtype=torch.float64, device=like.device)


def _cross_entropy_per_example(
    loss_fn: Metric, outputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, str] | None:
    """Cross entropy of every example of ``(N, C)`` scores as logsumexp minus the
    target's score, and the reduction, when ``loss_fn`` is PyTorch's with default
    options; ``None`` otherwise.

    The same quantity ``log_softmax`` then ``nll_loss`` give, to rounding, at about
    half their cost on CPU for a few classes, where it was a tenth of an MNIST sweep.
    """
    if loss_fn is nn.functional.cross_entropy:
        reduction, ignore = "mean", -100
    elif (
        type(loss_fn) is nn.CrossEntropyLoss
        and loss_fn.weight is None
        and loss_fn.label_smoothing == 0
        and loss_fn.reduction in ("mean", "sum")
    ):
        reduction, ignore = loss_fn.reduction, loss_fn.ignore_index
    else:
        return None
    if (
        outputs.dim() != 2
        or targets.dim() != 1
        or targets.dtype != torch.long
        or bool((targets == ignore).any())
    ):
        return None
    return torch.logsumexp(outputs, 1) - outputs.gather(1, targets.unsqueeze(1)).squeeze(1), reduction


def _cross_entropy(loss_fn: Metric, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """The batch's cross entropy by :func:`_cross_entropy_per_example`, or ``None``."""
    found = _cross_entropy_per_example(loss_fn, outputs, targets)
    if found is None:
        return None
    per_example, reduction = found
    return per_example.sum() if reduction == "sum" else per_example.mean()


def row(
    m: Measures,
    outputs: torch.Tensor,
    targets: torch.Tensor,
    ref_out: torch.Tensor | None,
) -> torch.Tensor:
    """The batch's contributions to every measure at one point, in float64.

    Loss, error, metrics and the label disagreement are weighted by the batch size so
    that sums over batches divided by the example count are means over the split; the
    divergence entry is the sum of squared output distances. An undefined error (``error=None``, or one that
    returns ``None``) is NaN. ``outputs`` are cast to float32 at least, so that
    reduced-precision forward passes still accumulate in full precision.

    ``outputs`` is the tensor ``output=`` reads, or, where :attr:`Measures.read` is
    set, what the model returned: the user's own functions then receive it as it
    is, torch's own (:func:`takes_tensor`) and the ``"auto"`` error the tensor read
    from it (the ``"auto"`` error is NaN where there is none to read).
    """
    tensor, given = _seen(m, outputs)
    n = targets.shape[0] if targets.dim() else 1
    if takes_tensor(m.loss_fn):
        t = _needed(tensor, given)
        loss = _cross_entropy(m.loss_fn, t, targets)
        if loss is None:
            loss = m.loss_fn(t, targets)
    else:
        loss = m.loss_fn(given, targets)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(
            f"loss_fn returned {type(loss).__name__} of shape "
            f"{tuple(getattr(loss, 'shape', ()))!r}; it must return one number per batch "
            "(reduction='mean')"
        )
    values = [_float64(loss, targets) * (1 if m.summed else n)]
    if m.error is None or (m.error == "auto" and tensor is None):
        err = None
    elif m.error == "auto":
        err = classification_error(tensor, targets)
    else:
        err = m.error(_needed(tensor, given) if takes_tensor(m.error) else given, targets)  # type: ignore[operator]
    values.append(_float64(math.nan if err is None else err, targets) * n)
    for fn in m.metrics.values():
        values.append(_float64(fn(_needed(tensor, given) if takes_tensor(fn) else given, targets), targets) * n)
    if ref_out is not None:
        t = _needed(tensor, given)
        agree = label_disagreement(t, ref_out, targets)
        values.append(_float64(math.nan if agree is None else agree, targets) * n)
        diff = compare_form(t, m.divergence) - ref_out
        values.append(diff.to(torch.float64).reshape(n, -1).pow(2).sum())
    return torch.stack(values)


def per_example_loss(loss_fn: Metric) -> Metric | None:
    """``loss_fn`` returning one value per example (``reduction="none"``), or ``None``
    for a loss that does not say how it reduces (a plain function).

    Examples
    --------
    >>> import torch
    >>> per_example_loss(torch.nn.MSELoss())(torch.zeros(2, 3), torch.ones(2, 3)).shape
    torch.Size([2, 3])
    >>> per_example_loss(lambda o, t: (o - t).abs().mean()) is None
    True
    """
    if loss_fn is nn.functional.cross_entropy:
        return nn.CrossEntropyLoss(reduction="none")
    if isinstance(loss_fn, nn.Module) and getattr(loss_fn, "reduction", None) in ("mean", "sum"):
        out = copy.copy(loss_fn)
        out.reduction = "none"
        return out
    return None


def example_losses(m: Measures, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The loss of every example at one point, in float64, shape ``(n,)``.

    Each example's value averages (or, for ``reduction="sum"``, sums) its own
    elements, so that the mean over examples is the loss :func:`row` accumulates
    (for losses without class weights or ignored targets, which reweight examples).
    """
    outputs = _needed(*_seen(m, outputs))
    n = targets.shape[0] if targets.dim() else 1
    found = _cross_entropy_per_example(m.loss_fn, outputs, targets)
    per = m.per_example(outputs, targets) if found is None else found[0]  # type: ignore[misc]
    per = per.to(torch.float64).reshape(n, -1)
    return per.sum(1) if m.summed else per.mean(1)
