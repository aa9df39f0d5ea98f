"""Learning-rate schedules counted in iterations, as torch ``LambdaLR`` schedulers.

Call ``scheduler.step()`` once per iteration, after ``optimizer.step()``; the learning
rate of iteration ``t`` (counting from 0) is the base rate times ``factor(t)``. The
factors are small picklable dataclasses rather than lambdas, so ``state_dict()``
carries them and a resumed run continues with the same schedule.

* :func:`make_schedule` — OpenLTH's (Frankle 2020 §2): a linear warmup and drops by
  ``gamma`` at milestones; durations are written ``"80ep,120ep"`` or ``"1000it"``
  (:func:`parse_steps`).
* :func:`make_epoch_decay_schedule` — Zaremba et al.'s (2014) Penn Treebank LSTM
  schedule: constant for some epochs, then divided by a factor every epoch.
"""

from __future__ import annotations

import bisect
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = [
    "WarmupMilestones",
    "EpochDecay",
    "make_schedule",
    "make_epoch_decay_schedule",
    "parse_step",
    "parse_steps",
]

_STEP = re.compile(r"^(?:(\d+(?:\.\d+)?)ep)?(?:(\d+)it)?$")


@dataclass(frozen=True)
class WarmupMilestones:
    """``factor(t) = min(1, t / warmup) · gamma ** (number of milestones ≤ t)``.

    Exactly OpenLTH's ``get_lr_schedule`` (Frankle 2020): with warmup the first
    iteration has learning rate 0, and the drop at milestone ``m`` applies from
    iteration ``m`` on.

    Examples
    --------
    >>> factor = WarmupMilestones(milestones=(3,), gamma=0.5, warmup=2)
    >>> [factor(t) for t in range(5)]
    [0.0, 0.5, 1.0, 0.5, 0.5]
    """

    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup: int = 0

    def __call__(self, iteration: int) -> float:
        factor = self.gamma ** bisect.bisect_right(self.milestones, iteration)
        if self.warmup:
            factor *= min(1.0, iteration / self.warmup)
        return factor


@dataclass(frozen=True)
class EpochDecay:
    """``factor(t) = decay_factor ** −max(0, t // iterations_per_epoch − decay_after + 1)``.

    The first ``decay_after`` epochs (0 … decay_after − 1) run at the base rate; each
    later epoch divides it once more by ``decay_factor`` (Zaremba et al. 2014, as in
    their TensorFlow PTB port: ``lr_decay ** max(i + 1 − max_epoch, 0)``).

    Examples
    --------
    >>> factor = EpochDecay(decay_after=2, decay_factor=2.0, iterations_per_epoch=10)
    >>> [factor(t) for t in (0, 19, 20, 29, 30)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    decay_after: int
    decay_factor: float
    iterations_per_epoch: int

    def __call__(self, iteration: int) -> float:
        epoch = iteration // self.iterations_per_epoch
        return self.decay_factor ** -max(0, epoch - self.decay_after + 1)


def make_schedule(
    optimizer: Optimizer,
    *,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup: int = 0,
) -> LambdaLR:
    """OpenLTH's schedule: linear warmup, then multiply by ``gamma`` at each milestone.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    milestones : sequence of int
        Strictly increasing iterations (≥ 0) at which the rate is multiplied by
        ``gamma``; from epochs, use :func:`parse_steps`.
    gamma : float
        Factor per milestone (> 0), 0.1 in OpenLTH's CIFAR and ImageNet runs.
    warmup : int
        Iterations of linear warmup from 0 (≥ 0; 0 for none), e.g. 5 epochs on ImageNet.

    Returns
    -------
    torch.optim.lr_scheduler.LambdaLR
        Step it once per iteration.

    Examples
    --------
    >>> import torch
    >>> w = torch.zeros(1, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> scheduler = make_schedule(opt, milestones=parse_steps("2ep,3ep", 2), warmup=2)
    >>> lrs = []
    >>> for _ in range(7):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 6))
    ...     opt.step()
    ...     scheduler.step()
    >>> lrs
    [0.0, 0.05, 0.1, 0.1, 0.01, 0.01, 0.001]
    """
    milestones = tuple(milestones)
    if not all(_is_int(m) and m >= 0 for m in milestones) or any(
        a >= b for a, b in zip(milestones, milestones[1:])
    ):
        raise ValueError(
            f"milestones must be strictly increasing iterations ≥ 0, got {milestones!r}"
        )
    if not (_is_number(gamma) and 0 < gamma < math.inf):
        raise ValueError(f"gamma must be a number > 0, got {gamma!r}")
    if not (_is_int(warmup) and warmup >= 0):
        raise ValueError(f"warmup must be a whole number of iterations ≥ 0, got {warmup!r}")
    factor = WarmupMilestones(tuple(int(m) for m in milestones), float(gamma), int(warmup))
    return LambdaLR(optimizer, factor)


def make_epoch_decay_schedule(
    optimizer: Optimizer,
    *,
    decay_after: int,
    decay_factor: float,
    iterations_per_epoch: int,
) -> LambdaLR:
    """Zaremba et al.'s (2014) PTB schedule: constant, then divided by a factor each epoch.

    Their LSTMs use SGD at lr 1: small, ``decay_after=4, decay_factor=2`` (13
    epochs); medium, ``6, 1.2`` (39 epochs); large, ``14, 1.15`` (55 epochs).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    decay_after : int
        Epochs at the base rate (≥ 0).
    decay_factor : float
        Divisor applied at the start of each later epoch (≥ 1).
    iterations_per_epoch : int
        ≥ 1.

    Returns
    -------
    torch.optim.lr_scheduler.LambdaLR
        Its factor is an :class:`EpochDecay`; step it once per iteration.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> scheduler = make_epoch_decay_schedule(opt, decay_after=1, decay_factor=2.0,
    ...                                       iterations_per_epoch=3)
    >>> [scheduler.lr_lambdas[0](t) for t in range(0, 9, 3)]
    [1.0, 0.5, 0.25]
    """
    if not (_is_int(decay_after) and decay_after >= 0):
        raise ValueError(f"decay_after must be a whole number of epochs ≥ 0, got {decay_after!r}")
    if not (_is_number(decay_factor) and 1 <= decay_factor < math.inf):
        raise ValueError(f"decay_factor must be a number ≥ 1, got {decay_factor!r}")
    _check_per_epoch(iterations_per_epoch)
    factor = EpochDecay(int(decay_after), float(decay_factor), int(iterations_per_epoch))
    return LambdaLR(optimizer, factor)


def parse_step(text: str, iterations_per_epoch: int) -> int:
    """Iterations in an OpenLTH step string: ``"80ep"``, ``"1000it"`` or ``"2ep50it"``.

    Fractional epochs (``"1.5ep"``) round to the nearest iteration.

    Examples
    --------
    >>> parse_step("80ep", 391), parse_step("1000it", 391), parse_step("2ep50it", 391)
    (31280, 1000, 832)
    >>> parse_step("80 epochs", 391)
    Traceback (most recent call last):
    ...
    ValueError: bad step '80 epochs'; write e.g. '80ep' (epochs), '1000it' (iterations) or '2ep50it'
    """
    _check_per_epoch(iterations_per_epoch)
    match = _STEP.match(text.strip()) if isinstance(text, str) else None
    if match is None or match.group(1) is None and match.group(2) is None:
        raise ValueError(
            f"bad step {text!r}; write e.g. '80ep' (epochs), '1000it' (iterations) or '2ep50it'"
        )
    epochs, iterations = match.group(1), match.group(2)
    return round(float(epochs or 0) * iterations_per_epoch) + int(iterations or 0)


def parse_steps(text: str, iterations_per_epoch: int) -> tuple[int, ...]:
    """Iterations in a comma-separated list of steps, e.g. OpenLTH's ``"80ep,120ep"``.

    Examples
    --------
    >>> parse_steps("80ep,120ep", 391)
    (31280, 46920)
    >>> parse_steps("", 391)
    ()
    """
    return tuple(parse_step(part, iterations_per_epoch) for part in text.split(",") if part.strip())


def _check_per_epoch(iterations_per_epoch: int) -> None:
    if not (_is_int(iterations_per_epoch) and iterations_per_epoch >= 1):
        raise ValueError(
            f"iterations_per_epoch must be an integer ≥ 1, got {iterations_per_epoch!r}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
