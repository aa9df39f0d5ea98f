"""landscapes.curvature on a torch twin of the quadratic equals its closed form.

The quadratic f(θ) = ½ Σ λ_i (θ_i − θ*_i)² of :mod:`theory.quadratic` (Goodfellow et al.
2015, App. B) has the constant Hessian A = diag(λ) (:func:`theory.hessian.quadratic_hessian`),
so at every point of every line its eigenvalues, trace, density moments
m_j = tr(A^j)/d and curvature vᵀAv/‖v‖² are known exactly
(:func:`theory.hessian.quadratic_line`). The package has no torch twin of it (the
reproductions evaluate it in closed form only), so one is built here: a module with one
parameter φ whose loss is f read in an orthonormal basis Q, f(Qᵀφ). ``basis="eigen"``
(Q = I) is the quadratic as written; ``basis="rotated"`` (a seeded random Q) is the same
problem with a dense Hessian QAQᵀ -- same eigenvalues, trace, moments, and curvature along
Qv -- on which Hutchinson and stochastic Lanczos quadrature are genuine estimates
(Rademacher probes read a diagonal matrix's trace exactly). The points are the lines the
quadratic has: start θ_0 → solution θ* (init → final) and the iterate θ_k of momentum
descent (:func:`theory.quadratic.iterate`) → θ*, at several α each; float64 throughout.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import curvature, evaluate, paths
from theory import hessian as th
from theory import quadratic

#: Lanczos run to exhaustion at the twin's size: exact up to rounding.
RTOL, ATOL = 1e-9, 1e-12
#: Stated tolerance of the stochastic estimators: their standard error at most TOL·|trace|.
TOL = 0.05
D = 24
ALPHAS = (0.0, 0.5, 1.0)


class QuadraticTwin(nn.Module):
    """f(Qᵀφ) with f the quadratic: ``forward`` gives √λ ⊙ Qᵀφ per example, the targets √λ ⊙ θ*."""

    def __init__(self, problem: quadratic.QuadraticProblem, basis: torch.Tensor) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(problem.dimension, dtype=torch.float64))
        self.register_buffer("basis", basis)
        self.register_buffer("scale", torch.as_tensor(np.sqrt(problem.eigenvalues), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x is a column of ones: every example sees the same loss, so the full-data mean is f.
        return x * (self.scale * (self.basis.T @ self.theta))


def half_squared_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((outputs - targets) ** 2).sum(dim=1).mean()


def _basis(kind: str) -> torch.Tensor:
    if kind == "eigen":
        return torch.eye(D, dtype=torch.float64)
    gen = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen, dtype=torch.float64))
    return q


def _twin(problem: quadratic.QuadraticProblem, kind: str):
    q = _basis(kind)
    net = QuadraticTwin(problem, q)
    n = 10  # batches of 4, 4 and 2: the size-weighted mean over batches is still f
    x = torch.ones(n, 1, dtype=torch.float64)
    y = (torch.as_tensor(np.sqrt(problem.eigenvalues) * problem.solution) * torch.ones(n, 1)).double()

    def state(theta: np.ndarray) -> dict[str, torch.Tensor]:
        return {"theta": q @ torch.as_tensor(theta, dtype=torch.float64), "basis": q,
                "scale": net.scale}

    return net, (x, y), state


def _lines(problem: quadratic.QuadraticProblem) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"init_to_final": (problem.start, problem.solution),
            "iterate_to_final": (quadratic.iterate(problem, 0.5, 0.5, 3), problem.solution)}


#: distinct eigenvalues (n_levels = D) and each repeated three times (Lanczos must deflate).
PROBLEMS = {"distinct": dict(n_levels=D), "repeated": dict(n_levels=D // 3)}
CASES = [(p, b, line) for p in PROBLEMS for b in ("eigen", "rotated")
         for line in ("init_to_final", "iterate_to_final")]


def _setup(levels: str, kind: str, line: str):
    p = quadratic.problem(D, eigenvalue_range=(0.05, 2.0), seed=4, **PROBLEMS[levels])
    a, b = _lines(p)[line]
    exact = th.quadratic_line(p, a, b, alphas=ALPHAS, k=2)
    net, data, state = _twin(p, kind)
    points = [a + t * (b - a) for t in ALPHAS]
    return p, exact, net, data, state, points


def _kw() -> dict:
    return {"loss_fn": half_squared_error, "device": "cpu", "batch_size": 4}


@pytest.mark.parametrize("levels, kind, line", CASES)
def test_eigenvalues_at_both_ends_equal_the_constant_hessian(levels, kind, line):
    p, exact, net, data, state, points = _setup(levels, kind, line)
    for i, theta in enumerate(points):
        ds = curvature.eigenvalues(net, data, k=2, which="both", point=state(theta), tol=1e-12,
                                   max_iter=D, **_kw())
        want = exact.isel(alpha=i)
        np.testing.assert_allclose(ds.top_eigenvalue.values, want.top_eigenvalue.values,
                                   rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ds.bottom_eigenvalue.values, want.bottom_eigenvalue.values,
                                   rtol=RTOL, atol=ATOL)
        assert (ds.top_residual.values <= 1e-9 * p.eigenvalues.max()).all()
    if levels == "repeated":  # λ1 = λ2 and λ_(d) = λ_(d−1): found as often as they repeat
        assert ds.top_eigenvalue.values[0] == pytest.approx(ds.top_eigenvalue.values[1], rel=RTOL)


@pytest.mark.parametrize("levels, kind, line", CASES)
def test_trace_estimators_hold_their_stated_tolerance(levels, kind, line):
    p, exact, net, data, state, points = _setup(levels, kind, line)
    want = float(exact.hessian_trace.isel(alpha=0))
    assert np.allclose(exact.hessian_trace.values, want, rtol=1e-14)  # constant along the line
    for theta in points:
        for method in ("hutchinson", "hutch++"):
            ds = curvature.trace(net, data, method=method, point=state(theta), tol=TOL, sketch=4,
                                 max_probes=1000, block=10, seed=3, **_kw())
            err = float(ds.trace_stderr)
            assert float(ds.trace_converged) == 1.0
            assert err <= TOL * abs(float(ds.hessian_trace)) * (1 + 1e-12)
            if kind == "eigen" and method == "hutchinson":
                # Rademacher probes read a diagonal matrix's trace exactly (Hutch++'s
                # deflated probes are no longer Rademacher)
                assert float(ds.hessian_trace) == pytest.approx(want, rel=RTOL)
            else:
                assert err > 0 and abs(float(ds.hessian_trace) - want) <= 4 * err
        # Hutch++ whose sketch reaches the parameter count traces the whole space exactly
        full = curvature.trace(net, data, method="hutch++", point=state(theta), sketch=D,
                               max_probes=3 * D, **_kw())
        assert float(full.hessian_trace) == pytest.approx(want, rel=RTOL)
        assert float(full.trace_stderr) == 0.0 and int(full.trace_products) == 2 * D


@pytest.mark.parametrize("levels, kind, line", CASES)
def test_density_moments_are_the_normalised_traces_of_powers(levels, kind, line):
    p, exact, net, data, state, points = _setup(levels, kind, line)
    for i, theta in enumerate(points):
        want = exact.density_moment.isel(alpha=i).values
        # 8 steps: Gauss quadrature is exact per probe for degree ≤ 15 ≥ 4
        ds = curvature.density(net, data, point=state(theta), probes=30, steps=8, seed=2, **_kw())
        got, err = ds.density_moment.values, ds.moment_stderr.values
        if kind == "eigen":  # vᵀAʲv = tr(Aʲ)/d for every normalised Rademacher v
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
        else:
            assert (err > 0).all()
            assert (np.abs(got - want) <= 4 * err).all(), (got, want, err)


@pytest.mark.parametrize("levels, kind, line", CASES)
def test_loss_and_curvature_along_the_line(levels, kind, line):
    p, exact, net, data, state, points = _setup(levels, kind, line)
    a, b = points[0], points[-1]
    sa, sb = state(a), state(b)
    v = {"theta": sb["theta"] - sa["theta"]}  # Q(b − a): the line's direction in φ
    for i, theta in enumerate(points):
        ds = curvature.along(net, data, v, point=state(theta), **_kw())
        np.testing.assert_allclose(float(ds.curvature_along), float(exact.curvature_along[i]),
                                   rtol=RTOL, atol=ATOL)
    line_ds = evaluate(net, paths.linear(sa, sb, np.array(ALPHAS)), {"train": data},
                       loss_fn=half_squared_error, error=None, device="cpu", batch_size=4)
    np.testing.assert_allclose(line_ds.loss.sel(split="train").values, exact.loss.values,
                               rtol=RTOL, atol=ATOL * float(exact.loss.max()))


def test_the_agreement_can_fail():
    # Another problem's closed form differs from this twin's numbers: the tests above
    # compare quantities that depend on the spectrum, not two constants.
    p, exact, net, data, state, points = _setup("distinct", "rotated", "init_to_final")
    other = th.quadratic_line(quadratic.problem(D, n_levels=D, eigenvalue_range=(0.05, 2.5), seed=4),
                              alphas=ALPHAS, k=2)
    ds = curvature.eigenvalues(net, data, k=2, point=state(points[1]), tol=1e-12, max_iter=D, **_kw())
    assert not np.allclose(ds.top_eigenvalue.values, other.top_eigenvalue.isel(alpha=1).values,
                           rtol=1e-3)
    np.testing.assert_allclose(ds.top_eigenvalue.values, exact.top_eigenvalue.isel(alpha=1).values,
                               rtol=RTOL)
