"""Tests of theory.deep_linear: closed forms against direct evaluation and integration."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from landscapes.results import validate
from theory import deep_linear as dl

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
point = st.tuples(finite, finite)


def _direct_loss(weights, X, Y, k=1.0):
    out = X
    for w in weights:
        out = w @ out
    return k * np.sum((out - Y) ** 2) / X.shape[1]


@settings(max_examples=40, deadline=None)
@given(a=point, b=point, alpha=st.floats(-2, 3))
def test_scalar_line_matches_model(a, b, alpha):
    w = np.asarray(a) + alpha * (np.asarray(b) - np.asarray(a))
    expected = (1 - w[0] * w[1]) ** 2
    coef = dl.line_coefficients(a, b)
    np.testing.assert_allclose(np.polynomial.polynomial.polyval(alpha, coef), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(dl.loss_along_line(a, b, [alpha])[0], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dl.loss_along_line(a, b, [alpha], "half_mse")[0], expected / 2, rtol=1e-12, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    depth=st.integers(1, 4),
    width=st.integers(1, 4),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    alpha=st.floats(-1.5, 2.5),
)
def test_line_polynomial_matches_model(depth, width, n, seed, alpha):
    rng = np.random.default_rng(seed)
    dims = rng.integers(1, width + 1, size=depth + 1)
    wa = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(depth)]
    wb = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(depth)]
    X = rng.standard_normal((dims[0], n))
    Y = rng.standard_normal((dims[-1], n))
    coef = dl.line_polynomial(wa, wb, X, Y)
    assert coef.shape == (2 * depth + 1,)
    w = [a + alpha * (b - a) for a, b in zip(wa, wb)]
    direct = _direct_loss(w, X, Y)
    np.testing.assert_allclose(np.polynomial.polynomial.polyval(alpha, coef), direct, rtol=1e-9, atol=1e-9)
    half = dl.line_polynomial(wa, wb, X, Y, convention="half_mse")
    np.testing.assert_allclose(half, coef / 2, rtol=1e-15, atol=0)


@settings(max_examples=30, deadline=None)
@given(a=point, b=point)
def test_scalar_polynomial_agrees_with_general(a, b):
    coef = dl.line_polynomial([[[a[0]]], [[a[1]]]], [[[b[0]]], [[b[1]]]], [[1.0]], [[1.0]])
    np.testing.assert_allclose(coef, dl.line_coefficients(a, b), rtol=1e-12, atol=1e-12)


def test_symbolic_coefficients_expand_to_loss():
    e, s = dl.expressions(), dl.expressions()["line_loss"].free_symbols
    alpha = [x for x in s if x.name == "alpha"][0]
    rebuilt = sum(c * alpha**k for k, c in enumerate(e["line_coefficients"]))
    assert sp.simplify(sp.expand(rebuilt - e["line_loss"])) == 0


@settings(max_examples=40, deadline=None)
@given(a=point, b=point)
def test_barrier_nonnegative_and_is_the_maximum(a, b):
    alphas = np.linspace(0, 1, 2001)
    values = dl.loss_along_line(a, b, alphas)
    for kind in ("rise", "linear"):
        bar = dl.barrier(a, b, kind=kind)
        assert bar.height >= 0
        # rise: above the start value (Frankle 2020); linear: above the chord
        excess = values - (values[0] if kind == "rise" else (1 - alphas) * values[0] + alphas * values[-1])
        # The exact maximum bounds the grid from above and the grid comes close to it.
        scale = 1 + np.max(np.abs(values))
        assert bar.height >= excess.max() - 1e-9 * scale
        assert bar.height <= max(excess.max(), 0) + 1e-4 * scale


@settings(max_examples=20, deadline=None)
@given(a=point)
def test_barrier_zero_for_identical_endpoints(a):
    for kind in ("rise", "linear"):
        assert dl.barrier(a, a, kind=kind).height == 0.0
    assert len(dl.stationary_points(a, a)) == 0


def test_barrier_between_branches_is_the_saddle():
    bar = dl.barrier([1.0, 1.0], [-1.0, -1.0])
    assert bar.height == pytest.approx(1.0, abs=1e-12)
    assert bar.alpha == pytest.approx(0.5, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(a=point, b=point)
def test_stationary_points_zero_derivative(a, b):
    coef = dl.line_coefficients(a, b)
    sp_ = dl.stationary_points(a, b, lo=-2, hi=3)
    deriv = np.polynomial.polynomial.polyder(coef)
    scale = 1 + np.max(np.abs(deriv))
    for alpha in sp_.alpha:
        assert abs(np.polynomial.polynomial.polyval(alpha, deriv)) <= 1e-6 * scale * (1 + abs(alpha)) ** 3


def test_convex_region_of_quartic():
    # J = (1 − α²)², J'' = 12α² − 4 ≥ 0 for |α| ≥ 1/√3.
    r = 1 / np.sqrt(3)
    got = dl.convex_region([0, 0], [1, 1], -1, 1)
    np.testing.assert_allclose(np.array(got), [[-1, -r], [r, 1]], rtol=0, atol=1e-12)


def _rhs(k):
    def f(t, w):
        r = 1 - w[0] * w[1]
        return [2 * k * r * w[1], 2 * k * r * w[0]]

    return f


@settings(max_examples=20, deadline=None)
@given(w=st.tuples(st.floats(-2, 2), st.floats(-2, 2)).filter(lambda w: abs(w[0] + w[1]) > 0.05))
def test_flow_limit_solves_and_conserves(w):
    lim = dl.gradient_flow_limit(w)
    assert lim[0] * lim[1] == pytest.approx(1.0, rel=1e-12)
    assert lim[0] ** 2 - lim[1] ** 2 == pytest.approx(w[0] ** 2 - w[1] ** 2, rel=1e-10, abs=1e-12)
    assert np.sign(lim[0] + lim[1]) == np.sign(w[0] + w[1])


@pytest.mark.parametrize("convention,k", [("mse", 1.0), ("half_mse", 0.5)])
@pytest.mark.parametrize("w0", [(0.1, 0.05), (-0.3, 0.7), (2.0, -0.5), (0.01, 0.01), (1.5, 2.0)])
def test_flow_matches_numerical_integration(w0, convention, k):
    times = np.array([0.0, 0.5, 1.0, 3.0, 10.0, 40.0])
    sol = solve_ivp(_rhs(k), (0, times[-1]), w0, t_eval=times, rtol=1e-11, atol=1e-13, method="DOP853")
    closed = dl.gradient_flow(w0, times, convention)
    np.testing.assert_allclose(closed, sol.y.T, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(closed[0], w0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dl.gradient_flow(w0, [np.inf], convention)[0], dl.gradient_flow_limit(w0), rtol=1e-12)


def test_flow_satisfies_riccati_symbolically():
    e = dl.expressions()
    t = [x for x in e["u_t"].free_symbols if x.name == "t"][0]
    u = [x for x in e["u_rate"].free_symbols if x.name == "u"][0]
    residual = sp.diff(e["u_t"], t) - e["u_rate"].subs(u, e["u_t"])
    values = {x: v for x, v in zip(sorted(residual.free_symbols, key=str), [0.3, 0.7, 0.5, 1.3])}
    assert abs(float(residual.subs(values))) < 1e-12


@pytest.mark.parametrize("w0,name", [((0.4, -0.4), "anti_diagonal"), ((0.0, 0.0), "origin")])
def test_degenerate_inits(w0, name):
    assert dl.classify_init(w0) == name
    with pytest.raises(dl.DegenerateInitError, match=name):
        dl.gradient_flow_limit(w0)
    np.testing.assert_array_equal(dl.gradient_flow_limit(w0, on_degenerate="saddle"), [0.0, 0.0])
    # The flow slides into the saddle: compare with numerical integration.
    times = np.array([0.0, 0.5, 2.0, 10.0])
    sol = solve_ivp(_rhs(1.0), (0, 10), w0, t_eval=times, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(dl.gradient_flow(w0, times), sol.y.T, rtol=1e-7, atol=1e-10)
    with pytest.raises(ValueError, match="on_degenerate"):
        dl.gradient_flow_limit(w0, on_degenerate="ignore")


def test_errors_name_value_and_choices():
    with pytest.raises(ValueError, match=r"unknown system 'x'; choose from \['deep_linear'"):
        dl.system("x")
    with pytest.raises(ValueError, match=r"unknown convention 'sum'"):
        dl.loss_along_line([0, 0], [1, 1], [0.5], convention="sum")
    with pytest.raises(ValueError, match=r"unknown barrier kind 'max'"):
        dl.barrier([0, 0], [1, 1], kind="max")
    with pytest.raises(ValueError, match="shape"):
        dl.line_polynomial([np.ones((2, 3))], [np.ones((2, 2))], np.ones((3, 1)), np.ones((2, 1)))


def test_named_systems_parse():
    s = dl.system("deep_linear_L3_w5", seed=2)
    assert (s.depth, s.width) == (3, 5)
    np.testing.assert_allclose(s.X @ s.X.T / s.X.shape[1], np.eye(5), atol=1e-12)
    np.testing.assert_array_equal(s.Y, dl.system("deep_linear_L3_w5", seed=2).Y)


ANALYSES = ["init_to_final", "final_to_final", "random_to_final"]


@pytest.mark.parametrize("system", ["deep_linear", "deep_linear_L2_w3", "deep_linear_L3_w4"])
@pytest.mark.parametrize("analysis", ANALYSES)
def test_analyses_schema_and_limits(system, analysis):
    alphas = np.linspace(0, 1, 21)
    ds = getattr(dl, analysis)(system=system, n_replicates=3, seed=1, alphas=alphas)
    validate(ds)
    assert ds.loss.dims == ("replicate", "alpha")
    assert bool(ds.error.isnull().all())
    assert float(ds.distance.isel(alpha=0).max()) == 0.0
    # Every line ends at a solution (J = 0), also at both ends for final_to_final.
    np.testing.assert_allclose(ds.loss.isel(alpha=-1), 0.0, atol=1e-18)
    if analysis == "final_to_final":
        np.testing.assert_allclose(ds.loss.isel(alpha=0), 0.0, atol=1e-18)
    assert bool((ds.barrier_height >= 0).all())
    again = getattr(dl, analysis)(system=system, n_replicates=3, seed=1, alphas=alphas)
    np.testing.assert_array_equal(ds.loss, again.loss)


def test_final_to_final_across_branches_has_unit_barrier():
    ds = dl.final_to_final(n_replicates=16, seed=0)
    h = ds.barrier_height.values
    # Small inits end near (±1, ±1): barrier ≈ 0 on one branch, ≈ 1 across branches.
    assert np.all((h < 1e-3) | (np.abs(h - 1) < 1e-2))
    assert np.any(h > 0.5)


@pytest.mark.parametrize("system", ["deep_linear", "deep_linear_L2_w3"])
def test_from_time_and_trajectory(system):
    ds = dl.from_time_to_final([0, 20, 5000], system=system, n_replicates=2)
    validate(ds)
    assert ds.loss.dims == ("replicate", "start_iteration", "alpha")
    np.testing.assert_allclose(ds.loss.isel(start_iteration=-1), 0.0, atol=1e-16)
    init = dl.init_to_final(system=system, n_replicates=2)
    np.testing.assert_allclose(ds.loss.isel(start_iteration=0), init.loss, rtol=1e-9, atol=1e-14)
    tr = dl.trajectory(np.arange(0, 5001, 100), system=system, n_replicates=2)
    validate(tr)
    np.testing.assert_allclose(tr.projection.isel(step=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(tr.residual.isel(step=0), 0.0, atol=1e-10)
    dist = init.distance.isel(alpha=-1).values
    np.testing.assert_allclose(tr.projection.isel(step=-1), dist, rtol=1e-8)
    np.testing.assert_allclose(tr.residual.isel(step=-1), 0.0, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(a=point, b=point)
def test_exact_barriers_agree_with_the_metrics_on_a_fine_grid(a, b):
    # theory and measurement share one definition of each barrier
    from landscapes import metrics
    from landscapes.results import slice_dataset

    alphas = np.linspace(0, 1, 4001)
    ds = slice_dataset(dl.loss_along_line(a, b, alphas), alpha=alphas, analysis="t", system="s")
    scale = 1 + float(np.max(np.abs(ds.loss)))
    for kind, measure in (("rise", metrics.rise_barrier), ("linear", metrics.linear_barrier)):
        exact = dl.barrier(a, b, kind=kind).height
        assert float(measure(ds).height) == pytest.approx(exact, abs=1e-5 * scale)
