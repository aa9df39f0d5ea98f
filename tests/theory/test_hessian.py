"""Tests of theory.hessian: the exact Hessian against differences, torch, and known limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landscapes.results import validate
from theory import _hessian_matrix, deep_linear
from theory import hessian as th
from theory._systems import parse_system
from theory.quadratic import problem

SYSTEMS = ("deep_linear", "deep_linear_L1_w1", "deep_linear_L3_w1", "deep_linear_L4_w1",
           "deep_linear_L2_w2", "deep_linear_L3_w2")
ALPHAS = np.array([-0.5, 0.0, 0.3, 0.7, 1.0, 1.5])


def _direct_loss(theta, sys, k):
    # The loss written out again from the definition, independent of DeepLinearSystem.loss.
    out = sys.X
    for w in sys.unflatten(theta):
        out = w @ out
    return k * np.sum((out - sys.Y) ** 2) / sys.X.shape[1]


def _difference_hessian(theta, sys, k, h=1e-3):
    P = theta.size
    H = np.empty((P, P))
    eye = h * np.eye(P)
    for i in range(P):
        for j in range(P):
            f = lambda s, t: _direct_loss(theta + s * eye[i] + t * eye[j], sys, k)  # noqa: E731
            H[i, j] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * h * h)
    return H


def _line_points(name):
    a = deep_linear.anchors(name, n_replicates=2)
    return a["init"][:, None] + ALPHAS[:, None] * (a["final"] - a["init"])[:, None]


@pytest.mark.parametrize("convention", ["mse", "half_mse"])
@pytest.mark.parametrize("name", SYSTEMS)
def test_hessian_matches_finite_differences_on_init_to_final_lines(name, convention):
    sys = parse_system(name)
    k = {"mse": 1.0, "half_mse": 0.5}[convention]
    thetas = _line_points(name).reshape(-1, sys.n_parameters)
    exact = th.hessian(thetas, name, convention)
    for theta, H in zip(thetas, exact):
        # h = 1e-3 leaves a truncation error of order h² times fourth derivatives.
        np.testing.assert_allclose(H, _difference_hessian(theta, sys, k), rtol=1e-5, atol=1e-5)


def test_sympy_and_matrix_forms_agree_at_width_one():
    rng = np.random.default_rng(1)
    for depth in (1, 2, 3, 5):
        sys = parse_system(f"deep_linear_L{depth}_w1")
        theta = rng.standard_normal((7, depth))
        np.testing.assert_allclose(
            th.hessian(theta, sys), _hessian_matrix.hessian(theta, depth, 1, sys.X, sys.Y, 1.0),
            rtol=1e-12, atol=1e-12,
        )


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_hessian_vanishes_at_the_origin_for_depth_three_and_more(depth):
    for name in (f"deep_linear_L{depth}_w1", f"deep_linear_L{depth}_w2"):
        sys = parse_system(name)
        assert np.all(th.hessian(np.zeros(sys.n_parameters), sys) == 0.0)


@pytest.mark.parametrize("convention, k", [("mse", 1.0), ("half_mse", 0.5)])
@pytest.mark.parametrize("name", ["deep_linear", "deep_linear_L2_w1"])
def test_depth_two_origin_is_a_saddle_with_eigenvalues_of_the_cross_moment(name, convention, k):
    sys = parse_system(name)
    _, mxy, _ = th.data_moments(sys)
    lam = th.spectrum(th.hessian([0.0, 0.0], sys, convention))["eigenvalues"]
    np.testing.assert_allclose(lam, [-2 * k * abs(mxy), 2 * k * abs(mxy)], rtol=1e-12)


@pytest.mark.parametrize("convention, k", [("mse", 1.0), ("half_mse", 0.5)])
def test_depth_one_hessian_is_the_second_moment_at_the_solution_and_everywhere(convention, k):
    sys = parse_system("deep_linear_L1_w1")
    mxx, mxy, _ = th.data_moments(sys)
    solution = np.array([mxy / mxx])
    for theta in (solution, solution + 3.0, -solution):
        np.testing.assert_allclose(th.hessian(theta, sys, convention), [[2 * k * mxx]], rtol=1e-12)
    # the solution is where the gradient vanishes: J is minimal there
    assert th.hessian(solution, sys, convention)[0, 0] > 0


def test_scalar_solution_hessian_is_rank_one_along_the_gradient_of_the_product():
    # On w1 w2 = 1 the residual vanishes, leaving 2κ m_xx ∇p ∇pᵀ.
    for w1 in (0.5, 1.0, -2.0):
        w = np.array([w1, 1 / w1])
        lam = th.spectrum(th.hessian(w))["eigenvalues"]
        grad_p = w[::-1]
        np.testing.assert_allclose(lam, [0.0, 2 * grad_p @ grad_p], atol=1e-12)


matrices = st.integers(1, 6).flatmap(
    lambda n: st.lists(st.floats(-5, 5, allow_nan=False), min_size=n * n, max_size=n * n).map(
        lambda v: np.asarray(v).reshape(n, n)))


@settings(max_examples=60, deadline=None)
@given(m=matrices, seed=st.integers(0, 2**16))
def test_spectrum_is_consistent(m, seed):
    h = m + m.T
    n = h.shape[0]
    v = np.random.default_rng(seed).standard_normal(n)
    s = th.spectrum(h, direction=v)
    scale = 1 + np.abs(h).max()
    np.testing.assert_allclose(s["hessian_trace"], s["eigenvalues"].sum(), atol=1e-10 * scale * n)
    assert np.all(np.diff(s["top_eigenvalue"]) <= 0)
    assert np.all(np.diff(s["bottom_eigenvalue"]) >= 0)
    for order, moment in zip(th.MOMENTS, s["density_moment"]):
        expected = np.trace(np.linalg.matrix_power(h, order)) / n
        np.testing.assert_allclose(moment, expected, rtol=1e-8, atol=1e-8 * scale**order)
    lo, hi = s["bottom_eigenvalue"][0], s["top_eigenvalue"][0]
    assert lo - 1e-9 * scale <= s["curvature_along"] <= hi + 1e-9 * scale


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 4), width=st.integers(1, 2), seed=st.integers(0, 2**16),
       scale=st.floats(0.1, 2.0))
def test_hessian_is_symmetric_and_its_quadratic_form_is_j_second_derivative(depth, width, seed,
                                                                            scale):
    sys = parse_system(f"deep_linear_L{depth}_w{width}")
    rng = np.random.default_rng(seed)
    a, v = scale * rng.standard_normal((2, sys.n_parameters))
    H = th.hessian(a, sys)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12 * (1 + np.abs(H).max()))
    # J(a + αv) is the exact polynomial of line_polynomial; its J''(0) is vᵀHv.
    coef = deep_linear.line_polynomial(sys.unflatten(a), sys.unflatten(a + v), sys.X, sys.Y)
    np.testing.assert_allclose(v @ H @ v, 2 * coef[2], rtol=1e-8, atol=1e-8 * (1 + abs(coef[2])))


def test_deep_linear_line_dataset():
    a = deep_linear.anchors("deep_linear_L3_w2", n_replicates=2)
    ds = th.deep_linear_line(a["init"], a["final"], ALPHAS, "deep_linear_L3_w2", k=3)
    validate(ds)
    assert ds.top_eigenvalue.dims == ("replicate", "alpha", "eigen")
    assert ds.density_moment.dims == ("replicate", "alpha", "moment")
    assert ds.moment.values.tolist() == [1, 2, 3, 4] and ds.sizes["eigen"] == 3
    assert (ds.top_eigenvalue.diff("eigen") <= 0).all()
    assert (ds.bottom_eigenvalue.diff("eigen") >= 0).all()
    H = th.hessian_along_line(a["init"], a["final"], ALPHAS, "deep_linear_L3_w2")
    d = a["final"] - a["init"]
    along = np.einsum("ri,raij,rj->ra", d, H, d) / np.sum(d * d, axis=-1)[:, None]
    np.testing.assert_allclose(ds.curvature_along.values, along, rtol=1e-12)
    np.testing.assert_allclose(ds.hessian_trace.values, np.trace(H, axis1=-2, axis2=-1), rtol=1e-12)
    # the loss is the same line the closed-form analysis draws
    ref = deep_linear.init_to_final("deep_linear_L3_w2", n_replicates=2, alphas=ALPHAS)
    np.testing.assert_allclose(ds.loss.values, ref.loss.values, rtol=1e-9, atol=1e-12)


def test_quadratic_line_matches_the_dense_hessian():
    p = problem(30, n_levels=5, seed=3)
    ds = th.quadratic_line(p, alphas=[0.0, 0.5, 1.0], k=30)
    validate(ds)
    s = th.spectrum(th.quadratic_hessian(p), direction=p.solution - p.start)
    for name in ("top_eigenvalue", "bottom_eigenvalue", "density_moment"):
        expected = np.broadcast_to(s[name], ds[name].shape)
        np.testing.assert_allclose(ds[name].values, expected, rtol=1e-12)
    for name in ("hessian_trace", "curvature_along"):
        np.testing.assert_allclose(ds[name].values, float(s[name]), rtol=1e-12)
    expected = [p.loss(p.start), p.loss(0.5 * (p.start + p.solution)), 0.0]
    np.testing.assert_allclose(ds.loss.values, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: th.hessian([1.0, 2.0, 3.0]), "last axis of length 2"),
        (lambda: th.hessian([np.nan, 1.0]), "must be finite"),
        (lambda: th.hessian([1.0, 1.0], convention="l1"), "unknown convention"),
        (lambda: th.hessian([1.0, 1.0], system="mlp"), "unknown system"),
        (lambda: th.spectrum(np.ones((2, 3))), r"shape \(\.\.\., P, P\)"),
        (lambda: th.spectrum(np.eye(2), k=3), "k must be <= P"),
        (lambda: th.deep_linear_line([0, 0], [1, 1], k=0), "positive integer"),
        (lambda: th.hessian_expression(0), "positive integer"),
        (lambda: th.quadratic_line("q"), "QuadraticProblem"),
    ],
)
def test_bad_input_raises_one_clear_line(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_hessian_matches_torch_func_hessian_of_the_torch_twin():
    torch = pytest.importorskip("torch")
    from experiments.models.deep_linear import DeepLinear, squared_error, state_from_vector

    for name in ("deep_linear", "deep_linear_L3_w1", "deep_linear_L3_w2"):
        sys = parse_system(name)
        net = DeepLinear(sys.depth, sys.width)
        x = torch.as_tensor(sys.X.T, dtype=torch.float64)
        y = torch.as_tensor(sys.Y.T, dtype=torch.float64)
        loss_fn = squared_error(0.5)

        def loss(vector):
            params = state_from_vector(vector, sys.depth, sys.width)
            return loss_fn(torch.func.functional_call(net, params, (x,)), y)

        for theta in _line_points(name).reshape(-1, sys.n_parameters):
            expected = torch.func.hessian(loss)(torch.as_tensor(theta, dtype=torch.float64)).numpy()
            np.testing.assert_allclose(th.hessian(theta, sys, "half_mse"), expected,
                                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_sympy_hessian_is_the_documented_formula(depth):
    import sympy as sp

    e = th.hessian_expression(depth)
    w, (mxx, mxy, _, k) = e["weights"], e["data"]
    p = sp.Mul(*w)
    for i in range(depth):
        for j in range(depth):
            # ∂_i∂_j p is zero on the diagonal: p is linear in each weight.
            second = 0 if i == j else sp.Mul(*(w[m] for m in range(depth) if m not in (i, j)))
            gauss_newton = mxx * sp.diff(p, w[i]) * sp.diff(p, w[j])
            documented = 2 * k * (gauss_newton + (p * mxx - mxy) * second)
            assert sp.simplify(e["hessian"][i, j] - documented) == 0


@pytest.mark.parametrize("name", ["deep_linear", "deep_linear_L3_w2"])
def test_curvature_analyses_run_on_the_closed_form_lines(name):
    alphas = [0.0, 0.5, 1.0]
    ds = th.init_to_final(name, n_replicates=2, alphas=alphas)
    ref = deep_linear.init_to_final(name, n_replicates=2, alphas=alphas)
    np.testing.assert_allclose(ds.loss.values, ref.loss.values, rtol=1e-9, atol=1e-12)
    ff = th.final_to_final(name, n_replicates=2, alphas=alphas)
    for end in (ds.isel(alpha=-1), ff.isel(alpha=0), ff.isel(alpha=-1)):
        # A solution is a minimum: H is positive semi-definite there (to rounding),
        # and the loss is zero so H = Gauss–Newton term only.
        scale = float(end.top_eigenvalue.max())
        assert float(end.bottom_eigenvalue.min()) > -1e-7 * scale
    assert ds.attrs["analysis"] == "curvature_init_to_final"
    assert ff.attrs["analysis"] == "curvature_final_to_final"
