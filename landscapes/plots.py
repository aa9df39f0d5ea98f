"""Figures of slice and trajectory datasets (matplotlib; never calls ``plt.show``).

Every function draws on the Axes it is given (or on a new figure's) and returns that
Axes, so figures compose and render under any backend, including ``Agg``.
pyplot is imported only when a new figure is needed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_path", "plot_surface", "plot_trajectory"]

#: Dimension averaged into a mean ± std band by :func:`plot_path`.
_BAND_DIM = "replicate"


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def _variable(ds: xr.Dataset | xr.DataArray, var: str, func: str) -> xr.DataArray:
    if isinstance(ds, xr.DataArray):
        return ds
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{func} takes an xarray.Dataset or DataArray, got {type(ds).__name__}")
    if var not in ds.data_vars:
        raise ValueError(
            f"var {var!r} is not a variable of the dataset; "
            f"choose one of {sorted(str(v) for v in ds.data_vars)!r}"
        )
    return ds[var]


def _groups(da: xr.DataArray, keep: Sequence[str]) -> Iterator[tuple[str, xr.DataArray]]:
    """One (label, sub-array) per combination of the dimensions not in ``keep``."""
    others = [d for d in da.dims if d not in keep]
    values = [da[d].values if d in da.coords else range(da.sizes[d]) for d in others]
    for combo in itertools.product(*(range(da.sizes[d]) for d in others)):
        label = ", ".join(f"{d}={values[i][j]}" for i, (d, j) in enumerate(zip(others, combo)))
        yield label, da.isel(dict(zip(others, combo)))


def _join(*parts: str | None) -> str | None:
    text = ", ".join(p for p in parts if p)
    return text or None


def _endpoint_indices(alpha: np.ndarray) -> tuple[int, int]:
    """Grid points playing θ_init and θ_final: nearest α = 0 and 1 when the grid spans them."""
    if alpha.min() <= 0 and alpha.max() >= 1:
        return int(np.argmin(np.abs(alpha))), int(np.argmin(np.abs(alpha - 1)))
    return int(np.argmin(alpha)), int(np.argmax(alpha))


def _normalize(da: xr.DataArray) -> xr.DataArray:
    i_init, i_final = _endpoint_indices(np.asarray(da["alpha"].values, dtype=float))
    J_init, J_final = da.isel(alpha=i_init, drop=True), da.isel(alpha=i_final, drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (da - J_final) / (J_init - J_final)


def plot_path(
    ds: xr.Dataset | xr.DataArray,
    var: str = "loss",
    ax: Axes | None = None,
    *,
    normalize: bool = False,
    x: str = "alpha",
    label: str | None = None,
) -> Axes:
    """Plot a variable along a 1-D path, one line per slice.

    A ``replicate`` dimension becomes a mean line with a ± one standard deviation band;
    every other extra dimension (``split``, ``system``, ``start_iteration``...) gives
    separate lines labelled ``dim=value``.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A slice dataset without ``beta`` (use :func:`plot_surface` for planes).
    var : str
        Variable to plot (ignored for a DataArray).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    normalize : bool
        Plot :math:`(J - J_\\text{final}) / (J_\\text{init} - J_\\text{final})` per curve,
        as in Frankle (2020), so curves of different scale share one axis. J_init and
        J_final are the values at the grid points nearest α = 0 and α = 1 when the grid
        spans [0, 1] (an init→final path sampled on [−0.5, 1.5] is normalised at its
        real endpoints), else at the first and last α. Each replicate is normalised
        before averaging.
    x : {"alpha", "distance"}
        Horizontal axis: the path coordinate, or the ``distance`` coordinate
        ‖θ(α) − θ(0)‖ (averaged over ``replicate`` when it varies along it).
    label : str, optional
        Legend text; combined with ``dim=value`` for each line.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``x``, data without ``alpha``, data with ``beta``, or
        ``x="distance"`` without a ``distance`` coordinate.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, xarray as xr
    >>> a = np.linspace(-0.5, 1.5, 21)
    >>> L = xr.DataArray([(a - 1) ** 2, (a - 1) ** 2 + 0.1], dims=("replicate", "alpha"),
    ...                  coords={"alpha": a})
    >>> ax = plot_path(L, normalize=True, label="toy")
    >>> len(ax.lines)
    1
    """
    da = _variable(ds, var, "plot_path")
    if "alpha" not in da.dims:
        raise ValueError(f"plot_path needs an 'alpha' dimension, got dims {tuple(da.dims)!r}")
    if "beta" in da.dims:
        raise ValueError(
            "plot_path draws 1-D paths but the data has a 'beta' dimension; use "
            "plot_surface, or pick a line with .sel(beta=...)"
        )
    if x not in ("alpha", "distance"):
        raise ValueError(f"x must be 'alpha' or 'distance', got {x!r}")
    if x == "distance" and "distance" not in da.coords:
        raise ValueError("x='distance' needs a 'distance' coordinate, which the data lacks")
    if normalize:
        da = _normalize(da)
    ax = _axes(ax)
    labelled = False
    for group, sub in _groups(da, ("alpha", _BAND_DIM)):
        xs = _horizontal(sub, x)
        text = _join(label, group)
        labelled |= text is not None
        if _BAND_DIM in sub.dims:
            mean = sub.mean(_BAND_DIM).transpose("alpha").values
            spread = sub.std(_BAND_DIM).transpose("alpha").values
            (line,) = ax.plot(xs, mean, label=text)
            ax.fill_between(xs, mean - spread, mean + spread, color=line.get_color(),
                            alpha=0.25, linewidth=0)
        else:
            ax.plot(xs, sub.transpose("alpha").values, label=text)
    if labelled:
        ax.legend()
    ax.set_xlabel("distance ‖θ(α) − θ(0)‖" if x == "distance" else "α")
    name = str(da.attrs.get("long_name", da.name or var))
    ax.set_ylabel(f"normalised {name} (J − J_final)/(J_init − J_final)" if normalize else name)
    return ax


def _horizontal(sub: xr.DataArray, x: str) -> np.ndarray:
    if x == "alpha":
        return np.asarray(sub["alpha"].values, dtype=float)
    distance = sub.coords["distance"]
    if _BAND_DIM in distance.dims:
        distance = distance.mean(_BAND_DIM)
    if distance.dims != ("alpha",):
        raise ValueError(
            f"the distance coordinate must vary only along 'alpha' within a line, "
            f"got dims {distance.dims!r}"
        )
    return np.asarray(distance.values, dtype=float)


def plot_surface(
    ds: xr.Dataset | xr.DataArray,
    var: str = "loss",
    ax: Axes | None = None,
    *,
    levels: int | Sequence[float] = 20,
    log: bool = False,
    shape: str = "auto",
    labels: Sequence[str] | None = None,
    colorbar: bool = True,
    geometry: str = "auto",
) -> Axes:
    """Filled contours of a variable over a 2-D (alpha, beta) slice, with a colour bar.

    A barycentric slice (Im et al. 2016, App. A.1) is a triangle in parameter space,
    θ(α, β) = (1 − α)·θ₀ + αβ·θ₁ + α(1 − β)·θ₂, and is drawn as one: every point sits at
    (1 − α)·P₀ + αβ·P₁ + α(1 − β)·P₂ for vertices P₀ (apex), P₁ and P₂ (the base, P₂
    on the left). When the slice has its ``distance`` coordinate ‖θ(α, β) − θ₀‖, the
    triangle has the true side lengths ‖θ₁ − θ₀‖, ‖θ₂ − θ₀‖ and ‖θ₁ − θ₂‖ (fitted by
    least squares from the distances, exact up to rounding), so the picture is an
    isometric image of the plane the three points span; otherwise it is equilateral.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A slice with dimensions ``alpha`` and ``beta``; any other dimension must have
        length 1 (select or average it first).
    var : str
        Variable to plot (ignored for a DataArray).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    levels : int or sequence of float
        Number of contour levels or their values (in log10 units when ``log``).
    log : bool
        Contour log10 of the values, for losses spanning decades; values ≤ 0 are left
        blank.
    shape : {"auto", "square", "triangle"}
        ``"triangle"`` draws a barycentric slice on its triangle, ``"square"`` any
        slice on its (α, β) rectangle; ``"auto"`` picks the triangle when the dataset
        says its path was barycentric (a DataArray carries no such record: pass
        ``"triangle"``).
    labels : sequence of str, optional
        Names written at the vertices: three for a triangle (θ₀, θ₁, θ₂), four for the
        corners (0, 0), (1, 0), (0, 1), (1, 1) of a square.
    colorbar : bool
        Add a colour bar (leave it off for panels that share one; give them the same
        ``levels``).
    geometry : {"auto", "equilateral"}
        The triangle's shape: its true side lengths where the distances allow
        (``"auto"``), or equilateral, so that small panels of very unequal triangles
        stay readable.

    Returns
    -------
    matplotlib.axes.Axes
        On the square, α runs along the horizontal axis and β along the vertical one.
        Non-finite values are left blank.

    Raises
    ------
    ValueError
        For an unknown ``var`` or ``shape``, a missing ``alpha`` or ``beta``, another
        dimension longer than 1, a triangle whose grid does not span [0, 1]², or no
        finite value to draw.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, xarray as xr
    >>> a, b = np.linspace(-1, 1, 9), np.linspace(-1, 1, 7)
    >>> L = xr.DataArray(a[:, None] ** 2 + b[None, :] ** 2, dims=("alpha", "beta"),
    ...                  coords={"alpha": a, "beta": b})
    >>> ax = plot_surface(L, log=False)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('α', 'β')
    >>> g = np.linspace(0, 1, 5)
    >>> T = xr.DataArray(np.add.outer(g, g), dims=("alpha", "beta"),
    ...                  coords={"alpha": g, "beta": g})
    >>> ax = plot_surface(T, shape="triangle", labels=["init", "a", "b"])
    >>> [t.get_text() for t in ax.texts]
    ['init', 'a', 'b']
    """
    if shape not in ("auto", "square", "triangle"):
        raise ValueError(f"shape must be 'auto', 'square' or 'triangle', got {shape!r}")
    if geometry not in ("auto", "equilateral"):
        raise ValueError(f"geometry must be 'auto' or 'equilateral', got {geometry!r}")
    if shape == "auto":
        shape = "triangle" if _path_kind(ds) == "barycentric" else "square"
    da = _variable(ds, var, "plot_surface")
    for d in ("alpha", "beta"):
        if d not in da.dims:
            raise ValueError(f"plot_surface needs dims 'alpha' and 'beta', got {tuple(da.dims)!r}")
    extra = {str(d): n for d, n in da.sizes.items() if d not in ("alpha", "beta") and n > 1}
    if extra:
        raise ValueError(
            f"plot_surface draws one plane but the data has further dimensions {extra!r}; "
            "select one with .sel/.isel or reduce them (e.g. .mean('replicate'))"
        )
    da = da.squeeze(drop=True).transpose("beta", "alpha")
    values = np.asarray(da.values, dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(values > 0, np.log10(values), np.nan)
    if not np.isfinite(values).any():
        raise ValueError("plot_surface found no finite values to draw")
    ax = _axes(ax)
    alpha = np.asarray(da["alpha"].values, dtype=float)
    beta = np.asarray(da["beta"].values, dtype=float)
    if shape == "triangle":
        distances = _distances(ds, da) if geometry == "auto" else None
        filled = _triangle(ax, alpha, beta, values.T, distances, levels, labels)
    else:
        filled = ax.contourf(alpha, beta, np.ma.masked_invalid(values), levels=levels)
        ax.set_xlabel("α")
        ax.set_ylabel("β")
        for text, x, y in zip(labels or (), (0, 1, 0, 1), (0, 0, 1, 1)):
            ax.annotate(text, (x, y), ha="center", va="center", fontsize=7,
                        bbox={"boxstyle": "round", "fc": "w", "alpha": 0.7})
    if colorbar:
        name = str(da.attrs.get("long_name", da.name or var))
        ax.figure.colorbar(filled, ax=ax, label=f"log10 {name}" if log else name)
    return ax


def _path_kind(ds: xr.Dataset | xr.DataArray) -> str | None:
    """The path kind an engine result records in its hyperparameters, if any."""
    import json

    try:
        return json.loads(ds.attrs.get("hyperparameters", "{}")).get("path")
    except (ValueError, AttributeError):
        return None


def _distances(ds: xr.Dataset | xr.DataArray, da: xr.DataArray) -> np.ndarray | None:
    """‖θ(α, β) − θ₀‖ on the (alpha, beta) grid, when the data has it."""
    coord = ds.coords.get("distance") if "distance" in ds.coords else da.coords.get("distance")
    if coord is None or set(coord.dims) != {"alpha", "beta"}:
        return None
    d = np.asarray(coord.transpose("alpha", "beta").values, dtype=float)
    return d if np.isfinite(d).all() else None


def _vertices(alpha: np.ndarray, beta: np.ndarray, distance: np.ndarray | None) -> np.ndarray:
    """P₀ (apex), P₁, P₂ of the drawn triangle: true side lengths when distances are known.

    d(α, β)² = α²·[β²·‖u‖² + (1 − β)²·‖v‖² + 2β(1 − β)·⟨u, v⟩] with u = θ₁ − θ₀ and
    v = θ₂ − θ₀ is linear in (‖u‖², ‖v‖², ⟨u, v⟩): a least-squares fit recovers them.
    """
    if distance is not None:
        aa, bb = np.meshgrid(alpha, beta, indexing="ij")
        rows = np.stack([(aa * bb) ** 2, (aa * (1 - bb)) ** 2, 2 * aa ** 2 * bb * (1 - bb)], -1)
        fit, *_ = np.linalg.lstsq(rows.reshape(-1, 3), (distance ** 2).ravel(), rcond=None)
        uu, vv, uv = fit
        c2 = uu + vv - 2 * uv
        if min(uu, vv, c2) > 0:
            c = np.sqrt(c2)
            x = (vv + c2 - uu) / (2 * c)
            y = np.sqrt(max(vv - x * x, 0.0))
            if y > 0:
                return np.array([[x, y], [c, 0.0], [0.0, 0.0]])
    return np.array([[0.5, np.sqrt(3) / 2], [1.0, 0.0], [0.0, 0.0]])


def _triangle(ax: Axes, alpha: np.ndarray, beta: np.ndarray, values: np.ndarray,
              distance: np.ndarray | None, levels: int | Sequence[float],
              labels: Sequence[str] | None) -> object:
    """Filled contours of ``values`` (alpha × beta) on the barycentric triangle."""
    from matplotlib.tri import Triangulation

    if not (np.isclose(alpha.min(), 0) and np.isclose(alpha.max(), 1)
            and np.isclose(beta.min(), 0) and np.isclose(beta.max(), 1)):
        raise ValueError("a barycentric slice is drawn on its triangle only when alpha and "
                         "beta span [0, 1]; use shape='square' for other windows")
    P = _vertices(alpha, beta, distance)
    aa, bb = np.meshgrid(alpha, beta, indexing="ij")
    xy = ((1 - aa)[..., None] * P[0] + (aa * bb)[..., None] * P[1]
          + (aa * (1 - bb))[..., None] * P[2])
    n_a, n_b = len(alpha), len(beta)
    index = np.arange(n_a * n_b).reshape(n_a, n_b)
    index[0, :] = 0  # α = 0 is one point, θ₀: the apex
    tris = []
    for i in range(n_a - 1):
        for j in range(n_b - 1):
            p, q, r, s = index[i, j], index[i + 1, j], index[i + 1, j + 1], index[i, j + 1]
            tris.append((p, q, r))
            if p != s:
                tris.append((p, r, s))
    tris = np.array(tris)
    z = values.ravel().copy()
    z[0] = values[0, 0]
    bad = ~np.isfinite(z)
    mask = bad[tris].any(axis=1)
    z[bad] = np.nanmin(z) if np.isfinite(z).any() else 0.0
    tri = Triangulation(xy[..., 0].ravel(), xy[..., 1].ravel(), tris, mask=mask)
    filled = ax.tricontourf(tri, z, levels=levels)
    ax.plot(*np.vstack([P, P[:1]]).T, color="k", lw=0.8)
    for text, (x, y), where in zip(labels or (), P, ("bottom", "top", "top")):
        ax.annotate(text, (x, y), ha="center", va=where, fontsize=7,
                    bbox={"boxstyle": "round", "fc": "w", "alpha": 0.7})
    ax.set_aspect("equal")
    ax.set_xlabel("parameter distance" if distance is not None else "")
    ax.set_xticks([]) if distance is None else None
    ax.set_yticks([])
    return filled


def plot_trajectory(
    ds: xr.Dataset, ax: Axes | None = None, *, label: str | None = None
) -> Axes:
    """Residual norm against projection on the start→end axis (Goodfellow et al. 2015, Fig. 13).

    Parameters
    ----------
    ds : xarray.Dataset
        A trajectory dataset (dimension ``step``, variables ``projection`` and
        ``residual``), e.g. from :func:`landscapes.trajectory.project`. Extra
        dimensions give one labelled line per combination.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    label : str, optional
        Legend text; combined with ``dim=value`` for each line.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``ds`` lacks the ``step`` dimension or the two variables.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from landscapes.trajectory import project
    >>> walk = np.cumsum(np.random.default_rng(0).normal(size=(50, 100)), axis=0)
    >>> ax = plot_trajectory(project(walk, end=40))
    >>> len(ax.lines)
    1
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"plot_trajectory takes an xarray.Dataset, got {type(ds).__name__}")
    missing = [v for v in ("projection", "residual") if v not in ds.data_vars]
    if "step" not in ds.dims or missing:
        raise ValueError(
            f"plot_trajectory needs a trajectory dataset (dimension 'step', variables "
            f"'projection' and 'residual'); got dims {tuple(ds.dims)!r}, missing {missing!r}"
        )
    ax = _axes(ax)
    pair = ds[["projection", "residual"]].to_dataarray("quantity")
    labelled = False
    for group, sub in _groups(pair, ("step", "quantity")):
        text = _join(label, group)
        labelled |= text is not None
        sub = sub.transpose("quantity", "step")
        ax.plot(sub.sel(quantity="projection").values, sub.sel(quantity="residual").values,
                label=text)
    if labelled:
        ax.legend()
    ax.set_xlabel("projection on the start→end axis")
    ax.set_ylabel("norm of the residual")
    return ax
