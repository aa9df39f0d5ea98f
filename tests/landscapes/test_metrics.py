"""Properties of the curve metrics in landscapes.metrics."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from landscapes import metrics
from landscapes.results import slice_dataset

FAST = settings(max_examples=40, deadline=None)

# Integer-valued curves and integer shifts/scales keep every difference exact in
# float64, so invariances can be asserted with == rather than a tolerance.
int_curves = st.lists(st.integers(-50, 50), min_size=3, max_size=25).map(
    lambda v: np.asarray(v, dtype=float)
)
shifts = st.integers(-1000, 1000)
scales = st.integers(1, 64)


def curve(values, grid=None, dim="alpha") -> xr.DataArray:
    values = np.asarray(values, dtype=float)
    grid = np.arange(values.shape[-1], dtype=float) if grid is None else np.asarray(grid)
    return xr.DataArray(values, dims=dim, coords={dim: grid})


@st.composite
def grids(draw, n: int) -> np.ndarray:
    """A strictly increasing, generally non-uniform grid of n points."""
    gaps = draw(st.lists(st.floats(0.05, 3.0), min_size=n - 1, max_size=n - 1))
    start = draw(st.floats(-2.0, 2.0))
    return start + np.concatenate([[0.0], np.cumsum(gaps)])


# ------------------------------------------------------------------- reference versions


def brute_bump(L: np.ndarray) -> float:
    return max(L[j] - min(L[: j + 1]) for j in range(len(L)))


def brute_minima(L: np.ndarray, include_endpoints: bool) -> int:
    runs = [L[0]]
    for v in L[1:]:
        if v != runs[-1]:
            runs.append(v)
    if len(runs) == 1:
        return int(include_endpoints)
    count = sum(runs[i - 1] > runs[i] < runs[i + 1] for i in range(1, len(runs) - 1))
    if include_endpoints:
        count += (runs[0] < runs[1]) + (runs[-1] < runs[-2])
    return count


# ---------------------------------------------------------------------------- barriers


@FAST
@given(int_curves, shifts)
def test_barriers_and_bump_unchanged_by_shift(L, c):
    a, b = curve(L), curve(L + c)
    for f in (metrics.rise_barrier, metrics.monotonicity):
        ra, rb = f(a), f(b)
        for name in ra.data_vars:
            xr.testing.assert_identical(ra[name], rb[name])
    np.testing.assert_allclose(
        metrics.linear_barrier(a).height, metrics.linear_barrier(b).height, atol=1e-9
    )


@FAST
@given(int_curves, scales)
def test_barriers_scale_with_positive_factor(L, k):
    a, b = curve(L), curve(k * L)
    assert float(metrics.rise_barrier(b).height) == k * float(metrics.rise_barrier(a).height)
    assert float(metrics.monotonicity(b).bump) == k * float(metrics.monotonicity(a).bump)
    np.testing.assert_allclose(
        metrics.linear_barrier(b).height, k * metrics.linear_barrier(a).height, atol=1e-9
    )
    xr.testing.assert_identical(metrics.rise_barrier(a).location, metrics.rise_barrier(b).location)


@FAST
@given(int_curves, shifts, scales)
def test_verdicts_and_positions_invariant_to_affine_change_of_loss(L, c, k):
    a, b = curve(L), curve(k * L + c)
    assert bool(metrics.monotonicity(a).monotone) == bool(metrics.monotonicity(b).monotone)
    for flag in (False, True):
        xr.testing.assert_identical(
            metrics.local_minima(a, include_endpoints=flag),
            metrics.local_minima(b, include_endpoints=flag),
        )
    ca, cb = metrics.convexity(a, tol=0.0), metrics.convexity(b, tol=0.0)
    assert float(ca.share) == float(cb.share)
    assert bool(ca.convex) == bool(cb.convex)
    np.testing.assert_allclose(ca.gap, cb.gap, atol=1e-9)
    np.testing.assert_allclose(metrics.half_drop_alpha(a), metrics.half_drop_alpha(b),
                               rtol=1e-12)


@FAST
@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30))
def test_barriers_are_non_negative_and_located_at_their_peak(values):
    L = np.asarray(values)
    grid = np.linspace(0, 1, len(L))
    for f in (metrics.rise_barrier, metrics.linear_barrier):
        res = f(curve(L, grid))
        assert float(res.height) >= 0
        assert np.isnan(res.location) == (float(res.height) == 0)
    rise = metrics.rise_barrier(curve(L, grid))
    assert float(rise.height) == max(L.max() - L[0], 0.0)
    if float(rise.height) > 0:
        assert L[grid == float(rise.location)][0] == L.max()


@FAST
@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30))
def test_non_increasing_curve_has_no_barrier_and_is_monotone(values):
    L = np.sort(values)[::-1]
    da = curve(L)
    assert float(metrics.rise_barrier(da).height) == 0
    mono = metrics.monotonicity(da)
    assert bool(mono.monotone) and float(mono.bump) == 0


@FAST
@given(st.floats(-10, 10), st.floats(-10, 10), st.integers(3, 30), st.data())
def test_linear_barrier_of_a_straight_line_is_zero(slope, intercept, n, data):
    grid = data.draw(grids(n))
    res = metrics.linear_barrier(curve(intercept + slope * grid, grid))
    assert float(res.height) == 0
    assert np.isnan(res.location)


def test_linear_barrier_of_a_subnormal_straight_line_is_zero():
    # found by the test above: rounding among subnormals is absolute, not relative
    grid = np.array([0.0, 0.0625, 0.125])
    assert float(metrics.linear_barrier(curve(2.225073858507e-311 * grid, grid)).height) == 0


def test_linear_barrier_measures_bump_over_the_chord():
    grid = np.linspace(0, 1, 11)
    L = 3 - 2 * grid + 0.5 * np.sin(np.pi * grid)  # chord 3 − 2α, bump peaks at α = 0.5
    res = metrics.linear_barrier(curve(L, grid))
    assert float(res.height) == pytest.approx(0.5)
    assert float(res.location) == pytest.approx(0.5)
    # The start is the highest point, so there is no rise barrier, only a chord barrier.
    assert float(metrics.rise_barrier(curve(L, grid)).height) == 0


# ------------------------------------------------------------------------ monotonicity


@FAST
@given(int_curves)
def test_bump_matches_its_definition(L):
    res = metrics.monotonicity(curve(L))
    assert float(res.bump) == brute_bump(L)
    assert bool(res.monotone) == bool(np.all(np.diff(L) <= 0))


@FAST
@given(int_curves, st.floats(0, 1))
def test_monotone_tolerance_is_relative_to_range(L, rtol):
    res = metrics.monotonicity(curve(L), rtol=rtol)
    assert bool(res.monotone) == (brute_bump(L) <= rtol * (L.max() - L.min()))


def test_monotonicity_rejects_bad_rtol():
    with pytest.raises(ValueError, match=r"-0\.1"):
        metrics.monotonicity(curve([3.0, 2.0, 1.0]), rtol=-0.1)


# -------------------------------------------------------------------------- convexity


def test_parabola_convex_one_minimum_monotone_on_decreasing_half():
    grid = np.linspace(-0.5, 1.5, 41)
    da = curve((grid - 0.7) ** 2, grid)
    conv = metrics.convexity(da, tol=0.0)
    assert float(conv.share) == 1.0 and bool(conv.convex) and float(conv.gap) == 0
    assert float(metrics.local_minima(da)) == 1
    assert bool(metrics.monotonicity(da.sel(alpha=slice(None, 0.7))).monotone)
    assert not bool(metrics.monotonicity(da).monotone)


@FAST
@given(st.integers(3, 30), st.floats(-5, 5), st.data())
def test_convexity_on_non_uniform_grid(n, centre, data):
    grid = data.draw(grids(n))
    # Scaled to the grid so that every second difference is well above rounding.
    s = (grid - grid[0]) / (grid[-1] - grid[0])
    for shape in ((s - centre) ** 2, np.exp(3 * s), np.cosh(4 * s - 2)):
        convex = metrics.convexity(curve(shape, grid), tol=0.0)
        assert float(convex.share) == 1.0 and bool(convex.convex)
        concave = metrics.convexity(curve(-shape, grid), tol=0.0)
        assert float(concave.share) == 0.0
        assert float(concave.gap) > 0 and not bool(concave.convex)


def test_second_difference_exact_for_quadratic_on_uneven_grid():
    # A kink that a uniform-grid formula would misjudge: a convex quadratic sampled on
    # a very uneven grid must still score as convex everywhere.
    grid = np.array([0.0, 0.01, 0.02, 1.0, 1.01, 3.0])
    assert float(metrics.convexity(curve(grid**2 - 3 * grid, grid)).share) == 1.0


@FAST
@given(int_curves)
def test_exact_convexity_agrees_with_share(L):
    res = metrics.convexity(curve(L), tol=0.0)
    assert bool(res.convex) == (float(res.share) == 1.0)
    assert 0 <= float(res.gap) <= 1


@FAST
@given(int_curves, st.floats(0, 0.5))
def test_convex_verdict_is_gap_within_tol(L, tol):
    res = metrics.convexity(curve(L), tol=tol)
    assert bool(res.convex) == (float(res.gap) <= max(tol, 1e-9))


def test_plateau_then_late_drop_is_not_approximately_convex():
    grid = np.linspace(0, 1, 21)
    L = np.where(grid < 0.8, 2.0, 2.0 - 10 * (grid - 0.8))  # Frankle (2020) shape
    res = metrics.convexity(curve(L, grid))
    assert not bool(res.convex)
    assert float(res.gap) > 0.5


def test_constant_curve_is_convex_and_monotone():
    da = curve(np.ones(5))
    assert bool(metrics.convexity(da, tol=0).convex)
    assert bool(metrics.monotonicity(da).monotone)
    assert float(metrics.local_minima(da)) == 0
    assert float(metrics.local_minima(da, include_endpoints=True)) == 1


def test_convexity_rejects_bad_tol():
    with pytest.raises(ValueError, match="nan"):
        metrics.convexity(curve([1.0, 0.0, 1.0]), tol=float("nan"))


# ------------------------------------------------------------------------ local minima


@FAST
@given(int_curves, st.booleans())
def test_local_minima_matches_run_length_definition(L, include):
    got = metrics.local_minima(curve(L), include_endpoints=include)
    assert float(got) == brute_minima(L, include)


@pytest.mark.parametrize("periods", [1, 2, 3, 5])
def test_sinusoid_minima_count(periods):
    x = np.linspace(0, 2 * np.pi * periods, 50 * periods + 1)
    # sin has troughs at 3π/2 + 2πm; the grid stops at a zero crossing going up.
    expected = sum(0 < 1.5 * np.pi + 2 * np.pi * m < x[-1] for m in range(periods + 1))
    assert float(metrics.local_minima(curve(np.sin(x), x))) == expected
    # cos starts and ends at a peak, so endpoints never add a minimum.
    assert float(metrics.local_minima(curve(np.cos(x), x), include_endpoints=True)) == periods


def test_endpoint_dips_do_not_count_by_default():
    grid = np.linspace(-0.5, 1.5, 21)
    L = (grid - 1) ** 2
    L[0] = L[1] - 0.1  # a spurious dip at the boundary
    assert float(metrics.local_minima(curve(L, grid))) == 1
    assert float(metrics.local_minima(curve(L, grid), include_endpoints=True)) == 2


def test_plateau_counts_once():
    assert float(metrics.local_minima(curve([3.0, 1.0, 1.0, 1.0, 2.0]))) == 1


# --------------------------------------------------------------------------- half drop


@FAST
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=25), st.data())
def test_half_drop_crosses_the_half_way_value_first(values, data):
    L = np.asarray(values)
    grid = data.draw(grids(len(L)))
    got = float(metrics.half_drop_alpha(curve(L, grid)))
    if not L[-1] < L[0]:
        assert np.isnan(got)
        return
    target = (L[0] + L[-1]) / 2
    assume(np.all(np.abs(L - target) > 1e-9))  # exact touches are an edge of rounding
    assert grid[0] <= got <= grid[-1]
    assert np.interp(got, grid, L) == pytest.approx(target, abs=1e-6)
    assert np.all(L[grid < got] > target)


def test_half_drop_of_linear_decrease_is_midpoint():
    grid = np.linspace(0, 1, 7)
    assert float(metrics.half_drop_alpha(curve(5 - 4 * grid, grid))) == pytest.approx(0.5)


# ------------------------------------------------------------------------ broadcasting


def test_broadcasting_matches_a_loop():
    rng = np.random.default_rng(0)
    grid = np.linspace(-0.5, 1.5, 17)
    values = rng.normal(size=(3, 2, 17)).cumsum(axis=-1)
    ds = slice_dataset(
        values, alpha=grid, dims=("replicate", "split", "alpha"),
        coords={"replicate": [0, 1, 2], "split": ["train", "test"]},
        analysis="demo", system="toy",
    )
    calls = {
        "rise_barrier": lambda d: metrics.rise_barrier(d).height,
        "linear_barrier": lambda d: metrics.linear_barrier(d).location,
        "monotonicity": lambda d: metrics.monotonicity(d).bump,
        "convexity": lambda d: metrics.convexity(d).gap,
        "share": lambda d: metrics.convexity(d).share,
        "local_minima": lambda d: metrics.local_minima(d),
        "half_drop_alpha": lambda d: metrics.half_drop_alpha(d),
    }
    for name, call in calls.items():
        stacked = call(ds)
        assert stacked.dims == ("replicate", "split"), name
        for r in range(3):
            for s in ("train", "test"):
                single = call(ds.sel(replicate=r, split=s))
                assert float(stacked.sel(replicate=r, split=s)) == float(single) or (
                    np.isnan(stacked.sel(replicate=r, split=s)) and np.isnan(single)
                ), name


def test_other_dim_and_beta_broadcast():
    a, b = np.linspace(0, 1, 5), np.linspace(-1, 1, 4)
    L = (a[:, None] - 0.5) ** 2 + b[None, :]
    ds = slice_dataset(L, alpha=a, beta=b, analysis="plane", system="toy")
    assert metrics.local_minima(ds).dims == ("beta",)
    along_beta = metrics.monotonicity(ds, dim="beta").monotone
    assert along_beta.dims == ("alpha",) and not bool(along_beta.any())


# ------------------------------------------------------------------- non-finite values


def test_nan_anywhere_gives_nan_not_errors():
    L = curve([3.0, np.nan, 1.0, 2.0, 0.0])
    for res in (metrics.rise_barrier(L), metrics.linear_barrier(L)):
        assert np.isnan(res.height) and np.isnan(res.location)
    mono, conv = metrics.monotonicity(L), metrics.convexity(L)
    assert np.isnan(mono.bump) and not bool(mono.monotone)
    assert np.isnan(conv.share) and np.isnan(conv.gap) and not bool(conv.convex)
    assert np.isnan(metrics.local_minima(L))
    assert np.isnan(metrics.half_drop_alpha(L))


def test_interior_inf_is_an_infinite_barrier():
    L = curve([2.0, np.inf, 1.0, 0.0])
    assert float(metrics.rise_barrier(L).height) == np.inf
    assert float(metrics.rise_barrier(L).location) == 1.0
    assert float(metrics.linear_barrier(L).height) == np.inf
    assert float(metrics.monotonicity(L).bump) == np.inf
    assert not bool(metrics.monotonicity(L, rtol=1.0).monotone)
    assert float(metrics.local_minima(L)) == 0
    assert float(metrics.half_drop_alpha(L)) == pytest.approx(2.0)
    assert np.isnan(metrics.convexity(L).share)


def test_infinite_start_is_ordered_not_an_error():
    L = curve([np.inf, np.inf, 3.0, 1.0, 2.0])
    assert float(metrics.rise_barrier(L).height) == 0
    assert float(metrics.monotonicity(L).bump) == 1.0
    assert float(metrics.local_minima(L)) == 1
    assert np.isnan(metrics.linear_barrier(L).height)
    assert np.isnan(metrics.half_drop_alpha(L))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("func", [
    metrics.rise_barrier, metrics.linear_barrier, metrics.monotonicity,
    metrics.convexity, metrics.local_minima, metrics.half_drop_alpha,
])
def test_validation_errors_name_the_offending_value(func):
    a = np.linspace(0, 1, 5)
    ds = slice_dataset(a**2, alpha=a, analysis="demo", system="toy")
    with pytest.raises(ValueError, match=r"'lose'.*'error', 'loss'"):
        func(ds, var="lose")
    with pytest.raises(ValueError, match=r"'gamma'.*\['alpha'\]"):
        func(ds, dim="gamma")
    with pytest.raises(ValueError, match="at least"):
        func(ds.isel(alpha=[0]))
    with pytest.raises(ValueError, match="strictly increasing"):
        func(ds.isel(alpha=[4, 3, 2, 1, 0]))
    with pytest.raises(TypeError, match="list"):
        func([1.0, 2.0, 3.0])


def test_three_points_needed_where_shape_needs_an_interior_point():
    two = curve([1.0, 0.0])
    for func in (metrics.linear_barrier, metrics.convexity, metrics.local_minima):
        with pytest.raises(ValueError, match="at least 3 points"):
            func(two)
    assert float(metrics.rise_barrier(two).height) == 0
