"""Tests of theory.random_walk: exact expectations against seeded Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from landscapes.results import validate
from theory import random_walk as rw

T, N_STEPS = 90, 100
STEPS = np.array([1, 30, 60, 89, 90, 95, 100])
# Five standard errors: a correct closed form fails one such check with probability
# below 6e-7, and every draw is seeded so a pass is reproducible.
Z = 5.0


def _check(sample: np.ndarray, mean: np.ndarray, var: np.ndarray) -> None:
    se = np.sqrt(var / sample.shape[0])
    np.testing.assert_array_less(np.abs(sample.mean(axis=0) - mean), Z * se + 1e-12)


def _check_sampler(d: int, method: str, seed: int) -> None:
    ds = rw.monte_carlo([d], n_steps=N_STEPS, T=T, n_walks=400, seed=seed, method=method)
    p = ds.projection.isel(dimension=0).values[:, STEPS]
    r = ds.residual.isel(dimension=0).values[:, STEPS]
    _check(p, rw.expected_projection(STEPS, d, T), rw.projection_variance(STEPS, d, T))
    _check(r, rw.expected_residual(STEPS, d, T), rw.residual_variance(STEPS, d, T))


@pytest.mark.parametrize("d", [1, 2, 5, 40])
def test_literal_walk_matches_closed_forms(d):
    _check_sampler(d, "walk", seed=3)
    # Second moments close the check on the variances themselves.
    m = rw.chi_mean(d)
    np.testing.assert_allclose(rw.projection_variance(STEPS, d, T) + rw.expected_projection(STEPS, d, T) ** 2,
                               (np.minimum(STEPS, T) / T) ** 2 * T * d + (STEPS - np.minimum(STEPS, T) ** 2 / T),
                               rtol=1e-10)
    assert m > 0


@pytest.mark.parametrize("d", [5, 40, 100_000])
def test_reduced_sampler_matches_closed_forms(d):
    _check_sampler(d, "reduced", seed=4)


def test_limit_is_semicircle_then_vertical():
    t = np.arange(0, 1001)
    x, y = rw.limit_curve(t, 900)
    before = t <= 900
    np.testing.assert_allclose((x[before] - 0.5) ** 2 + y[before] ** 2, 0.25, atol=1e-12)
    np.testing.assert_allclose(x[~before], 1.0)
    np.testing.assert_allclose(y[~before], np.sqrt(t[~before] / 900 - 1), rtol=1e-12)
    # Finite-d expectations, scaled by E‖θ_T‖, approach the limit like 1/d.
    for d, tol in [(100, 1e-2), (100_000, 1e-5)]:
        scale = np.sqrt(900) * rw.chi_mean(d)
        np.testing.assert_allclose(rw.expected_projection(t, d) / scale, x, atol=tol)
        np.testing.assert_allclose(rw.expected_residual(t, d) / scale, y, atol=tol)


def test_boundaries():
    assert float(rw.expected_projection(0, 10)) == 0.0
    assert float(rw.expected_residual(0, 10)) == 0.0
    assert float(rw.expected_residual(900, 10)) == 0.0
    assert float(rw.expected_residual(500, 1)) == 0.0  # one dimension leaves no residual


def test_monte_carlo_schema_and_seed():
    ds = rw.monte_carlo([3, 50, 5000], n_steps=N_STEPS, T=T, n_walks=3, seed=1)
    validate(ds)
    assert ds.projection.dims == ("dimension", "replicate", "step")
    assert list(ds.method.values) == ["walk", "walk", "reduced"]
    np.testing.assert_allclose(ds.residual.sel(step=T), 0.0, atol=1e-9)
    np.testing.assert_allclose(ds.projection.sel(step=T), ds.norm.sel(step=T), rtol=1e-12)
    again = rw.monte_carlo([3, 50, 5000], n_steps=N_STEPS, T=T, n_walks=3, seed=1)
    np.testing.assert_array_equal(ds.projection, again.projection)
    other = rw.monte_carlo([3], n_steps=N_STEPS, T=T, n_walks=3, seed=2)
    assert not np.array_equal(other.projection.values[0], ds.projection.values[0])


def test_expected_dataset():
    ds = rw.expected([2, 1000])
    validate(ds)
    assert ds.sizes == {"dimension": 2, "step": 1001}


def test_matched_walk_reduces_to_unit_walk():
    ones = rw.matched_walk(sizes=np.full(N_STEPS, np.sqrt(30.0)), dimension=30, solution=T)
    t = np.arange(N_STEPS + 1)
    np.testing.assert_allclose(ones.projection, rw.expected_projection(t, 30, T), rtol=1e-12)
    np.testing.assert_allclose(ones.residual, rw.expected_residual(t, 30, T), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ones.norm, rw.expected_norm(t, 30), rtol=1e-12)


def test_matched_walk_monte_carlo_agrees():
    rng = np.random.default_rng(0)
    sizes = rng.uniform(0.1, 2.0, N_STEPS)
    d = 20
    ds = rw.matched_walk(sizes=sizes, dimension=d, n_walks=600, seed=5)
    validate(ds)
    V = np.concatenate([[0.0], np.cumsum(sizes**2 / d)])
    m, S2 = V / V[-1], V - V**2 / V[-1]
    var_p = m**2 * V[-1] * (d - rw.chi_mean(d) ** 2) + S2
    var_r = S2 * (d - 1 - rw.chi_mean(d - 1) ** 2)
    _check(ds.mc_projection.values, ds.projection.values, var_p)
    _check(ds.mc_residual.values, ds.residual.values, var_r)


def test_matched_walk_from_thetas():
    path = np.cumsum(np.random.default_rng(1).standard_normal((21, 7)), axis=0)
    ds = rw.matched_walk(path, steps=np.arange(0, 210, 10))
    assert int(ds.step[-1]) == 200
    np.testing.assert_allclose(ds.residual.isel(step=-1), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: rw.monte_carlo([0]), "positive integer dimension"),
        (lambda: rw.monte_carlo([10], method="exact"), r"unknown method 'exact'; choose from"),
        (lambda: rw.monte_carlo([10], n_steps=10, T=20), "T must be <= n_steps"),
        (lambda: rw.matched_walk(sizes=[1.0, 2.0]), "dimension"),
        (lambda: rw.expected_projection(-1, 3), "t must be finite"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
