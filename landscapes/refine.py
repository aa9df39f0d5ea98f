"""Barriers from few points: adaptive refinement of α along a line.

A barrier question -- how high does the loss rise between two networks, and where
(Goodfellow et al. 2015; Frankle 2020, Fig. 3) -- needs the curve only near its
maximum. :func:`refine` evaluates a coarse uniform grid, then, round by round,
places a batch of new points in the intervals where the curve's maximum can still
be, until its height is known to a stated tolerance (and its place to ``alpha_tol``)
or the budget of evaluations is spent. Each round is one call of the evaluating
function with several points, so a network pays its per-call cost a few times, not
once per point. The same algorithm runs on closed forms (a callable on an array of
α) and on networks (:func:`refine_line`, whose result is an ordinary slice dataset
on a non-uniform α grid).

How an interval is judged. Between neighbouring samples α_k < α_{k+1}, the curve is
modelled by the two parabolas through (α_{k-1}, α_k, α_{k+1}) and (α_k, α_{k+1},
α_{k+2}); the larger of their maxima on the interval, plus the two parabolas'
disagreement as its uncertainty, bounds what the interval may hold. An interval
stays open while that bound exceeds the best sample by more than the tolerance, and
the two intervals next to the best sample stay open until they are narrower than
``alpha_tol`` (when the barrier is not zero). For curves smooth on the scale of the
coarse grid this bound is conservative (the parabolas' error shrinks as the cube of
the spacing); a feature narrower than the coarse spacing can be missed, as by any
grid of that spacing.

Kinds of question (``kind``):

``"rise"``
    B = max(0, max_α L(α) − L(lo)), Frankle's barrier (:func:`landscapes.metrics.rise_barrier`).
``"linear"``
    B = max(0, max_α [L(α) − chord(α)]), the chord from L(lo) to L(hi)
    (:func:`landscapes.metrics.linear_barrier`).
``"max"`` / ``"min"``
    The largest or smallest value of L and its place.

The reported height is that of the best *sampled* point, so metrics computed on the
returned points give the same number; the search stops once no interval is
estimated to hold more than ``tol·scale`` above it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from landscapes import metrics, paths, results
from landscapes.engine import evaluate, session

__all__ = ["KINDS", "Refinement", "Interval", "refine", "refine_line", "bootstrap_barrier",
           "bootstrap_intervals"]

#: The questions :func:`refine` answers.
KINDS = ("rise", "linear", "max", "min")
#: Intervals narrower than this (relative to hi − lo) are never split further.
_MIN_WIDTH = 1e-9


@dataclass(frozen=True)
class Refinement:
    """The answer of :func:`refine`.

    Attributes
    ----------
    alpha, values : numpy.ndarray
        Every evaluated point, sorted by α, and L there.
    height : float
        The barrier (``"rise"``, ``"linear"``: ≥ 0) or the extreme value
        (``"max"``, ``"min"``), from the best sampled point.
    location : float
        Its α; NaN for a zero barrier.
    kind : str
    tolerance : float
        The absolute height tolerance, ``tol · scale``.
    scale : float
    alpha_tolerance : float
    error : float
        The estimated most the curve may exceed the best sample by (under the
        parabola model); ``converged`` means ``error <= tolerance`` and the place
        is pinned to ``alpha_tolerance``.
    converged : bool
    rounds : list of numpy.ndarray
        The α of each call, the coarse grid first (none for points given as ``known``).
    given : int
        Points of ``alpha`` that were given (``known``), not evaluated by the search.
    """

    alpha: np.ndarray
    values: np.ndarray
    height: float
    location: float
    kind: str
    tolerance: float
    scale: float
    alpha_tolerance: float
    error: float
    converged: bool
    rounds: list[np.ndarray] = field(default_factory=list)
    given: int = 0

    @property
    def evaluations(self) -> int:
        """Points the search evaluated (those it was given, ``known``, not counted)."""
        return int(self.alpha.size) - self.given

    def summary(self) -> dict[str, Any]:
        """The settings and outcome as plain values (for a dataset's attributes)."""
        return {
            "kind": self.kind,
            "height": self.height,
            "location": self.location,
            "tolerance": self.tolerance,
            "scale": self.scale,
            "alpha_tolerance": self.alpha_tolerance,
            "error": self.error,
            "converged": self.converged,
            "evaluations": self.evaluations,
            "given": self.given,
            "rounds": [r.tolist() for r in self.rounds],
        }


def _check_positive(value: Any, name: str, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0 or not math.isfinite(value):
        what = "a positive integer" if integer else "a positive finite number"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def _objective(kind: str, alpha: np.ndarray, values: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, float]:
    """g, whose maximum the search looks for, and the base the height counts from."""
    if kind == "rise":
        return values, float(values[0])
    if kind == "linear":
        t = (alpha - lo) / (hi - lo)
        return values - ((1 - t) * values[0] + t * values[-1]), 0.0
    if kind == "max":
        return values, 0.0
    return -values, 0.0


def _parabola_max(a: np.ndarray, g: np.ndarray, left: float, right: float) -> float:
    """The maximum on [left, right] of the parabola through three points (Newton form)."""
    f01 = (g[1] - g[0]) / (a[1] - a[0])
    f12 = (g[2] - g[1]) / (a[2] - a[1])
    c2 = (f12 - f01) / (a[2] - a[0])

    def p(t: float) -> float:
        return float(g[0] + f01 * (t - a[0]) + c2 * (t - a[0]) * (t - a[1]))

    best = max(p(left), p(right))
    if c2 < 0:
        vertex = 0.5 * (a[0] + a[1]) - f01 / (2 * c2)
        if left < vertex < right:
            best = max(best, p(vertex))
    return best


def _bounds(alpha: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Per interval, an estimate of the most g reaches inside it (see the module notes)."""
    n = alpha.size
    out = np.empty(n - 1)
    for k in range(n - 1):
        left, right = alpha[k], alpha[k + 1]
        ends = max(g[k], g[k + 1])
        fits = []
        if k >= 1:
            fits.append(_parabola_max(alpha[k - 1 : k + 2], g[k - 1 : k + 2], left, right))
        if k + 2 < n:
            fits.append(_parabola_max(alpha[k : k + 3], g[k : k + 3], left, right))
        if not fits:
            out[k] = math.inf
        elif len(fits) == 1:
            # one model only: count its whole bump above the ends as uncertain
            out[k] = ends + 2 * (max(fits[0], ends) - ends)
        else:
            out[k] = max(ends, *fits) + abs(fits[0] - fits[1])
    return out


def _next_points(alpha: np.ndarray, open_ranked: list[int], budget: int) -> np.ndarray:
    """``budget`` new α: one per open interval in rank order, round after round,
    spread evenly inside each interval."""
    counts = dict.fromkeys(open_ranked, 0)
    for i in range(budget):
        counts[open_ranked[i % len(open_ranked)]] += 1
    new = []
    for k, m in counts.items():
        left, right = alpha[k], alpha[k + 1]
        new.extend(left + (right - left) * np.arange(1, m + 1) / (m + 1))
    return np.asarray(new, dtype=float)


def refine(
    fn: Callable[[np.ndarray], Any],
    *,
    kind: str = "rise",
    lo: float = 0.0,
    hi: float = 1.0,
    tol: float = 1e-3,
    scale: float | None = None,
    alpha_tol: float = 1e-2,
    coarse: int = 11,
    per_round: int = 10,
    max_evaluations: int = 30,
    known: tuple[Any, Any] | None = None,
) -> Refinement:
    """Find a barrier's height and place from few evaluations of a curve.

    Parameters
    ----------
    fn : callable
        ``fn(alpha)`` returns L at every α of a 1-D array (one call per round).
    kind : {"rise", "linear", "max", "min"}
        The question (module notes).
    lo, hi : float
        The segment of α searched; both ends are evaluated.
    tol : float
        Height tolerance relative to ``scale``.
    scale : float, optional
        What ``tol`` is relative to, e.g. the init→final loss range of the run the
        line comes from. Default: the spread (max − min) of L on the coarse grid, or
        1 where that is 0.
    alpha_tol : float
        The place of a non-zero barrier is pinned to within this.
    coarse : int
        Points of the first, uniform grid (at least 3).
    per_round : int
        New points per later call.
    max_evaluations : int
        Budget of points in all; the search stops early when it has converged. With
        ``known``, the budget of new points.
    known : (alpha, values), optional
        Points of the curve already evaluated (a figure's uniform grid), both ends of
        [lo, hi] among them: they replace the coarse grid, cost nothing, and the
        search only adds points where they leave the barrier open (``coarse`` is
        then unused). Points outside [lo, hi] are ignored.

    Returns
    -------
    Refinement

    Examples
    --------
    A quartic with its barrier at α = 0.5 (height 1/16), found to 10⁻⁶:

    >>> import numpy as np
    >>> r = refine(lambda a: (a * (1 - a)) ** 2 - 0.1 * a, kind="linear", tol=1e-6, scale=1.0)
    >>> round(r.height, 5), round(r.location, 2), r.converged, r.evaluations <= 30
    (0.0625, 0.5, True, True)

    Seeded with a fine grid already evaluated, it spends few points or none:

    >>> a = np.linspace(0, 1, 101)
    >>> q = lambda a: (a * (1 - a)) ** 2 - 0.1 * a
    >>> r = refine(q, kind="linear", tol=1e-3, scale=1.0, known=(a, q(a)))
    >>> round(r.height, 4), r.evaluations <= 10
    (0.0625, True)

    A curve that only descends has no rise barrier:

    >>> refine(lambda a: np.exp(-a), kind="rise").height
    0.0
    """
    _check_search(kind, lo, hi, tol, scale, alpha_tol, coarse if known is None else 3,
                  per_round, max_evaluations)
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(alpha), got {fn!r}")
    seed = None if known is None else _check_known(known, float(lo), float(hi))
    return _refine(fn, kind, float(lo), float(hi), tol, scale, alpha_tol, coarse, per_round,
                   max_evaluations, seed)


def _check_known(known: Any, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``known`` points inside [lo, hi], sorted; both ends must be among them."""
    try:
        alpha, values = (np.asarray(v, dtype=float).reshape(-1) for v in known)
    except (TypeError, ValueError) as why:
        raise ValueError(f"known must be a pair (alpha, values) of 1-D arrays, got {known!r}") from why
    if alpha.shape != values.shape:
        raise ValueError(f"known has {alpha.size} alpha but {values.size} values; give one value per α")
    inside = (alpha >= lo) & (alpha <= hi)
    alpha, values = alpha[inside], values[inside]
    alpha, first = np.unique(alpha, return_index=True)
    values = values[first]
    if alpha.size < 3 or alpha[0] != lo or alpha[-1] != hi:
        raise ValueError(f"known must hold at least 3 points of [{lo}, {hi}], both ends included; "
                         f"got α from {alpha.min() if alpha.size else None} to "
                         f"{alpha.max() if alpha.size else None} ({alpha.size} points)")
    return alpha, values


def _check_search(kind: str, lo: float, hi: float, tol: float, scale: float | None,
                  alpha_tol: float, coarse: int, per_round: int, max_evaluations: int) -> None:
    """The arguments of :func:`refine`, checked before any evaluation."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {list(KINDS)}")
    for name, value in (("lo", lo), ("hi", hi)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not hi > lo:
        raise ValueError(f"hi must be greater than lo, got lo={lo!r}, hi={hi!r}")
    _check_positive(tol, "tol")
    _check_positive(alpha_tol, "alpha_tol")
    if scale is not None:
        _check_positive(scale, "scale")
    _check_positive(per_round, "per_round", integer=True)
    _check_positive(max_evaluations, "max_evaluations", integer=True)
    if isinstance(coarse, bool) or not isinstance(coarse, int) or coarse < 3:
        raise ValueError(f"coarse must be an integer >= 3, got {coarse!r}")
    if coarse > max_evaluations:
        raise ValueError(f"coarse ({coarse}) exceeds max_evaluations ({max_evaluations})")


def _call(fn: Callable[[np.ndarray], Any], alpha: np.ndarray) -> np.ndarray:
    values = np.asarray(fn(alpha), dtype=float).reshape(-1)
    if values.shape != alpha.shape:
        raise ValueError(f"fn returned {values.size} values for {alpha.size} points; it must return one per α")
    return values


def _refine(
    fn: Callable[[np.ndarray], Any],
    kind: str,
    lo: float,
    hi: float,
    tol: float,
    scale: float | None,
    alpha_tol: float,
    coarse: int,
    per_round: int,
    max_evaluations: int,
    seed: tuple[np.ndarray, np.ndarray] | None = None,
) -> Refinement:
    if seed is None:
        alpha = np.linspace(lo, hi, coarse)
        values = _call(fn, alpha)
        given = 0
    else:
        # Points already paid for stand in for the coarse grid; the budget is new points.
        alpha, values = seed
        given = int(alpha.size)
        max_evaluations += given
    rounds = [alpha.copy()] if seed is None else []
    if scale is None:
        finite = values[np.isfinite(values)]
        spread = float(finite.max() - finite.min()) if finite.size else 0.0
        scale = spread if spread > 0 else 1.0
    atol = tol * scale
    min_width = _MIN_WIDTH * (hi - lo)
    while True:
        g, base = _objective(kind, alpha, values, lo, hi)
        if not np.all(np.isfinite(g)):
            error, open_ranked = math.nan, []  # nothing to model: report what there is
            break
        j = int(np.argmax(g))
        best = float(g[j])
        bound = _bounds(alpha, g)
        width = np.diff(alpha)
        excess = bound - best
        ranked = [int(k) for k in np.argsort(-excess) if excess[k] > atol and width[k] > min_width]
        barrier = best - base > atol or kind in ("max", "min")
        pin = [k for k in (j - 1, j) if 0 <= k < width.size and width[k] > alpha_tol and k not in ranked]
        open_ranked = ranked + (pin if barrier else [])
        error = max(0.0, float(excess.max()))
        budget = min(per_round, max_evaluations - alpha.size)
        if not open_ranked or budget <= 0:
            break
        new = _next_points(alpha, open_ranked, budget)
        new_values = _call(fn, new)
        rounds.append(new)
        alpha = np.concatenate([alpha, new])
        values = np.concatenate([values, new_values])
        order = np.argsort(alpha, kind="stable")
        alpha, values = alpha[order], values[order]
    height, location = _answer(kind, alpha, values, lo, hi)
    return Refinement(
        alpha=alpha, values=values, height=height, location=location, kind=kind, tolerance=atol,
        scale=float(scale), alpha_tolerance=alpha_tol, error=error,
        converged=not open_ranked and math.isfinite(error), rounds=rounds, given=given,
    )


def _answer(kind: str, alpha: np.ndarray, values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """Height and place by the same rules as :mod:`landscapes.metrics`."""
    curve = xr.DataArray(values, dims="alpha", coords={"alpha": alpha})
    if kind == "rise":
        res = metrics.rise_barrier(curve)
    elif kind == "linear":
        res = metrics.linear_barrier(curve)
    else:
        idx = int(np.nanargmax(values) if kind == "max" else np.nanargmin(values)) if np.isfinite(values).any() else 0
        return float(values[idx]), float(alpha[idx])
    return float(res.height), float(res.location)


# --------------------------------------------------------------------- on networks


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval of a barrier height (:func:`bootstrap_barrier`)."""

    height: float
    low: float
    high: float
    level: float
    resamples: int
    examples: int


def bootstrap_barrier(
    ds: xr.Dataset,
    kind: str = "rise",
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a barrier computed from a subset of the data.

    Resamples the examples with replacement (the α points held fixed), recomputes the
    mean loss at every α and the barrier of that curve, and returns the
    ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of the barrier over
    ``resamples`` resamples.

    What it means: the spread of the barrier one would see with another random
    subset of the same size from the same data, i.e. the sampling error of using a
    subset. It does not include the tolerance of the α search, nor any difference
    between the data the subset was drawn from and other data (train vs test).

    Parameters
    ----------
    ds : xarray.Dataset
        A 1-D slice dataset with ``loss_per_example`` (dims ``alpha``, ``example``),
        from :func:`landscapes.evaluate` with ``per_example=True``.
    kind : {"rise", "linear", "bump"}
    level : float
        Coverage of the interval, in (0, 1).
    resamples : int
    seed : int

    Returns
    -------
    Interval

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> a = np.linspace(0, 1, 5)
    >>> each = 1 + 4 * a[:, None] * (1 - a[:, None]) + 0.1 * rng.standard_normal((5, 200))
    >>> ds = xr.Dataset({"loss_per_example": (("alpha", "example"), each)}, coords={"alpha": a})
    >>> iv = bootstrap_barrier(ds, "rise")
    >>> iv.low < iv.height < iv.high and iv.high - iv.low < 0.1
    True
    """
    _check_bootstrap(kind, level, resamples)
    if "loss_per_example" not in ds.data_vars:
        raise ValueError(
            "the dataset has no 'loss_per_example'; evaluate with per_example=True "
            "(or refine_line(..., subset=n))"
        )
    each = ds["loss_per_example"]
    if set(each.dims) != {"alpha", "example"}:
        raise ValueError(f"loss_per_example must have dims ('alpha', 'example'), got {each.dims!r}")
    height = float(_BOOTSTRAP_KINDS[kind](each.mean("example")).height)
    low, high = (float(v) for v in _intervals(each, (kind,), level, resamples, seed)[kind].values)
    return Interval(height, low, high, float(level), int(resamples), int(each.sizes["example"]))


def bootstrap_intervals(
    each: xr.DataArray,
    kind: str | Sequence[str] = "rise",
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> xr.DataArray | xr.Dataset:
    """:func:`bootstrap_barrier` for every curve of a per-example loss array.

    Parameters
    ----------
    each : xarray.DataArray
        Losses with dims ``alpha`` and ``example`` and any others (split, replicate,
        start iteration ...): each combination of the others is one curve. Examples
        that are NaN at every α (a split shorter than the longest, as
        :func:`landscapes.evaluate` pads them) are left out of that curve.
    kind : {"rise", "linear", "bump"} or a sequence of them
        Several kinds are read off the same resampled curves.
    level, resamples, seed
        As in :func:`bootstrap_barrier`; every curve resamples with ``seed``.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        The interval's ends, dims (the others..., ``bound``) with ``bound`` =
        ``["low", "high"]``; for a sequence of kinds, a Dataset with one such
        variable per kind.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> a = np.linspace(0, 1, 5)
    >>> bump = 1 + 4 * a[:, None] * (1 - a[:, None])
    >>> each = xr.DataArray(np.stack([bump + 0.1 * rng.standard_normal((5, 200)),
    ...                               0 * bump + 0.1 * rng.standard_normal((5, 200))]),
    ...                     dims=("curve", "alpha", "example"), coords={"alpha": a})
    >>> iv = bootstrap_intervals(each, "rise")
    >>> iv.dims, bool(iv.sel(curve=0, bound="low") > 0.9), bool(iv.sel(curve=1, bound="high") < 0.1)
    (('curve', 'bound'), True, True)
    """
    if isinstance(kind, str):
        return _intervals(each, (kind,), level, resamples, seed)[kind]
    return xr.Dataset(_intervals(each, tuple(kind), level, resamples, seed))


def _intervals(each: xr.DataArray, kinds: tuple[str, ...], level: float, resamples: int,
               seed: int) -> dict[str, xr.DataArray]:
    """:func:`bootstrap_intervals` of several kinds from one set of resampled curves."""
    for kind in kinds:
        _check_bootstrap(kind, level, resamples)
    if not {"alpha", "example"} <= set(each.dims):
        raise ValueError(f"each must have dims 'alpha' and 'example', got {each.dims!r}")
    others = [d for d in each.dims if d not in ("alpha", "example")]
    ordered = each.transpose(*others, "alpha", "example")
    grid = each["alpha"].values.astype(float)
    flat = ordered.values.astype(float).reshape(-1, grid.size, each.sizes["example"])
    ends = {kind: np.full((flat.shape[0], 2), np.nan) for kind in kinds}
    present = ~np.isnan(flat).all(axis=1)  # (curve, example): padding is NaN at every α
    # Curves with the same examples present share one draw of resample weights, which
    # depends only on the seed and their number: each curve's interval is the same
    # whichever other curves come with it, in one call or in several.
    groups: dict[bytes, list[int]] = {}
    for i, mask in enumerate(present):
        if mask.any():
            groups.setdefault(mask.tobytes(), []).append(i)
    for members in groups.values():
        mask = present[members[0]]
        n = int(mask.sum())
        weights = np.random.default_rng(seed).multinomial(
            n, np.full(n, 1.0 / n), size=resamples).astype(float) / n
        losses = flat[members][:, :, mask]  # (curves, alpha, n)
        # numpy's own loop, not BLAS: its sums do not depend on the BLAS thread count
        # of the process (a worker and the client gave intervals 1e-16 apart).
        curves = np.einsum("rn,can->cra", weights, losses, optimize=False)
        resampled = xr.DataArray(curves, dims=("curve", "resample", "alpha"),
                                 coords={"alpha": grid})
        for kind in kinds:
            heights = _BOOTSTRAP_KINDS[kind](resampled).height.values  # (curves, resamples)
            ends[kind][members] = np.quantile(heights, [(1 - level) / 2, (1 + level) / 2],
                                              axis=1).T
    shape = [ordered.sizes[d] for d in others] + [2]
    coords = {d: ordered.coords[d] for d in others if d in ordered.coords}
    return {kind: xr.DataArray(e.reshape(shape), dims=(*others, "bound"),
                               coords={**coords, "bound": ["low", "high"]})
            for kind, e in ends.items()}


#: The barrier measures a bootstrap interval can be taken of.
_BOOTSTRAP_KINDS = {"rise": metrics.rise_barrier, "linear": metrics.linear_barrier,
                    "bump": metrics.bump_barrier}


def _check_bootstrap(kind: str, level: float, resamples: int) -> None:
    if kind not in _BOOTSTRAP_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {list(_BOOTSTRAP_KINDS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    _check_positive(resamples, "resamples", integer=True)


def refine_line(
    model: nn.Module,
    start: Mapping[str, torch.Tensor] | nn.Module,
    end: Mapping[str, torch.Tensor] | nn.Module,
    data: tuple[torch.Tensor, torch.Tensor] | Any,
    *,
    kind: str = "rise",
    lo: float = 0.0,
    hi: float = 1.0,
    tol: float = 1e-3,
    scale: float | None = None,
    alpha_tol: float = 1e-2,
    coarse: int = 11,
    per_round: int = 10,
    max_evaluations: int = 30,
    subset: int | None = None,
    seed: int = 0,
    level: float = 0.95,
    resamples: int = 1000,
    **options: Any,
) -> xr.Dataset:
    """The barrier on the line from ``start`` to ``end``, from adaptively placed points.

    Runs :func:`refine` with :func:`landscapes.evaluate` as the curve, inside one
    :func:`landscapes.engine.session` so that later rounds skip the probes and the
    anchors' first-layer outputs.

    Parameters
    ----------
    model : torch.nn.Module
    start, end : state dict or module
        θ(α) = (1 − α)·start + α·end.
    data : (inputs, targets) or one split of data
        What :func:`landscapes.evaluate` takes, one split (not a dict).
    kind, lo, hi, tol, scale, alpha_tol, coarse, per_round, max_evaluations
        As for :func:`refine`.
    subset : int, optional
        Evaluate on this many examples drawn at random (without replacement, with
        ``seed``) from ``data``, an ``(inputs, targets)`` pair, and report a bootstrap
        interval of the barrier (:func:`bootstrap_barrier`, ``level``, ``resamples``).
    **options
        Passed to :func:`landscapes.evaluate` (``device``, ``precision``, ``bn``...).

    Returns
    -------
    xarray.Dataset
        A slice dataset on the evaluated α, sorted, with coordinate ``refine_round``
        (the call each point came from) and attribute ``refine``: a JSON object with
        the settings and outcome (``height``, ``location``, ``tolerance``,
        ``converged``, ``rounds``..., and ``interval`` when a subset was used). The
        same is recorded under ``"refine"`` in ``hyperparameters``.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> a = {k: v.clone() for k, v in net.state_dict().items()}
    >>> b = {k: -v for k, v in a.items()}
    >>> data = (torch.randn(64, 4), torch.randint(0, 3, (64,)))
    >>> ds = refine_line(net, a, b, data, kind="linear", device="cpu")
    >>> info = json.loads(ds.attrs["refine"])
    >>> ds.sizes["alpha"] <= 30, info["converged"]
    (True, True)
    """
    if isinstance(data, Mapping):
        raise ValueError(
            f"refine_line needs one split of data, got a dict of {sorted(map(str, data))!r}; "
            "refine on one split and evaluate the others at the returned α"
        )
    for reserved in ("per_example", "progress"):
        if reserved in options:
            raise ValueError(f"refine_line sets {reserved!r} itself; leave it out of the options")
    # Every argument is checked before the first evaluation is spent.
    _check_search(kind, lo, hi, tol, scale, alpha_tol, coarse, per_round, max_evaluations)
    if subset is not None:
        _check_bootstrap(kind if kind in _BOOTSTRAP_KINDS else "rise", level, resamples)
        _check_positive(subset, "subset", integer=True)
        if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
            raise ValueError("subset needs data as an (inputs, targets) pair of tensors")
        n = data[0].shape[0]
        if subset > n:
            raise ValueError(f"subset={subset!r} exceeds the {n} examples of the data")
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(n, generator=gen)[:subset].sort().values
        data = (data[0][idx], data[1][idx])
    line = paths.linear(start, end, [lo, hi])
    found: list[xr.Dataset] = []

    def curve(alpha: np.ndarray) -> np.ndarray:
        ds = evaluate(model, line.resampled(alpha), data, per_example=subset is not None,
                      progress=False, **options)
        found.append(ds.assign_coords(refine_round=("alpha", np.full(alpha.size, len(found)))))
        return ds["loss"].values

    with session():
        result = refine(curve, kind=kind, lo=lo, hi=hi, tol=tol, scale=scale, alpha_tol=alpha_tol,
                        coarse=coarse, per_round=per_round, max_evaluations=max_evaluations)
    ds = xr.concat(found, dim="alpha", data_vars="all", coords="different", compat="equals",
                   combine_attrs="override").sortby("alpha")
    info = result.summary()
    if subset is not None:
        info["subset"] = subset
        info["seed"] = seed
        if kind in ("rise", "linear"):
            iv = bootstrap_barrier(ds, kind, level=level, resamples=resamples, seed=seed)
            info.update(interval=[iv.low, iv.high], level=iv.level, resamples=iv.resamples)
    hyper = json.loads(ds.attrs["hyperparameters"])
    hyper["refine"] = {k: v for k, v in info.items() if k != "rounds"}
    ds.attrs["hyperparameters"] = json.dumps(results._jsonable(hyper), sort_keys=True)
    ds.attrs["refine"] = json.dumps(results._jsonable(info), sort_keys=True)
    return results.validate(ds)
