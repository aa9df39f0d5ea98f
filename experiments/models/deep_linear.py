"""Deep linear networks as torch modules, parameter for parameter the closed forms' systems.

:mod:`theory.deep_linear` solves y = W_L ⋯ W_1 x exactly; this is the same function as a
network the evaluation engine can run, so the engine's numbers can be checked against
the closed form (the way neural-tangents checks kernels against sampled networks). The
weights are laid out as theory's flat vectors: W_1 first, each row-major, so
:func:`state_from_vector` turns a theory point into a ``state_dict``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DeepLinear", "state_from_vector", "squared_error"]


class DeepLinear(nn.Module):
    """y = W_L ⋯ W_1 x with ``depth`` square ``width`` × ``width`` layers and no biases.

    Depth 2 and width 1 is Goodfellow et al.'s (2015, §5) scalar model y = w1·w2·x.

    Parameters
    ----------
    depth, width : int
        L and n.
    dtype : torch.dtype
        Parameter dtype; float64 for agreement with the closed form.

    Examples
    --------
    >>> net = DeepLinear(2, 1)
    >>> net.load_state_dict(state_from_vector([2.0, 3.0], 2, 1))
    <All keys matched successfully>
    >>> float(net(torch.ones(1, 1, dtype=torch.float64)))
    6.0
    """

    def __init__(self, depth: int, width: int, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got {depth!r} and {width!r}")
        self.layers = nn.Sequential(
            *(nn.Linear(width, width, bias=False, dtype=dtype) for _ in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def state_from_vector(vector: object, depth: int, width: int) -> dict[str, torch.Tensor]:
    """Theory's flat parameter vector (W_1 first, row-major) as a ``state_dict`` (float64)."""
    theta = torch.as_tensor(vector, dtype=torch.float64).reshape(depth, width, width)
    return {f"layers.{l}.weight": theta[l].clone() for l in range(depth)}


def squared_error(kappa: float = 1.0):  # noqa: ANN201 -- a loss function
    """The closed forms' loss κ/N Σ_i ‖f(x_i) − y_i‖² as a batch-mean ``loss_fn``.

    Examples
    --------
    >>> loss = squared_error(0.5)
    >>> float(loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])))
    2.5
    """

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return kappa * ((outputs - targets) ** 2).sum(dim=-1).mean()

    loss.__name__ = f"squared_error_kappa_{kappa:g}"
    return loss
