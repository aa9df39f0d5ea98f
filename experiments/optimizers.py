"""Optimizers by name, including Im et al.'s Runge–Kutta-augmented SGD and Adam.

:data:`OPTIMIZERS` maps a name to a factory and :func:`make_optimizer` builds one with
validated hyperparameters. The defaults are those of Torch7's ``optim`` package (which
PyTorch copied), the library of the ``cifar.torch`` code Im, Tao & Branson (2016, §3.4)
trained with; the paper lists only the learning-rate grids: {0.2, 0.1, 0.05, 0.01} for
SGD, {0.002, 0.001, 0.0005, 0.0001} for the adaptive methods, doubled for the
Runge–Kutta versions because they take two gradients per step. Adadelta needs no
learning rate (Im et al. App. A.2 set η = 1).

=====================  ==============================  ==================================
name                   update                          defaults
=====================  ==============================  ==================================
``sgd``                :class:`torch.optim.SGD`        —
``momentum``           SGD, heavy ball                 ``momentum=0.9``
``nesterov``           SGD, Nesterov                   ``momentum=0.9``
``rmsprop``            :class:`torch.optim.RMSprop`    ``rho=0.99, eps=1e-8``
``adagrad``            :class:`torch.optim.Adagrad`    ``eps=1e-10``
``adadelta``           :class:`torch.optim.Adadelta`   ``rho=0.9, eps=1e-6``
``adam``               :class:`torch.optim.Adam`       ``betas=(0.9, 0.999), eps=1e-8``
``rk_sgd_<method>``    :class:`RungeKutta`             —
``rk_adam_<method>``   :class:`RungeKuttaAdam`         ``betas=(0.9, 0.999), eps=1e-8``
=====================  ==============================  ==================================

``<method>`` is ``midpoint``, ``heun`` or ``ralston`` (:data:`TABLEAUS`); Im et al.'s
"RK2" and "ADAM&RK2" curves are the Ralston ones (their Fig. 8 legends). ``rho`` is the
decay of the running average of squared gradients (RMSprop's ``alpha``, Adadelta's
``rho``). Every optimizer takes ``weight_decay``, an L2 term added to the gradient.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NamedTuple

import torch
from torch.optim import Optimizer

from landscapes.names import unknown_name

__all__ = [
    "Tableau",
    "TABLEAUS",
    "RungeKutta",
    "RungeKuttaAdam",
    "OPTIMIZERS",
    "make_optimizer",
    "needs_closure",
]

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]
Closure = Callable[[], torch.Tensor]


class Tableau(NamedTuple):
    """Coefficients of a two-stage explicit Runge–Kutta method.

    In Im, Tao & Branson (2016, App. A.3, eqs. 18–20) notation, on a vector field X,
    ``θ ← θ + h(a1·k1 + a2·k2)`` with ``k1 = X(θ)`` and ``k2 = X(θ + q1·h·k1)``.
    The method is consistent when ``a1 + a2 = 1`` and second order when also
    ``a2·q1 = 1/2``.
    """

    a1: float
    a2: float
    q1: float


#: Im et al. (2016) Table 3, after Hairer et al. (1987). Their Ralston row,
#: (1/3, 2/3, 3/4), is second order but is not Ralston's (1962) minimum-error method
#: (1/4, 3/4, 2/3), which is kept as ``ralston_1962`` for comparison.
TABLEAUS: dict[str, Tableau] = {
    "midpoint": Tableau(0.0, 1.0, 0.5),
    "heun": Tableau(0.5, 0.5, 1.0),
    "ralston": Tableau(1 / 3, 2 / 3, 3 / 4),
    "ralston_1962": Tableau(1 / 4, 3 / 4, 2 / 3),
}


class RungeKutta(Optimizer):
    """Second-order Runge–Kutta on the gradient flow dθ/dt = −∇L(θ) (Im et al. 2016, App. A.3).

    With step ``h = lr`` and gradient ``g(θ) = ∇L(θ) + weight_decay·θ``, one step is::

        g̃ = a1·g(θ) + a2·g(θ − q1·h·g(θ))        (Im et al. eqs. 18–24)
        θ ← θ − h·g̃

    ``g̃`` is Im et al.'s "RK2 gradient"; :class:`RungeKuttaAdam` feeds it to Adam.
    :meth:`step` needs a closure: it evaluates the loss twice, at θ and at the trial
    point. On a minibatch both gradients use the same batch (the closure's), as the
    two stochastic gradient computations of Im et al. §3.4.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters or parameter groups.
    lr : float
        Step size ``h``, used for the trial point and for the update.
    method : str or Tableau
        A name in :data:`TABLEAUS` or explicit coefficients. Default ``"ralston"``,
        the method of Im et al.'s figures.
    weight_decay : float
        L2 coefficient added to both gradients.

    Examples
    --------
    Heun on L(θ) = θ²/2 from θ = 1 with h = 1/2: g̃ = (1 + 1/2)/2, θ ← 1 − g̃/2.

    >>> theta = torch.ones(1, dtype=torch.float64, requires_grad=True)
    >>> opt = RungeKutta([theta], lr=0.5, method="heun")
    >>> def closure():
    ...     loss = 0.5 * (theta ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)
    >>> loss.item(), theta.item()
    (0.5, 0.625)
    """

    #: Read by :func:`needs_closure`.
    requires_closure = True

    def __init__(
        self,
        params: Params,
        lr: float,
        *,
        method: str | Tableau = "ralston",
        weight_decay: float = 0.0,
    ) -> None:
        _check_hyperparameters(lr=lr, weight_decay=weight_decay)
        tableau = _tableau(method)
        # A plain tuple, so ``torch.load(weights_only=True)`` can read a state_dict back.
        defaults = {"lr": lr, "tableau": tuple(tableau), "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(  # type: ignore[override]
        self, closure: Closure | None = None
    ) -> torch.Tensor:
        """Take one Runge–Kutta step; return the loss at the parameters before it.

        Parameters
        ----------
        closure : callable
            Computes the loss on the current minibatch, calls ``backward()`` and
            returns the loss. It is called twice; gradients are cleared before each
            call, so it need not call ``zero_grad``. Clip gradients inside it. Both
            calls run the model in its current mode: batch-norm running statistics
            are updated twice per step, and dropout draws new masks for the second
            call unless the closure reseeds them.

        Returns
        -------
        torch.Tensor
            The loss at θ. Afterwards the parameters hold the new θ and their
            ``.grad`` the gradient at the old θ (the one that loss belongs to), as
            after ``torch.optim.SGD.step(closure)``.
        """
        if closure is None:
            raise TypeError(
                f"{type(self).__name__}.step() requires a closure: it re-evaluates the "
                "gradient at a trial point (Im et al. 2016 App. A.3). Pass "
                "optimizer.step(closure) with a closure that computes the loss, calls "
                "backward() and returns the loss"
            )
        loss = self._evaluate(closure)
        start: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] = {}
        for group in self.param_groups:
            _, _, q1 = group["tableau"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                theta, grad = p.detach().clone(), p.grad.detach().clone()
                start[p] = theta, grad
                p.add_(grad + group["weight_decay"] * theta, alpha=-q1 * group["lr"])
        self._evaluate(closure)
        for group in self.param_groups:
            a1, a2, _ = group["tableau"]
            decay = group["weight_decay"]
            for p in group["params"]:
                if p not in start:
                    continue
                theta, grad = start[p]
                trial = torch.zeros_like(p) if p.grad is None else p.grad
                # g̃ = a1·g(θ) + a2·g(trial), each gradient with its own weight decay.
                direction = a1 * (grad + decay * theta) + a2 * (trial + decay * p)
                p.copy_(theta)
                p.grad = grad
                self._update(p, direction, group)
        return loss

    def _evaluate(self, closure: Closure) -> torch.Tensor:
        self.zero_grad(set_to_none=True)
        with torch.enable_grad():
            return closure()

    def _update(self, p: torch.Tensor, direction: torch.Tensor, group: dict[str, Any]) -> None:
        p.add_(direction, alpha=-group["lr"])


class RungeKuttaAdam(RungeKutta):
    """Adam driven by the Runge–Kutta gradient ``g̃`` (Im et al. 2016, App. A.3.1, "ADAM&RK2").

    Im et al. "substitute the gradient g_t with g̃_t" (eq. 24): ``g̃`` is computed as in
    :class:`RungeKutta`, on the plain gradient flow with ``h = lr``, and replaces the
    gradient in Adam's moment estimates (Kingma & Ba 2015; Im et al. eq. 17)::

        m ← β1·m + (1 − β1)·g̃,   v ← β2·v + (1 − β2)·g̃²
        θ ← θ − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps)

    Parameters
    ----------
    params, lr, method, weight_decay
        As in :class:`RungeKutta`.
    betas : tuple of float
        (β1, β2), the decays of the first and second moment averages.
    eps : float
        Added to the denominator.

    Examples
    --------
    The first Adam step moves every coordinate by about ``lr`` whatever the gradient:

    >>> theta = torch.tensor([1.0, -4.0], dtype=torch.float64, requires_grad=True)
    >>> opt = RungeKuttaAdam([theta], lr=0.1, method="midpoint")
    >>> def closure():
    ...     loss = 0.5 * (theta ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(x, 6) for x in theta.tolist()]
    [0.9, -3.9]
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        *,
        method: str | Tableau = "ralston",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        _check_hyperparameters(betas=betas, eps=eps)
        super().__init__(params, lr, method=method, weight_decay=weight_decay)
        adam = {"betas": (float(betas[0]), float(betas[1])), "eps": float(eps)}
        self.defaults.update(adam)
        for group in self.param_groups:
            for key, value in adam.items():
                group.setdefault(key, value)

    def _update(self, p: torch.Tensor, direction: torch.Tensor, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(direction, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(direction, direction, value=1 - beta2)
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p.addcdiv_(m_hat, v_hat.sqrt_().add_(group["eps"]), value=-group["lr"])


def _sgd(params: Params, *, lr: float, weight_decay: float = 0.0) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


def _momentum(
    params: Params, *, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _nesterov(
    params: Params, *, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> Optimizer:
    if momentum == 0:
        raise ValueError("nesterov needs momentum in (0, 1), got 0; use 'sgd' for none")
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )


def _rmsprop(
    params: Params, *, lr: float, rho: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
) -> Optimizer:
    return torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=eps, weight_decay=weight_decay)


def _adagrad(
    params: Params, *, lr: float, eps: float = 1e-10, weight_decay: float = 0.0
) -> Optimizer:
    return torch.optim.Adagrad(params, lr=lr, eps=eps, weight_decay=weight_decay)


def _adadelta(
    params: Params, *, lr: float, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0
) -> Optimizer:
    return torch.optim.Adadelta(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)


def _adam(
    params: Params,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


_RK_METHODS = ("midpoint", "heun", "ralston")

#: Optimizer factories by name; see the table above for their defaults.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "adam": _adam,
    **{f"rk_sgd_{m}": partial(RungeKutta, method=m) for m in _RK_METHODS},
    **{f"rk_adam_{m}": partial(RungeKuttaAdam, method=m) for m in _RK_METHODS},
}


def make_optimizer(
    name: str,
    params: Params,
    *,
    lr: float,
    momentum: float | None = None,
    weight_decay: float = 0.0,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
    rho: float | None = None,
) -> Optimizer:
    """Build the optimizer ``name`` from :data:`OPTIMIZERS`.

    Options left at None take the optimizer's default; an option the optimizer does
    not have (``momentum`` for ``adam``, say) is an error rather than ignored.

    Parameters
    ----------
    name : str
        A key of :data:`OPTIMIZERS`.
    params : iterable of tensors or of dicts
        Parameters or parameter groups.
    lr : float
        Learning rate (> 0).
    momentum : float, optional
        In [0, 1); ``momentum`` and ``nesterov`` only.
    weight_decay : float
        L2 coefficient (≥ 0), every optimizer.
    betas : (float, float), optional
        Adam's (β1, β2), each in [0, 1).
    eps : float, optional
        Denominator guard (> 0) of the adaptive methods.
    rho : float, optional
        In [0, 1): squared-gradient decay of ``rmsprop`` and ``adadelta``.

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> w = torch.zeros(3, requires_grad=True)
    >>> make_optimizer("momentum", [w], lr=0.1).defaults["momentum"]
    0.9
    >>> needs_closure(make_optimizer("rk_adam_heun", [w], lr=0.002))
    True
    >>> make_optimizer("adm", [w], lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: unknown optimizer 'adm' (did you mean 'adam'?); choose from ['adadelta', ...]
    >>> make_optimizer("adam", [w], lr=0.1, momentum=0.9)
    Traceback (most recent call last):
    ...
    ValueError: optimizer 'adam' takes no momentum; its options are ['betas', 'eps', 'weight_decay']
    """
    if name not in OPTIMIZERS:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    options = {"momentum": momentum, "betas": betas, "eps": eps, "rho": rho}
    _check_hyperparameters(lr=lr, weight_decay=weight_decay, **options)
    factory = OPTIMIZERS[name]
    accepted = sorted(set(inspect.signature(factory).parameters) - {"params", "lr", "method"})
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in accepted:
            raise ValueError(f"optimizer {name!r} takes no {key}; its options are {accepted}")
    return factory(params, lr=lr, weight_decay=weight_decay, **given)


def needs_closure(optimizer: Optimizer) -> bool:
    """Whether ``optimizer.step`` must be given a closure (Runge–Kutta, L-BFGS).

    Every torch optimizer accepts one, so a trainer may always pass it.

    Examples
    --------
    >>> w = torch.zeros(2, requires_grad=True)
    >>> needs_closure(torch.optim.SGD([w], lr=0.1)), needs_closure(RungeKutta([w], lr=0.1))
    (False, True)
    """
    return bool(getattr(optimizer, "requires_closure", False)) or isinstance(
        optimizer, torch.optim.LBFGS
    )


def _tableau(method: str | Tableau) -> Tableau:
    if isinstance(method, str):
        if method not in TABLEAUS:
            raise ValueError(
                f"unknown Runge-Kutta method {method!r}; choose from {sorted(TABLEAUS)}"
            )
        return TABLEAUS[method]
    tableau = Tableau(*(float(c) for c in method))
    if not math.isclose(tableau.a1 + tableau.a2, 1.0):
        raise ValueError(f"Runge-Kutta weights must sum to 1 (a1 + a2 = 1), got {tableau!r}")
    return tableau


def _check_hyperparameters(
    *,
    lr: float | None = None,
    weight_decay: float | None = None,
    momentum: float | None = None,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
    rho: float | None = None,
) -> None:
    # (value, test, allowed range) per option; None means not given.
    checks = {
        "lr": (lr, lambda x: 0 < x < math.inf, "> 0"),
        "weight_decay": (weight_decay, lambda x: 0 <= x < math.inf, "≥ 0"),
        "momentum": (momentum, lambda x: 0 <= x < 1, "in [0, 1)"),
        "eps": (eps, lambda x: 0 < x < math.inf, "> 0"),
        "rho": (rho, lambda x: 0 <= x < 1, "in [0, 1)"),
    }
    for key, (value, ok, allowed) in checks.items():
        if value is not None and not (_is_number(value) and ok(value)):
            raise ValueError(f"{key} must be a number {allowed}, got {value!r}")
    if betas is not None and not (
        isinstance(betas, (tuple, list))
        and len(betas) == 2
        and all(_is_number(b) and 0 <= b < 1 for b in betas)
    ):
        raise ValueError(f"betas must be a pair (β1, β2) with each in [0, 1), got {betas!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
