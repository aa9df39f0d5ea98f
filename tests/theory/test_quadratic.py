"""Tests of theory.quadratic: closed-form momentum descent against direct iteration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landscapes.results import validate
from theory import quadratic as q


def _direct(p: q.QuadraticProblem, eps: float, mu: float, steps: int) -> np.ndarray:
    theta, v = p.start.copy(), np.zeros_like(p.start)
    out = [theta.copy()]
    for _ in range(steps):
        v = mu * v - eps * p.eigenvalues * (theta - p.solution)
        theta = theta + v
        out.append(theta.copy())
    return np.array(out)


@settings(max_examples=25, deadline=None)
@given(
    eps=st.floats(0.01, 1.5),
    mu=st.floats(0.0, 0.95),
    seed=st.integers(0, 1000),
)
def test_closed_form_matches_iteration(eps, mu, seed):
    p = q.problem(12, n_levels=4, eigenvalue_range=(0.05, 1.0), seed=seed)
    steps = 60
    direct = _direct(p, eps, mu, steps)
    for k in (0, 1, 2, 7, 60):
        np.testing.assert_allclose(q.iterate(p, eps, mu, k), direct[k], rtol=1e-9, atol=1e-9 * (1 + np.abs(direct[k]).max()))


def test_critical_damping_is_stable():
    # ελ = (1 − √μ)²: a double eigenvalue of M, where eigen-formulas divide by zero.
    mu = 0.81
    lam = (1 - np.sqrt(mu)) ** 2 / 0.5
    c = q.contraction([lam], 0.5, mu, np.arange(50)).ravel()
    r = np.sqrt(mu)
    # Double root r: c_k = r^k (1 + k(1 − r)).
    np.testing.assert_allclose(c, r ** np.arange(50) * (1 + np.arange(50) * (1 - r)), rtol=1e-10)


def test_projection_residual_against_direct():
    p = q.problem(40, n_levels=8, seed=2)
    ds = q.trajectories([(0.3, 0.7), (1.0, 0.0)], steps=np.arange(31), quadratic=p)
    validate(ds)
    for i, (eps, mu) in enumerate([(0.3, 0.7), (1.0, 0.0)]):
        path = _direct(p, eps, mu, 30)
        axis = (p.solution - p.start) / np.linalg.norm(p.solution - p.start)
        moved = path - p.start
        proj = moved @ axis
        resid = np.linalg.norm(moved - proj[:, None] * axis, axis=1)
        np.testing.assert_allclose(ds.projection.isel(setting=i), proj, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ds.residual.isel(setting=i), resid, rtol=1e-7, atol=1e-7)
        np.testing.assert_allclose(ds.norm.isel(setting=i), np.linalg.norm(path, axis=1), rtol=1e-9)
        np.testing.assert_allclose(ds.loss.isel(setting=i), [p.loss(th) for th in path], rtol=1e-9, atol=1e-12)


def test_paper_size_limits():
    ds = q.trajectories(steps=[0, 100_000])
    assert ds.attrs["system"] == "quadratic"
    start = ds.isel(step=0)
    np.testing.assert_allclose(start.projection, 0.0, atol=0)
    np.testing.assert_allclose(start.residual, 0.0, atol=1e-9)
    # After 10⁵ steps every stable setting has converged: the walk ends at θ*.
    p = q.problem()
    dist = np.linalg.norm(p.solution - p.start)
    end = ds.isel(step=-1)
    np.testing.assert_allclose(end.projection, dist, rtol=1e-9)
    np.testing.assert_allclose(end.residual, 0.0, atol=1e-6)
    np.testing.assert_allclose(end.norm, np.linalg.norm(p.solution), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"settings": [(0.1, 1.0)]}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"settings": [(-0.1, 0.0)]}, "learning_rate must be a positive number"),
        ({"steps": [-1]}, "steps must be"),
        ({"dimension": 10, "n_levels": 20}, "n_levels must be <= dimension"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        q.trajectories(**kwargs)
