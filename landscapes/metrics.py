"""Shape metrics of loss curves along a slice of parameter space.

Every metric reads one curve per combination of the other dimensions: it takes a slice
dataset (or a DataArray), a variable ``var`` and the dimension ``dim`` that runs along
the path (``"alpha"`` by default), and returns a result with ``dim`` removed and every
other dimension (``replicate``, ``split``, ``beta``, ``system``...) kept, so a stack of
curves gives a stack of results.

Conventions shared by every metric
    * ``dim`` must carry a strictly increasing, finite numeric coordinate (a dimension
      without a coordinate counts as ``0, 1, 2, ...``). "First" and "last" mean the
      smallest and largest coordinate values.
    * Metrics read the whole grid. For an init→final path sampled on
      α ∈ [−0.5, 1.5] (Goodfellow et al. 2015), select the segment of interest first,
      e.g. ``ds.sel(alpha=slice(0, 1))`` for the segment Frankle (2020) studies.
    * Non-finite losses (the engine stores diverged evaluations as ``inf`` or ``nan``):
      a NaN anywhere in a curve makes that curve's numbers NaN and its yes/no verdicts
      ``False`` (a verdict that cannot be checked is not granted). ``±inf`` is ordered
      like any other value: a curve that climbs to ``+inf`` between finite values has
      an infinite barrier, while results the arithmetic cannot define (an infinite
      endpoint for :func:`linear_barrier` or :func:`half_drop_alpha`, any infinity for
      :func:`convexity`) are NaN. No metric raises on non-finite values.
    * Counts are returned as floats so that an undefined curve can report NaN.

References
----------
Goodfellow, Vinyals & Saxe (2015), "Qualitatively characterizing neural network
optimization problems", ICLR.
Frankle (2020), "Revisiting 'qualitatively characterizing neural network optimization
problems'", arXiv:2012.06898.
Frankle, Dziugaite, Roy & Carbin (2020), "Linear mode connectivity and the lottery
ticket hypothesis", ICML.
Entezari, Sedghi, Saukh & Neyshabur (2022), "The role of permutation invariance in
linear mode connectivity of neural networks", ICLR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "rise_barrier",
    "linear_barrier",
    "monotonicity",
    "convexity",
    "local_minima",
    "half_drop_alpha",
    "flattening",
    "bump_barrier",
]

#: Relative slack below which a normalised quantity counts as zero: it absorbs the
#: rounding of differences of nearly equal floats and nothing a plot could show.
_ROUNDOFF = 1e-9


# ----------------------------------------------------------------------------- plumbing


def _curve(
    ds: xr.Dataset | xr.DataArray, var: str, dim: str, min_points: int, metric: str
) -> tuple[xr.DataArray, np.ndarray]:
    """Check the arguments shared by every metric; return the curves and the grid."""
    if isinstance(ds, xr.Dataset):
        if var not in ds.data_vars:
            raise ValueError(
                f"var {var!r} is not a variable of the dataset; "
                f"choose one of {sorted(str(v) for v in ds.data_vars)!r}"
            )
        da = ds[var]
    elif isinstance(ds, xr.DataArray):
        da = ds
    else:
        raise TypeError(
            f"{metric} takes an xarray.Dataset or xarray.DataArray, got {type(ds).__name__}"
        )
    if dim not in da.dims:
        raise ValueError(
            f"dim {dim!r} is not a dimension of {da.name or 'the data'!r}; "
            f"choose one of {[str(d) for d in da.dims]!r}"
        )
    n = da.sizes[dim]
    if n < min_points:
        raise ValueError(
            f"{metric} needs at least {min_points} points along {dim!r}, got {n}"
        )
    if da.dtype.kind not in "biuf":
        raise ValueError(f"{metric} needs numeric values, got dtype {str(da.dtype)!r}")
    grid = np.asarray(da[dim].values)
    if grid.dtype.kind not in "iuf":
        raise ValueError(
            f"coordinate {dim!r} must be numeric, got dtype {str(grid.dtype)!r}"
        )
    grid = grid.astype(float)
    if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
        raise ValueError(
            f"coordinate {dim!r} must be finite and strictly increasing, got {grid!r}; "
            f"sort it with .sortby({dim!r}) and drop repeated points"
        )
    return da.astype(float), grid


def _apply(
    core: Callable[..., Any],
    da: xr.DataArray,
    dim: str,
    n_out: int,
    **kwargs: Any,
) -> Any:
    """Run a numpy core over the last axis of every curve, keeping the other dims."""
    return xr.apply_ufunc(
        core,
        da,
        input_core_dims=[[dim]],
        output_core_dims=[[]] * n_out,
        kwargs=kwargs,
        dask="forbidden",
    )


def _result(
    parts: dict[str, tuple[xr.DataArray, str]], metric: str, var: str, dim: str
) -> xr.Dataset:
    out = xr.Dataset({name: arr for name, (arr, _) in parts.items()})
    for name, (_, long_name) in parts.items():
        out[name].attrs["long_name"] = long_name
    out.attrs.update(metric=metric, var=var, dim=dim)
    return out


def _name(ds: xr.Dataset | xr.DataArray, var: str) -> str:
    """What the curves are called in result labels: ``var``, or a DataArray's own name."""
    if isinstance(ds, xr.DataArray):
        return str(ds.name) if ds.name is not None else "values"
    return var


def _take_last(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, idx[..., None], axis=-1)[..., 0]


def _has_nan(L: np.ndarray) -> np.ndarray:
    return np.isnan(L).any(axis=-1)


def _peak(
    excess: np.ndarray, grid: np.ndarray, bad: np.ndarray, key: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Height and location of the largest positive entry of ``excess`` per curve.

    The location is where ``key`` (default ``excess``) is largest; a rise is located by
    the loss itself, since subtracting the start can round distinct peaks into a tie.
    """
    height = excess.max(axis=-1)
    where = (excess if key is None else key).argmax(axis=-1)
    location = np.where(height > 0, grid[where], np.nan)
    return np.where(bad, np.nan, height), np.where(bad, np.nan, location)


# ------------------------------------------------------------------------------ barriers


def _rise_barrier_core(L: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", over="ignore"):
        L0 = L[..., :1]
        # Comparing before subtracting keeps inf − inf (an infinite start) out.
        rise = np.where(L > L0, L - L0, 0.0)
    return _peak(rise, grid, _has_nan(L), key=L)


def rise_barrier(
    ds: xr.Dataset | xr.DataArray, var: str = "loss", dim: str = "alpha"
) -> xr.Dataset:
    """Largest rise of the curve above its starting value (Frankle 2020, Fig. 3).

    The barrier height is

    .. math:: B = \\max\\bigl(0,\\ \\max_\\alpha L(\\alpha) - L(\\alpha_\\text{first})\\bigr),

    the "maximum increase in loss along the linear path" that Frankle (2020, Fig. 3)
    reports between the network at iteration *t* and the trained network. It is zero
    exactly when no point of the path is worse than its start.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.

    Returns
    -------
    xarray.Dataset
        ``height`` (B, in units of ``var``) and ``location`` (the ``dim`` coordinate of
        the highest point, the first one on ties; NaN when ``height`` is 0), each with
        ``dim`` removed. See the module notes for non-finite values.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 2 points, or a coordinate that is
        not strictly increasing.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 5)
    >>> L = xr.DataArray([1.0, 1.5, 2.0, 0.5, 0.0], dims="alpha", coords={"alpha": a})
    >>> res = rise_barrier(L)
    >>> float(res.height), float(res.location)
    (1.0, 0.5)
    >>> descent = xr.DataArray([3.0, 2.0, 2.0, 1.0, 0.0], dims="alpha", coords={"alpha": a})
    >>> res = rise_barrier(descent)  # never above its start
    >>> float(res.height), float(res.location)
    (0.0, nan)
    """
    da, grid = _curve(ds, var, dim, 2, "rise_barrier")
    var = _name(ds, var)
    height, location = _apply(_rise_barrier_core, da, dim, 2, grid=grid)
    return _result(
        {
            "height": (height, f"rise of {var} above its value at the first {dim}"),
            "location": (location, f"{dim} of the highest point"),
        },
        "rise_barrier",
        var,
        dim,
    )


def _excess_core(
    L: np.ndarray, grid: np.ndarray, over_start: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Largest excess over the chord (and, with ``over_start``, over the start too)."""
    t = (grid - grid[0]) / (grid[-1] - grid[0])
    L0, Ln = L[..., :1], L[..., -1:]
    with np.errstate(invalid="ignore", over="ignore"):
        floor_line = (1 - t) * L0 + t * Ln
        if over_start:
            floor_line = np.maximum(L0, floor_line)
        excess = L - floor_line
        # The chord itself is only known to a few ulps of its endpoints (and, among
        # subnormal values, to a few of the smallest steps); below that is rounding.
        info = np.finfo(float)
        floor = 8 * (info.eps * np.maximum(np.abs(L0), np.abs(Ln)) + info.smallest_subnormal)
        excess = np.where(excess > floor, excess, 0.0)
    bad = _has_nan(L) | ~np.isfinite(L0[..., 0]) | ~np.isfinite(Ln[..., 0])
    return _peak(excess, grid, bad)


def linear_barrier(
    ds: xr.Dataset | xr.DataArray, var: str = "loss", dim: str = "alpha"
) -> xr.Dataset:
    """Largest excess of the curve over the chord between its endpoints.

    With :math:`t = (\\alpha - \\alpha_\\text{first}) / (\\alpha_\\text{last} -
    \\alpha_\\text{first})` the normalised position along the grid,

    .. math:: B = \\max\\Bigl(0,\\ \\max_\\alpha \\bigl[L(\\alpha) -
              \\bigl((1 - t)\\,L(\\alpha_\\text{first}) + t\\,L(\\alpha_\\text{last})\\bigr)
              \\bigr]\\Bigr).

    This is the barrier of linear mode connectivity (Frankle et al. 2020, LMC;
    Entezari et al. 2022): two networks are linearly connected when B ≈ 0. Unlike
    :func:`rise_barrier` it does not count the descent from a poor start as a
    barrier only because the end is lower: it measures the bump above the straight
    line. Excesses within a few ulps of the endpoint values count as 0.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.

    Returns
    -------
    xarray.Dataset
        ``height`` (B) and ``location`` (``dim`` coordinate of the largest excess, the
        first on ties; NaN when ``height`` is 0). NaN when an endpoint is not finite.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 3 points, or a coordinate that is
        not strictly increasing.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 5)
    >>> bump = xr.DataArray([0.0, 1.0, 2.0, 1.0, 0.0], dims="alpha", coords={"alpha": a})
    >>> res = linear_barrier(bump)
    >>> float(res.height), float(res.location)
    (2.0, 0.5)
    >>> float(linear_barrier(1 - 2 * bump.alpha).height)  # a straight line
    0.0
    """
    da, grid = _curve(ds, var, dim, 3, "linear_barrier")
    var = _name(ds, var)
    height, location = _apply(_excess_core, da, dim, 2, grid=grid, over_start=False)
    return _result(
        {
            "height": (height, f"excess of {var} over the chord between its endpoints"),
            "location": (location, f"{dim} of the largest excess"),
        },
        "linear_barrier",
        var,
        dim,
    )


def bump_barrier(
    ds: xr.Dataset | xr.DataArray, var: str = "loss", dim: str = "alpha"
) -> xr.Dataset:
    """Height of the curve above both its start and the chord between its ends.

    With :math:`c(\\alpha)` the chord from the first to the last point,

    .. math:: B = \\max\\Bigl(0,\\ \\max_\\alpha \\bigl[L(\\alpha) -
              \\max\\bigl(L(\\alpha_\\text{first}),\\ c(\\alpha)\\bigr)\\bigr]\\Bigr).

    Where the line descends (it ends below its start) this is exactly Frankle's rise
    barrier (:func:`rise_barrier`); where it ascends it is the chord excess
    (:func:`linear_barrier`). So neither of the two shapes that are no obstacle reads
    as a barrier: a test loss that simply ends higher than it starts (overfitting
    after the start point: its rise is positive, its bump 0), nor a descent that is
    concave at first (the flattening near an init: its chord excess is positive, its
    bump 0). What remains is a peak on the way.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.

    Returns
    -------
    xarray.Dataset
        ``height`` (B) and ``location`` (``dim`` coordinate of the largest excess; NaN
        when ``height`` is 0). NaN when an endpoint is not finite.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 5)
    >>> overfit = xr.DataArray([1.0, 1.1, 1.2, 1.3, 1.4], dims="alpha", coords={"alpha": a})
    >>> float(rise_barrier(overfit).height) > 0, float(bump_barrier(overfit).height)
    (True, 0.0)
    >>> concave = xr.DataArray([1.0, 0.95, 0.8, 0.5, 0.0], dims="alpha", coords={"alpha": a})
    >>> float(linear_barrier(concave).height) > 0, float(bump_barrier(concave).height)
    (True, 0.0)
    >>> bump = xr.DataArray([1.0, 1.5, 0.8, 0.4, 0.0], dims="alpha", coords={"alpha": a})
    >>> float(bump_barrier(bump).height), float(bump_barrier(bump).location)
    (0.5, 0.25)
    """
    da, grid = _curve(ds, var, dim, 3, "bump_barrier")
    var = _name(ds, var)
    height, location = _apply(_excess_core, da, dim, 2, grid=grid, over_start=True)
    return _result(
        {
            "height": (height, f"excess of {var} over its start and over the chord"),
            "location": (location, f"{dim} of the largest excess"),
        },
        "bump_barrier",
        var,
        dim,
    )


# -------------------------------------------------------------------------------- shape


def _finite_range(L: np.ndarray) -> np.ndarray:
    """max − min over the finite values of each curve; 0 when there are none."""
    finite = np.isfinite(L)
    hi = np.where(finite, L, -np.inf).max(axis=-1)
    lo = np.where(finite, L, np.inf).min(axis=-1)
    with np.errstate(over="ignore"):  # a range beyond float64 is +inf, not an error
        return np.where(finite.any(axis=-1), hi - lo, 0.0)


def _monotonicity_core(
    L: np.ndarray, grid: np.ndarray, rtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", over="ignore"):
        lowest_so_far = np.minimum.accumulate(L, axis=-1)[..., :-1]
        later = L[..., 1:]
        # Comparing first keeps a run of +inf (inf − inf) from reading as a bump.
        climb = np.where(later > lowest_so_far, later - lowest_so_far, 0.0)
    bad = _has_nan(L)
    bump, location = _peak(climb, grid[1:], bad)
    # rtol = 0 must mean exactly non-increasing even when the range overflows to inf.
    allowed = rtol * _finite_range(L) if rtol > 0 else 0.0
    monotone = ~bad & (bump <= allowed) & np.isfinite(bump)
    return monotone, bump, location


def monotonicity(
    ds: xr.Dataset | xr.DataArray,
    var: str = "loss",
    dim: str = "alpha",
    *,
    rtol: float = 0.0,
) -> xr.Dataset:
    """Is the curve non-increasing, and how large is its worst bump?

    Goodfellow et al. (2015) found the loss to decrease monotonically from
    initialisation to solution; Frankle (2020) found it "roughly monotonically
    non-increasing" with slight rises on ResNets. The worst bump is the largest rise
    above the running minimum,

    .. math:: b = \\max_j \\bigl(L_j - \\min_{i \\le j} L_i\\bigr),

    which is 0 exactly when :math:`L_{j+1} \\le L_j` for all *j*. The curve counts as
    monotone when :math:`b \\le \\text{rtol} \\cdot (\\max L - \\min L)` (the range over
    finite values), so the verdict does not change when *L* is shifted or scaled by a
    positive factor.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path; "non-increasing" is with respect to increasing
        ``dim``.
    rtol : float
        Largest bump tolerated, as a fraction of the curve's range; 0 asks for an
        exactly non-increasing curve.

    Returns
    -------
    xarray.Dataset
        ``monotone`` (bool; ``False`` for a curve with NaN), ``bump`` (*b*, in units of
        ``var``) and ``location`` (``dim`` coordinate where the worst bump peaks; NaN
        when ``bump`` is 0).

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 2 points, a coordinate that is
        not strictly increasing, or a negative or non-finite ``rtol``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 6)
    >>> L = xr.DataArray([5.0, 4.0, 3.0, 3.2, 1.0, 0.0], dims="alpha", coords={"alpha": a})
    >>> res = monotonicity(L)
    >>> bool(res.monotone), round(float(res.bump), 6), round(float(res.location), 6)
    (False, 0.2, 0.6)
    >>> bool(monotonicity(L, rtol=0.05).monotone)  # bump is 4% of the range
    True
    """
    if not (np.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    da, grid = _curve(ds, var, dim, 2, "monotonicity")
    var = _name(ds, var)
    monotone, bump, location = _apply(
        _monotonicity_core, da, dim, 3, grid=grid, rtol=float(rtol)
    )
    return _result(
        {
            "monotone": (monotone, f"{var} is non-increasing along {dim} (rtol={rtol!r})"),
            "bump": (bump, f"largest rise of {var} above its running minimum"),
            "location": (location, f"{dim} where the largest bump peaks"),
        },
        "monotonicity",
        var,
        dim,
    )


def _second_differences(L: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Second divided differences f[x_{i-1}, x_i, x_{i+1}], valid on any grid."""
    slopes = np.diff(L, axis=-1) / np.diff(grid)
    return 2 * np.diff(slopes, axis=-1) / (grid[2:] - grid[:-2])


def _hull_gap(y: np.ndarray, grid: np.ndarray) -> float:
    """Largest height of the points above their lower convex envelope."""
    hull: list[int] = []
    for i in range(len(grid)):
        # Drop the last vertex while it does not lie strictly below the chord from the
        # one before it to the new point (Andrew's monotone chain, lower half).
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            cross = (grid[k] - grid[j]) * (y[i] - y[j]) - (y[k] - y[j]) * (grid[i] - grid[j])
            if cross > 0:
                break
            hull.pop()
        hull.append(i)
    envelope = np.interp(grid, grid[hull], y[hull])
    return float(np.max(y - envelope))


def _flattening_end(y: np.ndarray, grid: np.ndarray) -> int:
    """Index where the initial flattening ends: the left end of the steepest descent."""
    slopes = np.diff(y) / np.diff(grid)
    return int(np.argmin(slopes))


def _convexity_core(
    L: np.ndarray, grid: np.ndarray, tol: float, skip_flattening: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lead = L.shape[:-1]
    flat = L.reshape(-1, L.shape[-1])
    ok = np.isfinite(flat).all(axis=-1)
    share = np.full(flat.shape[0], np.nan)
    gap = np.full(flat.shape[0], np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for c in np.flatnonzero(ok):
            y, g = flat[c], grid
            if skip_flattening:
                start = _flattening_end(y, g)
                y, g = y[start:], g[start:]
            span = float(y.max() - y.min())
            if span == 0 or y.size < 3:
                # A constant curve, or two points, is convex (its chord is itself).
                share[c], gap[c] = 1.0, 0.0
                continue
            curvature = _second_differences(y, g) * (g[-1] - g[0]) ** 2 / span
            share[c] = np.mean(curvature >= -_ROUNDOFF)
            gap[c] = _hull_gap(y, g) / span
    convex = ok & (gap <= max(tol, _ROUNDOFF))
    return share.reshape(lead), gap.reshape(lead), convex.reshape(lead)


def convexity(
    ds: xr.Dataset | xr.DataArray,
    var: str = "loss",
    dim: str = "alpha",
    *,
    tol: float = 0.05,
    skip_flattening: bool = False,
) -> xr.Dataset:
    """How convex is the curve? Share of convex points and an "approximately convex" verdict.

    Goodfellow et al. (2015) describe the loss along init→final as having "a simple,
    approximately convex shape"; Frankle (2020) finds that this fails on modern
    networks. Two measures make the phrase testable:

    ``share``
        Fraction of interior grid points whose second divided difference

        .. math:: L[\\alpha_{i-1}, \\alpha_i, \\alpha_{i+1}] =
                  \\frac{2}{\\alpha_{i+1} - \\alpha_{i-1}}
                  \\Bigl(\\frac{L_{i+1} - L_i}{\\alpha_{i+1} - \\alpha_i}
                  - \\frac{L_i - L_{i-1}}{\\alpha_i - \\alpha_{i-1}}\\Bigr)

        is non-negative. The divided difference is exact for quadratics on any grid,
        so non-uniform grids are handled correctly. Differences of size
        ``1e-9 · (max L − min L) / (α_last − α_first)²`` or less count as zero (they
        are rounding). The share weighs every point alike, so it says *where* the
        curve bends the wrong way, not *how much*.
    ``gap``
        Largest height of the curve above its lower convex envelope (the greatest
        convex function below the points, linear between grid points), divided by
        the range ``max L − min L``. It is 0 exactly when the sampled curve is convex,
        and the curve lies within ``gap × range`` of a convex function.

    The verdict ``convex`` is ``gap <= tol``. The gap was chosen over a threshold on
    second differences because it is a size, not a rate: noise of fixed size makes
    second differences grow like 1/h² as the grid spacing *h* shrinks, so a curvature
    threshold would depend on the resolution, while the gap does not. It is
    unchanged by shifting *L*, scaling it by a positive factor, or affinely
    reparameterising α. The default ``tol = 0.05`` accepts dents up to 5% of the
    loss range — invisible on a plot of the whole curve — and rejects the plateau
    followed by a late drop that Frankle (2020) reports, whose envelope gap is a
    large fraction of the range.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.
    tol : float
        Largest tolerated gap, as a fraction of the curve's range; 0 asks for exact
        (up to rounding) convexity, which then agrees with ``share == 1``.
    skip_flattening : bool
        Judge each curve only from the end of its initial flattening on, the left end
        of its steepest descent (see :func:`flattening`). Goodfellow et al. (2015,
        Fig. 1) call the init→final curve "nearly convex" *apart from the flattening
        near α = 0*, the concave shoulder the saddle at the origin puts before the
        descent; this judges exactly that claim. The share and gap are then those of
        the remaining part, measured against its own range. Report where the
        flattening ends beside the verdict: a curve that stays flat until just before
        the optimum (Frankle 2020) passes trivially, which :func:`flattening` and
        :func:`half_drop_alpha` expose.

    Returns
    -------
    xarray.Dataset
        ``share`` (in [0, 1]), ``gap`` (≥ 0) and ``convex`` (bool). A curve with any
        non-finite value gives NaN share and gap and ``convex = False``; a constant
        curve is convex.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 3 points, a coordinate that is
        not strictly increasing, or a negative or non-finite ``tol``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.array([-1.0, -0.5, 0.0, 0.1, 0.2, 1.0])  # a non-uniform grid
    >>> parabola = xr.DataArray(a**2, dims="alpha", coords={"alpha": a})
    >>> res = convexity(parabola)
    >>> float(res.share), float(res.gap), bool(res.convex)
    (1.0, 0.0, True)
    >>> hump = xr.DataArray(np.cos(np.pi * a / 2), dims="alpha", coords={"alpha": a})
    >>> bool(convexity(hump).convex)
    False
    """
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    da, grid = _curve(ds, var, dim, 3, "convexity")
    var = _name(ds, var)
    share, gap, convex = _apply(_convexity_core, da, dim, 3, grid=grid, tol=float(tol),
                                skip_flattening=bool(skip_flattening))
    return _result(
        {
            "share": (share, "share of interior points with non-negative second difference"),
            "gap": (gap, f"height above the lower convex envelope / range of {var}"),
            "convex": (convex, f"{var} is approximately convex (gap <= {tol!r})"
                               + (" after the initial flattening" if skip_flattening else "")),
        },
        "convexity",
        var,
        dim,
    )


def _local_minima_core(
    L: np.ndarray, grid: np.ndarray, include_endpoints: bool
) -> np.ndarray:
    up = L[..., 1:] > L[..., :-1]
    down = L[..., 1:] < L[..., :-1]
    step = up.astype(np.int8) - down.astype(np.int8)
    k = np.arange(step.shape[-1])
    # For each step, the most recent non-flat step at or before it; flat steps inherit
    # the direction before them, so a plateau between a descent and an ascent counts
    # as one minimum.
    last_turn = np.maximum.accumulate(np.where(step != 0, k, -1), axis=-1)
    before = np.concatenate([np.full(last_turn.shape[:-1] + (1,), -1), last_turn[..., :-1]], -1)
    previous = np.where(before >= 0, np.take_along_axis(step, np.maximum(before, 0), -1), 0)
    count = np.sum((step == 1) & (previous == -1), axis=-1).astype(float)
    if include_endpoints:
        moves = step != 0
        flat = ~moves.any(axis=-1)
        first = _take_last(step, moves.argmax(axis=-1))
        last = _take_last(step, step.shape[-1] - 1 - moves[..., ::-1].argmax(axis=-1))
        count += (first == 1) + (last == -1) + flat
    return np.where(_has_nan(L), np.nan, count)


def local_minima(
    ds: xr.Dataset | xr.DataArray,
    var: str = "loss",
    dim: str = "alpha",
    *,
    include_endpoints: bool = False,
) -> xr.DataArray:
    """Number of local minima of the curve, a flat run counting once.

    A local minimum is a maximal run of equal values (often a single point) whose
    neighbours on both sides are higher. Goodfellow et al. (2015) report a single
    minimum along the init→final line for the networks they study.

    By default the two ends of the grid do not count: the end of a sampled window
    lies where the grid stops, not where the landscape turns, so a curve that is
    still falling at its last point has no minimum there. A path from a random
    large-norm point through the solution, sampled on α ∈ [−0.5, 1.5], then counts 1
    when its minimum is interior, even if the loss happens to dip at a boundary. With
    ``include_endpoints=True`` an end run counts when its one neighbour is higher,
    and a constant curve counts as 1 minimum (0 by default).

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.
    include_endpoints : bool
        Count minima at the first and last grid points.

    Returns
    -------
    xarray.DataArray
        The count, as a float (NaN for a curve containing NaN; ``+inf`` is an ordinary,
        highest value), named ``local_minima``.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 3 points, or a coordinate that is
        not strictly increasing.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 4 * np.pi, 201)
    >>> wave = xr.DataArray(np.sin(a), dims="alpha", coords={"alpha": a})
    >>> float(local_minima(wave))  # troughs at 3π/2 and 7π/2
    2.0
    >>> steps = xr.DataArray([3.0, 1.0, 1.0, 2.0, 0.0], dims="alpha")
    >>> float(local_minima(steps)), float(local_minima(steps, include_endpoints=True))
    (1.0, 2.0)
    """
    da, grid = _curve(ds, var, dim, 3, "local_minima")
    var = _name(ds, var)
    out = _apply(
        _local_minima_core, da, dim, 1, grid=grid, include_endpoints=bool(include_endpoints)
    )
    out.name = "local_minima"
    out.attrs["long_name"] = f"number of local minima of {var} along {dim}" + (
        " (endpoints included)" if include_endpoints else ""
    )
    return out


def _half_drop_core(L: np.ndarray, grid: np.ndarray) -> np.ndarray:
    L0, Ln = L[..., 0], L[..., -1]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        target = L0 + (Ln - L0) / 2
        reached = L <= target[..., None]
        j = reached.argmax(axis=-1)
        hi = np.maximum(j, 1)
        before, after = _take_last(L, hi - 1), _take_last(L, hi)
        # Linear interpolation between the last point above the target and the first
        # at or below it; from +inf the crossing is placed on the finite point.
        frac = np.where(np.isinf(before), 1.0, (before - target) / (before - after))
        alpha = np.where(j == 0, grid[0], grid[hi - 1] + frac * (grid[hi] - grid[hi - 1]))
    drops = np.isfinite(L0) & np.isfinite(Ln) & (Ln < L0) & ~_has_nan(L)
    return np.where(drops, alpha, np.nan)


def half_drop_alpha(
    ds: xr.Dataset | xr.DataArray, var: str = "loss", dim: str = "alpha"
) -> xr.DataArray:
    """Where the curve first covers half of its total drop.

    With :math:`L^\\star = L(\\alpha_\\text{first}) - \\tfrac12\\bigl(L(\\alpha_\\text{first})
    - L(\\alpha_\\text{last})\\bigr)`, the result is the smallest α with
    :math:`L(\\alpha) \\le L^\\star`, interpolated linearly between the grid points on
    either side of the first crossing. It quantifies Frankle's (2020) observation that
    on modern networks "loss remains high until close to the optimum" (a half-drop α
    near 1), against the steady descent Goodfellow et al. (2015) report on MNIST
    (near 0.5 for a convex, nearly linear curve). For an init→final path on a wider
    grid, select α ∈ [0, 1] first.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over.
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.

    Returns
    -------
    xarray.DataArray
        The ``dim`` coordinate of the crossing, named ``half_drop_alpha``; NaN where the
        curve does not drop (last value not below the first), where an endpoint is
        not finite, or where the curve contains NaN.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``dim``, fewer than 2 points, or a coordinate that is
        not strictly increasing.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 5)
    >>> line = xr.DataArray(2 - 2 * a, dims="alpha", coords={"alpha": a})
    >>> float(half_drop_alpha(line))
    0.5
    >>> late = xr.DataArray([2.0, 2.0, 2.0, 1.5, 0.0], dims="alpha", coords={"alpha": a})
    >>> round(float(half_drop_alpha(late)), 4)
    0.8333
    >>> float(half_drop_alpha(late[::-1].assign_coords(alpha=a)))  # rises: no drop
    nan
    """
    da, grid = _curve(ds, var, dim, 2, "half_drop_alpha")
    var = _name(ds, var)
    out = _apply(_half_drop_core, da, dim, 1, grid=grid)
    out.name = "half_drop_alpha"
    out.attrs["long_name"] = f"{dim} where half of the drop in {var} is first covered"
    return out


def _flattening_core(L: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", over="ignore"):
        slopes = np.diff(L, axis=-1) / np.diff(grid)
        i = np.nanargmin(np.where(np.isfinite(slopes), slopes, np.inf), axis=-1)
        steepest = _take_last(slopes, i)
    bad = ~np.isfinite(L).all(axis=-1)
    end = np.where(bad | ~(steepest < 0), np.nan, grid[i])
    return end, np.where(bad, np.nan, steepest)


def flattening(
    ds: xr.Dataset | xr.DataArray, var: str = "loss", dim: str = "alpha"
) -> xr.Dataset:
    """Where the initial flattening of a descent ends: the start of its steepest descent.

    Goodfellow et al. (2015, Fig. 1, Fig. 9) see "a flattening of the objective function
    near the saddle point at the origin": the loss leaves the init slowly, then falls.
    Its extent is the concave shoulder before the steepest descent, so the flattening
    ends at the left end of the steepest secant segment,

    .. math:: \\alpha_s = \\alpha_{i^*}, \\qquad
              i^* = \\arg\\min_i \\frac{L_{i+1} - L_i}{\\alpha_{i+1} - \\alpha_i}.

    For y = w1·w2·x from a small init, J(α) ≈ (1 − α²)² and α_s ≈ 1/√3; Frankle's
    (2020) modern networks, flat until close to the optimum, have α_s near 1.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Slice results; extra dimensions are broadcast over. Select the segment first
        (e.g. α ∈ [0, 1] of an init→final path).
    var : str
        Variable to read from a Dataset (ignored for a DataArray).
    dim : str
        Dimension along the path.

    Returns
    -------
    xarray.Dataset
        ``end`` (α_s; NaN when the curve never descends or is not finite) and
        ``slope`` (the steepest secant slope, negative for a descent).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(0, 1, 1001)
    >>> J = xr.DataArray((1 - a**2) ** 2, dims="alpha", coords={"alpha": a})
    >>> round(float(flattening(J).end), 2)  # 1/√3
    0.58
    """
    da, grid = _curve(ds, var, dim, 2, "flattening")
    var = _name(ds, var)
    end, slope = _apply(_flattening_core, da, dim, 2, grid=grid)
    return _result(
        {
            "end": (end, f"{dim} where the steepest descent of {var} starts"),
            "slope": (slope, f"steepest secant slope of {var} along {dim}"),
        },
        "flattening",
        var,
        dim,
    )
