"""Paths: sets of points in parameter space, each a linear combination of anchors.

A :class:`Path` is a tuple of *anchors* (parameter dictionaries, like a
``state_dict``), a *coefficient matrix* C with one row per point, and the coordinates
that label the points. Point p is θ_p = Σ_k C[p, k] · θ_k. Every analysis of the three
papers is such a path:

- :func:`linear` -- θ(α) = (1 − α)·θ_a + α·θ_b (Goodfellow et al. 2015 §2; Frankle 2020);
- :func:`ray` -- θ(λ) = θ_a + λ·(θ_b − θ_a)/‖θ_b − θ_a‖, in absolute distance
  (Im et al. 2016, eq. 1);
- :func:`bilinear` and :func:`barycentric` -- 2-D slices through four or three points
  (Im et al. 2016, Appendix A.1);
- :func:`plane` -- θ(α, β) = θ_c + α·d₁ + β·d₂ with random, normalised directions
  (Li et al. 2018);
- :func:`from_iterations` -- linear paths from many checkpoints θ_t to one final point
  (Frankle 2020 §4);
- :func:`bezier` and :func:`polychain` -- mode-connecting curves through a trained bend
  (Garipov et al. 2018).

Paths copy their anchors and never modify their inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from landscapes import grids
from landscapes.anchors import (
    Anchor,
    as_anchor,
    check_anchors,
    gram,
    is_interpolated,
    shared_entries,
    squared_distances,
)
from landscapes.directions import orthogonalize as _orthogonalize
from landscapes.directions import random_direction

__all__ = [
    "Path",
    "linear",
    "ray",
    "bilinear",
    "barycentric",
    "plane",
    "from_iterations",
    "bezier",
    "polychain",
    "curve_coefficients",
    "CURVES",
    "materialize",
    "take",
    "blocks",
]


@dataclass(frozen=True, eq=False)
class Path:
    """Points θ_p = Σ_k C[p, k]·θ_k on a grid labelled by coordinates.

    Build paths with the constructors of this module; the fields are public so that a
    new kind of path needs no new machinery.

    Parameters
    ----------
    anchors : tuple of dict
        The parameter dictionaries θ_k.
    names : tuple of str
        A name per anchor (``"init"``, ``"final"``, ``"d1"``...).
    coefficients : numpy.ndarray
        Shape ``(n_points, n_anchors)``; rows follow the grid in C order over ``dims``.
    dims : tuple of str
        Grid dimensions, e.g. ``("alpha",)`` or ``("alpha", "beta")``.
    coords : dict of str to numpy.ndarray
        The values along each dimension.
    origin : numpy.ndarray
        Coefficients of the point the ``distance`` coordinate is measured from
        (θ at α = 0, β = 0), which need not be on the grid: shape ``(n_anchors,)``, or
        ``(n_points, n_anchors)`` when each point has its own (one per start iteration).
    kind : str
        The constructor's name.
    info : dict
        Settings worth recording with results (seeds, normalisation...).
    affine : bool, optional
        Whether every anchor is a point and every row sums to one (lines, bilinear and
        barycentric slices), as opposed to paths along directions (rays, planes).
        Inferred from the row sums when not given.
    start : int
        The index along the first dimension, in the path this one was taken from
        (:func:`take`), of this path's first row; 0 for a whole path. Point measures
        derive their seeds from the index in the whole path, so that a block gives its
        points the numbers the whole path does.
    """

    anchors: tuple[Anchor, ...]
    names: tuple[str, ...]
    coefficients: np.ndarray
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    origin: np.ndarray
    kind: str = "custom"
    info: dict[str, Any] = field(default_factory=dict)
    affine: bool | None = None
    start: int = 0

    def __post_init__(self) -> None:
        if len(self.anchors) != len(self.names):
            raise ValueError(f"{len(self.anchors)} anchors but {len(self.names)} names")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"anchor names must be distinct, got {self.names!r}")
        check_anchors(self.anchors, self.names)
        c = np.asarray(self.coefficients, dtype=np.float64)
        if c.ndim != 2 or c.shape[1] != len(self.anchors):
            raise ValueError(
                f"coefficients must have shape (n_points, {len(self.anchors)}), "
                f"got {c.shape!r}"
            )
        if not np.isfinite(c).all():
            raise ValueError("coefficients must be finite")
        for d in self.dims:
            if d not in self.coords:
                raise ValueError(f"no coordinate values for dimension {d!r}")
        if math.prod(self.shape) != c.shape[0]:
            raise ValueError(
                f"grid {dict(zip(self.dims, self.shape))!r} has {math.prod(self.shape)} "
                f"points but coefficients have {c.shape[0]} rows"
            )
        o = np.broadcast_to(np.asarray(self.origin, dtype=np.float64), c.shape)
        if self.affine is None:
            sums_to_one = np.allclose(c.sum(axis=1), 1.0, rtol=0, atol=1e-12)
            object.__setattr__(self, "affine", bool(sums_to_one and np.allclose(o.sum(axis=1), 1.0)))
        c.setflags(write=False)
        object.__setattr__(self, "coefficients", c)
        object.__setattr__(self, "origin", o)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape, one length per dimension."""
        return tuple(len(self.coords[d]) for d in self.dims)

    def __len__(self) -> int:
        return self.coefficients.shape[0]

    def point(self, index: int | tuple[int, ...]) -> Anchor:
        """The parameter dictionary at one point (flat index or grid index).

        Examples
        --------
        >>> import torch
        >>> p = linear({"w": torch.zeros(2)}, {"w": torch.ones(2)}, [0.0, 0.25, 1.0])
        >>> p.point(1)["w"]
        tensor([0.2500, 0.2500])
        """
        if isinstance(index, tuple):
            index = int(np.ravel_multi_index(index, self.shape))
        if not -len(self) <= index < len(self):
            raise IndexError(f"point {index!r} is outside a path of {len(self)} points")
        return materialize(self.anchors, self.coefficients[index : index + 1 or None])[0]

    def distance(self) -> np.ndarray:
        """‖θ_p − θ_origin‖ for every point, shaped like the grid.

        Computed exactly from the anchors' Gram matrix. On paths without ``beta`` the
        value carries the sign of α, so that curves through negative α do not fold
        over when plotted against distance; on 2-D slices it is the plain norm.
        """
        delta = self.coefficients - self.origin
        if self.affine:
            # Rows of δ sum to zero, so ‖Σ δ_k θ_k‖² = −½ δᵀ D δ with D the squared
            # distances between anchors, each formed from a difference: no large norms
            # cancel, and a row joining two anchors is exactly |δ|·‖θ_a − θ_b‖.
            support = (delta != 0).astype(float)
            pairs = (support.T @ support) > 0
            dist2 = squared_distances(self.anchors, pairs)
            sq = -0.5 * np.einsum("pi,ij,pj->p", delta, dist2, delta)
        else:  # paths along directions: the plain basis has no cancellation to avoid
            g = gram(self.anchors)
            sq = np.einsum("pi,ij,pj->p", delta, g, delta)
        dist = np.sqrt(np.clip(sq, 0.0, None)).reshape(self.shape)
        if "alpha" in self.dims and "beta" not in self.dims:
            axis = self.dims.index("alpha")
            sign = np.where(self.coords["alpha"] < 0, -1.0, 1.0)
            dist = dist * sign.reshape([-1 if d == axis else 1 for d in range(dist.ndim)])
        return dist

    def resampled(self, alpha: Any) -> Path:
        """The same line at other α, sharing this path's anchors (no copies).

        For paths whose points are θ(α) = (1 − α)·θ_0 + α·θ_1 (:func:`linear`,
        :func:`ray`): evaluating several of them in a
        :func:`landscapes.engine.session` then reuses what depends on the anchors.

        Examples
        --------
        >>> import torch
        >>> line = linear({"w": torch.zeros(1)}, {"w": torch.ones(1)}, [0.0, 1.0])
        >>> half = line.resampled([0.5])
        >>> float(half.point(0)["w"]), half.anchors is line.anchors
        (0.5, True)
        """
        grid = self.coords.get("alpha")
        if (
            self.dims != ("alpha",)
            or len(self.anchors) != 2
            or grid is None
            or not np.array_equal(self.coefficients, np.stack([1.0 - grid, grid], axis=1))
            or not (self.origin == self.origin[0]).all()
        ):
            raise ValueError(
                f"resampled needs a line θ(α) = (1 − α)·θ_0 + α·θ_1 (paths.linear or "
                f"paths.ray); this {self.kind!r} path has dims {self.dims!r}"
            )
        new = _as_grid(alpha, "alpha")
        return Path(
            self.anchors, self.names, np.stack([1.0 - new, new], axis=1), self.dims,
            {"alpha": new}, self.origin[0], self.kind, dict(self.info), self.affine,
        )

def materialize(anchors: Sequence[Anchor], coefficients: np.ndarray) -> list[Anchor]:
    """Materialise the points with the given coefficient rows.

    Each entry is formed as Σ_k c_k θ_k in the anchors' dtype; integer entries come
    from the first anchor. A coefficient of exactly 1 on one anchor and 0 elsewhere
    reproduces that anchor bit for bit.

    Examples
    --------
    >>> import numpy as np, torch
    >>> pts = materialize([{"w": torch.tensor([1.0])}, {"w": torch.tensor([3.0])}],
    ...                   np.array([[0.5, 0.5], [0.0, 1.0]]))
    >>> [float(p["w"]) for p in pts]
    [2.0, 3.0]
    """
    c = np.asarray(coefficients, dtype=np.float64)
    out: list[Anchor] = [{} for _ in range(c.shape[0])]
    for key, ref in anchors[0].items():
        if not is_interpolated(ref):
            for p in out:
                p[key] = ref
            continue
        stacked = torch.stack([a[key] for a in anchors])
        coef = torch.tensor(c, dtype=ref.dtype, device=ref.device)
        values = torch.tensordot(coef, stacked, dims=([1], [0]))
        for i, p in enumerate(out):
            p[key] = values[i]
    return out


def take(path: Path, start: int, stop: int) -> Path:
    """The points of ``path`` whose index along its first dimension is in [start, stop).

    The same anchors with a block of the coefficient rows (rows follow the grid in C
    order, so a block of the first dimension is a contiguous run of rows): a chunk of a
    large path that another process can evaluate. The engine gives every point of a
    chunk the same bits as the whole path does, so chunks reassemble exactly
    (``xarray.concat`` along that dimension).

    Examples
    --------
    >>> import torch
    >>> p = linear({"w": torch.zeros(1)}, {"w": torch.ones(1)}, [0.0, 0.25, 0.5, 1.0])
    >>> q = take(p, 1, 3)
    >>> q.coords["alpha"].tolist(), len(q)
    ([0.25, 0.5], 2)
    """
    first = path.dims[0]
    length = path.shape[0]
    if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
            and 0 <= start < stop <= length):
        raise ValueError(f"need 0 <= start < stop <= {length} along {first!r}, got "
                         f"{start!r} and {stop!r}")
    inner = len(path) // length
    rows = slice(int(start) * inner, int(stop) * inner)
    coords = dict(path.coords)
    coords[first] = np.asarray(path.coords[first])[start:stop]
    return Path(path.anchors, path.names, path.coefficients[rows], path.dims, coords,
                path.origin[rows], path.kind, dict(path.info), affine=path.affine,
                start=path.start + int(start))


def blocks(path: Path, points: int) -> list[tuple[int, int]]:
    """Split the first dimension of ``path`` into blocks of at most ``points`` points.

    Blocks hold whole indices of the first dimension (so at least one, however many
    points that is), are as even as that allows, and depend only on the path and
    ``points``, never on how many processes will evaluate them.

    Examples
    --------
    >>> import torch
    >>> p = linear({"w": torch.zeros(1)}, {"w": torch.ones(1)}, list(range(10)))
    >>> blocks(p, 4)
    [(0, 3), (3, 6), (6, 10)]
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ValueError(f"points must be a positive integer, got {points!r}")
    length = path.shape[0]
    inner = len(path) // length
    per = max(1, int(points) // max(inner, 1))
    count = -(-length // per)
    edges = [i * length // count for i in range(count + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


# ------------------------------------------------------------------------ validation


def _as_grid(values: Any, name: str) -> np.ndarray:
    if isinstance(values, str):
        return grids.grid(values)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers or a grid name, got {values!r}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape!r}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {arr!r}")
    return arr


def _anchors(items: Sequence[tuple[str, Any]]) -> tuple[tuple[Anchor, ...], tuple[str, ...]]:
    names = tuple(n for n, _ in items)
    anchors = tuple(as_anchor(obj, f"anchor {n!r}") for n, obj in items)
    check_anchors(anchors, names)
    return anchors, names


def _names(names: Sequence[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if names is None:
        return default
    names = tuple(names)
    if len(names) != len(default) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"names must be {len(default)} non-empty strings, got {names!r}")
    return names


# ---------------------------------------------------------------------- constructors


def linear(
    a: Any,
    b: Any,
    alphas: Any = "uniform",
    *,
    names: Sequence[str] | None = None,
) -> Path:
    """The straight line θ(α) = (1 − α)·θ_a + α·θ_b (Goodfellow et al. 2015, §2).

    Parameters
    ----------
    a, b : mapping of str to tensor, or torch.nn.Module
        The endpoints at α = 0 and α = 1.
    alphas : array_like or str
        Any values, including outside [0, 1], or a grid name from
        :mod:`landscapes.grids` (default ``"uniform"``: 100 points on [0, 1]).
    names : pair of str, optional
        Anchor names, default ``("a", "b")``.

    Returns
    -------
    Path
        Dimension ``alpha``; coefficients ``[1 − α, α]``.

    Examples
    --------
    >>> import torch
    >>> p = linear({"w": torch.tensor([0.0])}, {"w": torch.tensor([2.0])}, [-0.5, 0.5, 1.5])
    >>> [float(p.point(i)["w"]) for i in range(3)]
    [-1.0, 1.0, 3.0]
    """
    alpha = _as_grid(alphas, "alphas")
    anchors, names = _anchors(list(zip(_names(names, ("a", "b")), (a, b))))
    coef = np.stack([1.0 - alpha, alpha], axis=1)
    return Path(anchors, names, coef, ("alpha",), {"alpha": alpha}, np.array([1.0, 0.0]), "linear")


def ray(
    a: Any,
    b: Any,
    distances: Any,
    *,
    names: Sequence[str] | None = None,
) -> Path:
    """Points at absolute distance λ from θ_a towards θ_b (Im et al. 2016, eq. 1).

    θ(λ) = θ_a + λ·(θ_b − θ_a)/‖θ_b − θ_a‖. Im et al. start at a final point and head
    for the initialisation, so basins of different optimisers compare in the same
    units; pass ``a=final, b=init`` for that.

    Parameters
    ----------
    a, b : mapping of str to tensor, or torch.nn.Module
        Start and the point that sets the direction; they must differ.
    distances : array_like
        λ values (any sign) in parameter-space units (the L2 norm over all
        floating-point entries).
    names : pair of str, optional

    Returns
    -------
    Path
        Dimension ``alpha`` with α = λ/‖θ_b − θ_a‖ (so α = 1 is θ_b); the signed
        ``distance`` coordinate of the results equals λ. Its anchors are θ_a and the
        unit direction u = (θ_b − θ_a)/‖θ_b − θ_a‖, with coefficients [1, λ].

    Examples
    --------
    >>> import torch
    >>> p = ray({"w": torch.tensor([0.0, 0.0])}, {"w": torch.tensor([3.0, 4.0])}, [0.0, 5.0, 10.0])
    >>> p.coords["alpha"].tolist()
    [0.0, 1.0, 2.0]
    >>> p.distance().round(5).tolist()  # float32 anchors: exact up to rounding
    [0.0, 5.0, 10.0]
    """
    lam = _as_grid(distances, "distances")
    anchors, names = _anchors(list(zip(_names(names, ("a", "b")), (a, b))))
    norm = math.sqrt(gram(anchors, shifted=True)[1, 1])
    if norm == 0.0:
        raise ValueError(f"anchors {names[0]!r} and {names[1]!r} coincide: a ray needs a direction")
    # Anchors θ_a and the unit direction u, coefficients [1, λ]: the form (1 − α)θ_a + αθ_b
    # would cancel catastrophically for distances far beyond ‖θ_b − θ_a‖.
    start = anchors[0]
    u = {
        k: ((anchors[1][k].double() - v.double()) / norm).to(v.dtype) if is_interpolated(v)
        else torch.zeros_like(v)
        for k, v in start.items()
    }
    coef = np.stack([np.ones_like(lam), lam], axis=1)
    return Path(
        (start, u), (names[0], f"direction_to_{names[1]}"), coef, ("alpha",),
        {"alpha": lam / norm}, np.array([1.0, 0.0]), "ray", {"norm": norm}, affine=False,
    )


def _grid2(alphas: Any, betas: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    alpha = _as_grid(alphas, "alphas")
    beta = _as_grid(betas, "betas")
    aa, bb = np.meshgrid(alpha, beta, indexing="ij")
    return alpha, beta, aa.reshape(-1), bb.reshape(-1)


def bilinear(
    t00: Any,
    t10: Any,
    t01: Any,
    t11: Any,
    alphas: Any,
    betas: Any,
    *,
    names: Sequence[str] | None = None,
) -> Path:
    """The bilinear surface through four points (Im et al. 2016, Appendix A.1).

    θ(α, β) = (1 − α)(1 − β)·θ₀₀ + α(1 − β)·θ₁₀ + (1 − α)β·θ₀₁ + αβ·θ₁₁, so each
    corner sits where its subscript says: θ₁₀ at (α, β) = (1, 0).

    Parameters
    ----------
    t00, t10, t01, t11 : mapping of str to tensor, or torch.nn.Module
    alphas, betas : array_like or str
        Grid values (any reals; [0, 1] covers the quadrilateral).
    names : four str, optional
        Default ``("t00", "t10", "t01", "t11")``.

    Returns
    -------
    Path
        Dimensions ``("alpha", "beta")``.

    Examples
    --------
    >>> import torch
    >>> corners = [{"w": torch.tensor([float(v)])} for v in (0, 1, 2, 3)]
    >>> p = bilinear(*corners, [0.0, 1.0], [0.0, 1.0])
    >>> [float(p.point((i, j))["w"]) for i in (0, 1) for j in (0, 1)]
    [0.0, 2.0, 1.0, 3.0]
    """
    alpha, beta, a, b = _grid2(alphas, betas)
    default = ("t00", "t10", "t01", "t11")
    anchors, names = _anchors(list(zip(_names(names, default), (t00, t10, t01, t11))))
    coef = np.stack([(1 - a) * (1 - b), a * (1 - b), (1 - a) * b, a * b], axis=1)
    return Path(
        anchors, names, coef, ("alpha", "beta"), {"alpha": alpha, "beta": beta},
        np.array([1.0, 0.0, 0.0, 0.0]), "bilinear",
    )


def barycentric(
    t0: Any,
    t1: Any,
    t2: Any,
    alphas: Any,
    betas: Any,
    *,
    names: Sequence[str] | None = None,
) -> Path:
    """The triangle spanned by three points (Im et al. 2016, Appendix A.1, eqs. 6–8).

    With d₁ = θ₁ − θ₀ and d₂ = θ₂ − θ₀, Im et al. set φ = θ₀ + α·d₁, ψ = θ₀ + α·d₂ and
    θ = β·φ + (1 − β)·ψ, that is θ(α, β) = (1 − α)·θ₀ + αβ·θ₁ + α(1 − β)·θ₂: α runs
    from θ₀ (α = 0) to the opposite edge, β along it from θ₂ (β = 0) to θ₁ (β = 1).

    Parameters
    ----------
    t0, t1, t2 : mapping of str to tensor, or torch.nn.Module
    alphas, betas : array_like or str
        [0, 1] × [0, 1] covers the triangle.
    names : three str, optional
        Default ``("t0", "t1", "t2")``.

    Returns
    -------
    Path
        Dimensions ``("alpha", "beta")``.

    Examples
    --------
    >>> import torch
    >>> v = [{"w": torch.tensor([float(x)])} for x in (0, 1, 2)]
    >>> p = barycentric(*v, [0.0, 1.0], [0.0, 1.0])
    >>> [float(p.point((1, j))["w"]) for j in (0, 1)]
    [2.0, 1.0]
    """
    alpha, beta, a, b = _grid2(alphas, betas)
    anchors, names = _anchors(list(zip(_names(names, ("t0", "t1", "t2")), (t0, t1, t2))))
    coef = np.stack([1 - a, a * b, a * (1 - b)], axis=1)
    return Path(
        anchors, names, coef, ("alpha", "beta"), {"alpha": alpha, "beta": beta},
        np.array([1.0, 0.0, 0.0]), "barycentric",
    )


def _tie(direction: Anchor, groups: list[tuple[str, ...]]) -> Anchor:
    # Every name of a tied tensor moves with its first; the draws for the other names
    # are discarded rather than skipped, so untied entries do not depend on the ties.
    for first, *others in groups:
        for name in others:
            direction[name] = direction[first]
    return direction


def plane(
    center: Any,
    d1: Any = None,
    d2: Any = None,
    alphas: Any = None,
    betas: Any = None,
    *,
    seed: int = 0,
    normalization: Literal["filter", "layer"] | None = "filter",
    bias_bn: Literal["zero", "copy", "normalize"] = "zero",
    orthogonalize: bool = False,
) -> Path:
    """The plane θ(α, β) = θ_c + α·d₁ + β·d₂ (Li et al. 2018).

    Directions left as ``None`` are seeded Gaussian directions normalised as
    :func:`landscapes.directions.random_direction` describes (``d1`` from ``seed``,
    ``d2`` from ``seed + 1``); directions you pass are used as they are. A tied tensor
    of ``center`` (one tensor under two names, see
    :func:`landscapes.anchors.shared_entries`) gets one random direction, under its
    first name, for all its names, so the plane stays in the tied model's space.

    Parameters
    ----------
    center : mapping of str to tensor, or torch.nn.Module
        θ_c, at (α, β) = (0, 0).
    d1, d2 : mapping of str to tensor, optional
        Directions shaped like ``center``.
    alphas, betas : array_like or str
        Grid values; default 25 points on [−1, 1] each.
    seed : int
        Seed of the random directions.
    normalization : {"filter", "layer", None}
        Scaling of random directions: per filter (Li et al.), per tensor, or none.
    bias_bn : {"zero", "copy", "normalize"}
        Random direction on one-dimensional entries (biases, normalisation parameters
        and running statistics): zero -- they stay at the centre, Li et al.'s
        ``ignore='biasbn'`` -- the entry itself, or a normalised Gaussian.
    orthogonalize : bool
        Make d₂ orthogonal to d₁ (Gram--Schmidt over all entries, keeping ‖d₂‖).

    Returns
    -------
    Path
        Dimensions ``("alpha", "beta")``; anchors ``("center", "d1", "d2")`` with
        coefficients ``[1, α, β]``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> p = plane(net, alphas=[-1, 0, 1], betas=[-1, 0, 1], seed=0)
    >>> p.shape
    (3, 3)
    >>> torch.equal(p.point((1, 1))["0.weight"], net[0].weight.detach())
    True
    """
    alpha = _as_grid(np.linspace(-1, 1, 25) if alphas is None else alphas, "alphas")
    beta = _as_grid(np.linspace(-1, 1, 25) if betas is None else betas, "betas")
    c = as_anchor(center, "anchor 'center'")
    tied = shared_entries(center)
    info: dict[str, Any] = {}
    if d1 is None or d2 is None:
        info.update(seed=seed, normalization=normalization, bias_bn=bias_bn)
    if d1 is None:
        d1 = _tie(random_direction(c, seed=seed, normalization=normalization, bias_bn=bias_bn), tied)
    if d2 is None:
        d2 = _tie(random_direction(c, seed=seed + 1, normalization=normalization, bias_bn=bias_bn), tied)
    anchors, names = _anchors([("center", c), ("d1", d1), ("d2", d2)])
    if orthogonalize:
        anchors = (anchors[0], anchors[1], _orthogonalize(anchors[1], anchors[2]))
        info["orthogonalize"] = True
    aa, bb = np.meshgrid(alpha, beta, indexing="ij")
    a, b = aa.reshape(-1), bb.reshape(-1)
    coef = np.stack([np.ones_like(a), a, b], axis=1)
    return Path(
        anchors, names, coef, ("alpha", "beta"), {"alpha": alpha, "beta": beta},
        np.array([1.0, 0.0, 0.0]), "plane", info, affine=False,
    )


def from_iterations(
    checkpoints: Mapping[int, Any],
    final: Any,
    alphas: Any = "uniform",
) -> Path:
    """Linear paths from the state at each iteration t to the final state (Frankle 2020 §4).

    Parameters
    ----------
    checkpoints : mapping of int to state dict
        θ_t by training iteration t.
    final : mapping of str to tensor, or torch.nn.Module
        θ at the end of training.
    alphas : array_like or str
        Grid on each path (default: 100 points on [0, 1], as Frankle).

    Returns
    -------
    Path
        Dimensions ``("start_iteration", "alpha")``; one anchor per checkpoint plus
        ``"final"``. Distances are measured from θ_t of each row.

    Examples
    --------
    >>> import torch
    >>> ck = {0: {"w": torch.tensor([0.0])}, 8: {"w": torch.tensor([1.0])}}
    >>> p = from_iterations(ck, {"w": torch.tensor([2.0])}, [0.0, 0.5, 1.0])
    >>> p.shape, float(p.point((1, 1))["w"])
    ((2, 3), 1.5)
    """
    if not isinstance(checkpoints, Mapping) or not checkpoints:
        raise ValueError("checkpoints must be a non-empty dict of iteration -> state dict")
    iterations = sorted(checkpoints)
    for t in iterations:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"checkpoint keys must be non-negative iterations, got {t!r}")
    alpha = _as_grid(alphas, "alphas")
    items = [(f"t{t}", checkpoints[t]) for t in iterations] + [("final", final)]
    anchors, names = _anchors(items)
    k, n = len(iterations), len(alpha)
    coef = np.zeros((k * n, k + 1))
    for i in range(k):
        coef[i * n : (i + 1) * n, i] = 1.0 - alpha
        coef[i * n : (i + 1) * n, k] = alpha
    # Each row's distance is measured from its own start θ_t.
    origin = np.zeros((k * n, k + 1))
    for i in range(k):
        origin[i * n : (i + 1) * n, i] = 1.0
    return Path(
        anchors, names, coef, ("start_iteration", "alpha"),
        {"start_iteration": np.asarray(iterations, dtype=np.int64), "alpha": alpha},
        origin, "from_iterations",
    )



#: Kinds of mode-connecting curve (:func:`curve_coefficients`).
CURVES = ("bezier", "polychain")


def curve_coefficients(kind: str, ts: Any) -> np.ndarray:
    """Rows (c_a, c_bend, c_b) of a curve θ(t) = c_a·θ_a + c_bend·θ_bend + c_b·θ_b.

    Garipov et al. (2018, §3.2): the quadratic Bezier curve
    θ(t) = (1 − t)²·θ_a + 2t(1 − t)·θ_bend + t²·θ_b, and the polygonal chain
    θ(t) = (1 − 2t)·θ_a + 2t·θ_bend on [0, ½], (2 − 2t)·θ_bend + (2t − 1)·θ_b on [½, 1].
    Every row sums to one; t = 0 and t = 1 give the endpoints exactly.

    Parameters
    ----------
    kind : {"bezier", "polychain"}
    ts : array_like
        Values of t in [0, 1].

    Returns
    -------
    numpy.ndarray
        Shape ``(len(ts), 3)``, float64.

    Examples
    --------
    >>> curve_coefficients("bezier", [0.0, 0.5, 1.0]).tolist()
    [[1.0, 0.0, 0.0], [0.25, 0.5, 0.25], [0.0, 0.0, 1.0]]
    >>> curve_coefficients("polychain", [0.25]).tolist()
    [[0.5, 0.5, 0.0]]
    """
    if kind not in CURVES:
        from landscapes.names import unknown_name

        raise unknown_name("curve", kind, list(CURVES))
    t = _as_grid(ts, "ts")
    if ((t < 0) | (t > 1)).any():
        raise ValueError(f"curve parameters t must lie in [0, 1], got {t[(t < 0) | (t > 1)]!r}")
    return _curve_rows(kind, t)


def _curve_rows(kind: str, t: np.ndarray) -> np.ndarray:
    if kind == "bezier":
        return np.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], axis=1)
    first = t <= 0.5
    return np.stack([np.where(first, 1 - 2 * t, 0.0),
                     np.where(first, 2 * t, 2 - 2 * t),
                     np.where(first, 0.0, 2 * t - 1)], axis=1)


def _curve(kind: str, a: Any, bend: Any, b: Any, ts: Any, names: Sequence[str] | None) -> Path:
    coef = curve_coefficients(kind, ts)
    t = _as_grid(ts, "ts")
    anchors, names = _anchors(list(zip(_names(names, ("a", "bend", "b")), (a, bend, b))))
    # The dimension is "alpha", as on every 1-D path: the results schema and the barrier
    # analyses read it (here α is the curve parameter t).
    return Path(anchors, names, coef, ("alpha",), {"alpha": t}, np.array([1.0, 0.0, 0.0]), kind)


def bezier(a: Any, bend: Any, b: Any, ts: Any = "uniform", *,
           names: Sequence[str] | None = None) -> Path:
    """The quadratic Bezier curve θ(t) = (1 − t)²·θ_a + 2t(1 − t)·θ_bend + t²·θ_b.

    Garipov et al. (2018, §3.2) train the bend θ_bend so that the loss stays low along
    the whole curve between two solutions θ_a and θ_b
    (:mod:`experiments.curves`). With batch norm, evaluate with ``bn="recompute"``:
    interpolated running statistics are not those of the network at t, and the
    curve's ends would not match its endpoints' own losses otherwise.

    Parameters
    ----------
    a, bend, b : mapping of str to tensor, or torch.nn.Module
        The endpoints (t = 0, t = 1) and the bend (control point).
    ts : array_like or str
        Values of t in [0, 1], or a grid name of :mod:`landscapes.grids`.
    names : three str, optional
        Default ``("a", "bend", "b")``.

    Returns
    -------
    Path
        Dimension ``alpha`` holding t (the name every 1-D path and the results
        schema use); coefficients from :func:`curve_coefficients`. ``distance`` is
        ‖θ(t) − θ_a‖, the chord from θ_a, not the arc length.

    Examples
    --------
    >>> import torch
    >>> w = lambda x: {"w": torch.tensor([x])}
    >>> p = bezier(w(0.0), w(2.0), w(0.0), [0.0, 0.5, 1.0])
    >>> [float(p.point(i)["w"]) for i in range(3)]
    [0.0, 1.0, 0.0]
    """
    return _curve("bezier", a, bend, b, ts, names)


def polychain(a: Any, bend: Any, b: Any, ts: Any = "uniform", *,
              names: Sequence[str] | None = None) -> Path:
    """The polygonal chain θ_a → θ_bend → θ_b, the bend at t = ½ (Garipov et al. 2018).

    Parameters and returns as :func:`bezier`.

    Examples
    --------
    >>> import torch
    >>> w = lambda x: {"w": torch.tensor([x])}
    >>> p = polychain(w(0.0), w(2.0), w(0.0), [0.25, 0.5, 0.75])
    >>> [float(p.point(i)["w"]) for i in range(3)]
    [1.0, 2.0, 1.0]
    """
    return _curve("polychain", a, bend, b, ts, names)
