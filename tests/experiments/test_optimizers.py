"""Runge–Kutta optimizers against hand-written numpy steps; the registry's contract."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from experiments.optimizers import (
    OPTIMIZERS,
    TABLEAUS,
    RungeKutta,
    RungeKuttaAdam,
    Tableau,
    make_optimizer,
    needs_closure,
)

# Im et al. (2016) Table 3, (a1, a2, q1), written out again so the test does not trust
# the module's table.
PAPER_COEFFICIENTS = {
    "midpoint": (0.0, 1.0, 0.5),
    "heun": (0.5, 0.5, 1.0),
    "ralston": (1 / 3, 2 / 3, 3 / 4),
}
RK_NAMES = sorted(n for n in OPTIMIZERS if n.startswith("rk_"))

# A fixed symmetric positive-definite A (eigenvalues 0.5, 1, 2) and b.
_Q = np.linalg.qr(np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0], [0.0, 1.0, 3.0]]))[0]
A = _Q @ np.diag([0.5, 1.0, 2.0]) @ _Q.T
B = np.array([1.0, -2.0, 0.5])
THETA0 = np.array([0.7, -1.3, 2.1])


def quadratic_loss(theta: torch.Tensor) -> torch.Tensor:
    """L(θ) = ½ θᵀAθ − bᵀθ."""
    a, b = torch.from_numpy(A), torch.from_numpy(B)
    return 0.5 * theta @ a @ theta - b @ theta


def quadratic_grad(theta: np.ndarray) -> np.ndarray:
    return A @ theta - B


def quartic_loss(theta: torch.Tensor) -> torch.Tensor:
    """L(θ) = ¼Σθ⁴ + ½ θᵀAθ: its gradient is not affine, so the RK methods differ."""
    return 0.25 * (theta**4).sum() + 0.5 * theta @ torch.from_numpy(A) @ theta


def quartic_grad(theta: np.ndarray) -> np.ndarray:
    return theta**3 + A @ theta


LOSSES = {"quadratic": (quadratic_loss, quadratic_grad), "quartic": (quartic_loss, quartic_grad)}


def rk_direction(theta, grad, h, coefficients, weight_decay=0.0):
    """Im et al. eqs. 18–24 with X = −(∇L + λθ): the 'RK2 gradient' −(a1·k1 + a2·k2)."""
    a1, a2, q1 = coefficients
    field = lambda t: -(grad(t) + weight_decay * t)  # noqa: E731
    k1 = field(theta)
    k2 = field(theta + q1 * h * k1)
    return -(a1 * k1 + a2 * k2)


def run_torch(optimizer_factory, loss_fn, steps):
    theta = torch.tensor(THETA0, requires_grad=True)
    optimizer = optimizer_factory([theta])
    losses = []

    def closure():
        loss = loss_fn(theta)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(optimizer.step(closure).item())
    return theta.detach().numpy(), losses, theta.grad.numpy()


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("steps", [1, 4])
@pytest.mark.parametrize("method", sorted(PAPER_COEFFICIENTS))
def test_rk_sgd_takes_the_hand_computed_step(method, steps, loss):
    loss_fn, grad = LOSSES[loss]
    h, decay = 0.1, 0.05
    theta, expected_losses = THETA0.copy(), []
    for _ in range(steps):
        expected_losses.append(loss_fn(torch.from_numpy(theta)).item())
        last = theta
        theta = theta - h * rk_direction(theta, grad, h, PAPER_COEFFICIENTS[method], decay)
    got, losses, final_grad = run_torch(
        lambda p: RungeKutta(p, lr=h, method=method, weight_decay=decay), loss_fn, steps
    )
    np.testing.assert_allclose(got, theta, rtol=1e-13, atol=1e-15)
    # The returned loss and .grad belong to θ before each step.
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-13)
    np.testing.assert_allclose(final_grad, grad(last), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("method", sorted(PAPER_COEFFICIENTS))
def test_rk_adam_matches_a_numpy_adam_fed_the_rk_gradient(method, loss):
    loss_fn, grad = LOSSES[loss]
    lr, (beta1, beta2), eps, decay = 0.05, (0.8, 0.95), 1e-8, 0.01
    theta, m, v = THETA0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        g = rk_direction(theta, grad, lr, PAPER_COEFFICIENTS[method], decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    got, _, _ = run_torch(
        lambda p: RungeKuttaAdam(
            p, lr=lr, method=method, betas=(beta1, beta2), eps=eps, weight_decay=decay
        ),
        loss_fn,
        5,
    )
    np.testing.assert_allclose(got, theta, rtol=1e-12, atol=1e-14)


def test_registry_methods_are_the_papers_and_differ_off_quadratics():
    for name, coefficients in PAPER_COEFFICIENTS.items():
        np.testing.assert_allclose(TABLEAUS[name], coefficients, rtol=1e-15)
    steps = {
        m: run_torch(lambda p, m=m: make_optimizer(f"rk_sgd_{m}", p, lr=0.3), quartic_loss, 1)[0]
        for m in PAPER_COEFFICIENTS
    }
    assert not np.allclose(steps["midpoint"], steps["heun"])
    assert not np.allclose(steps["heun"], steps["ralston"])


@pytest.mark.parametrize("method", sorted(TABLEAUS))
def test_every_tableau_is_second_order(method):
    a1, a2, q1 = TABLEAUS[method]
    assert math.isclose(a1 + a2, 1.0) and math.isclose(a2 * q1, 0.5)


def local_error(name: str, h: float) -> float:
    """|one step − exact flow| on dθ/dt = −Aθ, whose flow is exp(−hA)θ."""
    theta = torch.tensor(THETA0, requires_grad=True)
    optimizer = make_optimizer(name, [theta], lr=h)

    def closure():
        loss = 0.5 * theta @ torch.from_numpy(A) @ theta
        loss.backward()
        return loss

    optimizer.step(closure)
    exact = scipy.linalg.expm(-h * A) @ THETA0
    return float(np.linalg.norm(theta.detach().numpy() - exact))


@pytest.mark.parametrize("name", [n for n in RK_NAMES if n.startswith("rk_sgd_")])
def test_rk_local_error_is_third_order_in_h(name):
    # Local error O(h³): halving h divides it by 8 (plain SGD, explicit Euler, by 4).
    for h in (0.04, 0.02):
        assert local_error(name, h) / local_error(name, h / 2) == pytest.approx(8, rel=0.05)
    assert local_error("sgd", 0.02) / local_error("sgd", 0.01) == pytest.approx(4, rel=0.05)


def make_problem(seed: int = 0):
    """A small least-squares regression: convex in the weights of a linear model."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=generator)
    noise = 0.1 * torch.randn(32, 1, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + noise
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    return model, x, y


def make_closure(model, x, y):
    def closure():
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    return closure


def learning_rate(name: str) -> float:
    # Adadelta's step is scaled by its own history (Im et al. set η = 1); the others
    # take a rate that is stable on this problem.
    return 1.0 if name == "adadelta" else 0.05


def train_steps(optimizer, model, x, y, steps: int) -> list[float]:
    closure = make_closure(model, x, y)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(optimizer.step(closure).item())
    return losses


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_decreases_a_convex_loss(name):
    model, x, y = make_problem()
    optimizer = make_optimizer(name, model.parameters(), lr=learning_rate(name))
    losses = train_steps(optimizer, model, x, y, 8)
    final = make_closure(model, x, y)().item()
    assert final < losses[0]
    if name != "adadelta":  # Adadelta's first steps are ~sqrt(eps): too small to matter
        assert final < 0.9 * losses[0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_resume_is_bit_identical(name):
    lr = learning_rate(name)
    model, x, y = make_problem()
    uninterrupted = make_optimizer(name, model.parameters(), lr=lr, weight_decay=1e-3)
    train_steps(uninterrupted, model, x, y, 6)

    first, x, y = make_problem()
    optimizer = make_optimizer(name, first.parameters(), lr=lr, weight_decay=1e-3)
    train_steps(optimizer, first, x, y, 3)
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = torch.nn.Linear(4, 1)
    resumed.load_state_dict(saved["model"])
    optimizer = make_optimizer(name, resumed.parameters(), lr=lr, weight_decay=1e-3)
    optimizer.load_state_dict(saved["optimizer"])
    train_steps(optimizer, resumed, x, y, 3)

    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", RK_NAMES)
def test_rk_step_without_closure_is_a_clear_error(name):
    model, x, y = make_problem()
    optimizer = make_optimizer(name, model.parameters(), lr=0.01)
    torch.nn.functional.mse_loss(model(x), y).backward()
    with pytest.raises(TypeError, match="requires a closure"):
        optimizer.step()


def test_needs_closure_only_for_rk_and_lbfgs():
    w = torch.zeros(2, requires_grad=True)
    for name in OPTIMIZERS:
        assert needs_closure(make_optimizer(name, [w], lr=0.1)) == name.startswith("rk_")
    assert needs_closure(torch.optim.LBFGS([w]))


def test_closure_need_not_zero_gradients_and_unused_parameters_stay():
    theta = torch.tensor(THETA0, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    optimizer = RungeKutta([theta, unused], lr=0.1, method="heun")
    optimizer.step(lambda: quartic_loss(theta).backward())  # no zero_grad anywhere
    optimizer.step(lambda: quartic_loss(theta).backward())
    expected = THETA0
    for _ in range(2):
        expected = expected - 0.1 * rk_direction(expected, quartic_grad, 0.1, (0.5, 0.5, 1.0))
    np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-13)
    assert torch.equal(unused, torch.ones(2)) and unused.grad is None


def test_rk_optimizer_follows_the_group_learning_rate():
    # A scheduler changes group["lr"]; both the trial point and the step use it.
    theta = torch.tensor(THETA0, requires_grad=True)
    optimizer = RungeKutta([theta], lr=1.0, method="midpoint")
    optimizer.param_groups[0]["lr"] = 0.1
    optimizer.step(lambda: quadratic_loss(theta).backward())
    h = 0.1
    expected = THETA0 - h * rk_direction(THETA0, quadratic_grad, h, PAPER_COEFFICIENTS["midpoint"])
    np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-13)


def test_make_optimizer_applies_documented_defaults_and_overrides():
    w = torch.zeros(2, requires_grad=True)
    assert make_optimizer("momentum", [w], lr=0.1).defaults["momentum"] == 0.9
    nesterov = make_optimizer("nesterov", [w], lr=0.1, momentum=0.5).defaults
    assert nesterov["nesterov"] and nesterov["momentum"] == 0.5
    assert make_optimizer("sgd", [w], lr=0.1).defaults["momentum"] == 0
    assert make_optimizer("rmsprop", [w], lr=0.1, rho=0.9).defaults["alpha"] == 0.9
    adam = make_optimizer("rk_adam_ralston", [w], lr=0.1, betas=(0.5, 0.6), eps=1e-3)
    assert adam.param_groups[0]["betas"] == (0.5, 0.6) and adam.param_groups[0]["eps"] == 1e-3
    assert adam.param_groups[0]["tableau"] == tuple(TABLEAUS["ralston"])


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("adm", {}, r"unknown optimizer 'adm' \(did you mean 'adam'\?\); choose from \["),
        ("sgd", {"lr": 0.0}, "lr must be a number > 0, got 0.0"),
        ("sgd", {"lr": -1}, "lr must be a number > 0, got -1"),
        ("sgd", {"lr": math.nan}, "lr must be a number > 0, got nan"),
        ("sgd", {"lr": "0.1"}, "lr must be a number > 0, got '0.1'"),
        ("sgd", {"weight_decay": -0.1}, "weight_decay must be a number ≥ 0"),
        ("momentum", {"momentum": 1.0}, r"momentum must be a number in \[0, 1\), got 1.0"),
        ("nesterov", {"momentum": 0.0}, "nesterov needs momentum in"),
        ("adam", {"betas": (0.9, 1.0)}, r"betas must be a pair .* got \(0.9, 1.0\)"),
        ("adam", {"betas": 0.9}, "betas must be a pair"),
        ("adam", {"eps": 0.0}, "eps must be a number > 0"),
        ("rmsprop", {"rho": 1.0}, "rho must be a number in"),
        ("adam", {"momentum": 0.9}, "optimizer 'adam' takes no momentum; its options are"),
        ("sgd", {"momentum": 0.9}, "optimizer 'sgd' takes no momentum"),
        ("rk_sgd_heun", {"betas": (0.9, 0.99)}, "optimizer 'rk_sgd_heun' takes no betas"),
    ],
)
def test_bad_names_and_values_are_clear_errors(name, options, message):
    options = {"lr": 0.1, **options}
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, [torch.zeros(1, requires_grad=True)], **options)


def test_bad_runge_kutta_methods_are_clear_errors():
    w = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match=r"unknown Runge-Kutta method 'rk4'; choose from \["):
        RungeKutta(w, lr=0.1, method="rk4")
    with pytest.raises(ValueError, match="weights must sum to 1"):
        RungeKutta(w, lr=0.1, method=Tableau(0.5, 0.6, 1.0))
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        RungeKuttaAdam(w, lr=-0.1)
