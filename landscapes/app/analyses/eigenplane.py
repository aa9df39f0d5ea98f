"""The loss on the plane of the top two Hessian eigenvectors at a solution (an extension).

Landscaper and loss-landscape-3d draw the loss not along random directions (Li et al.
2018) but along the axes of sharpest curvature at a solution θ*: the unit eigenvectors
d₁, d₂ of the Hessian H = ∇²J(θ*) of the training objective J for its two largest
eigenvalues λ₁ ≥ λ₂,

    θ(a, b) = θ* + a·d₁ + b·d₂,   a, b ∈ [−e, e].

Near θ*, J(θ(a, b)) ≈ J(θ*) + ½(λ₁a² + λ₂b²) (the gradient vanishes at a solution), so
the plane shows how far the quadratic picture holds: the loss rise at the plane's edge
along d₁ against ½λ₁e², and along d₂. With ``eigenplane_normalization="filter"`` each
filter of dᵢ is rescaled to the norm of θ*'s filter, as Li et al. scale random
directions (dᵢ is then no longer an eigenvector; ``direction_norm`` records ‖dᵢ‖).

An eigenvector's sign is arbitrary: both the engine and the closed form make its
largest-magnitude component positive (:func:`landscapes.curvature.directions`'
convention), and the grid is symmetric, so a flip would only mirror the plane. Networks
find the pair by Lanczos on the first ``curvature_examples`` examples of the training
split (λ₁, λ₂ and the residuals ‖Hdᵢ − λᵢdᵢ‖ are recorded) through a point measure of
the engine; the deep linear systems have the exact Hessian (:mod:`theory.hessian`), its
eigenvectors and the exact loss on the plane. A degenerate pair (λ₁ = λ₂, or λ₂ = λ₃)
leaves the axes, or the plane itself, undefined: the closed form declines it rather
than pick one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids
from landscapes.app.analyses.base import (Analysis, Context, Declined, Plan, Replicates,
                                          at_least, cells, knob, mean_std, per_split)
from landscapes.app.analyses.curvature import CurvatureSettings
from landscapes.app.analyses.line import training_split

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView
    from landscapes.curvature.objective import Objective
    from landscapes.engine.point_measures import PointContext, Variable

#: Scalings of the eigenvectors: unit vectors, or per filter / per tensor (Li et al. 2018).
NORMALIZATIONS = ("unit", "filter", "layer")
#: Lanczos steps at most (the tolerance is the curvature analysis' ``curvature_tol``).
MAX_ITER = 100
#: Hessian-vector products of the top-two Lanczos run, roughly, and forward passes each.
PRODUCTS, PASSES = 40, 3
#: Relative gap below which two eigenvalues count as one (the closed form declines).
GAP = 1e-6
#: The dimension order of every variable, so the twin's and the closed form's arrays align.
ORDER = ("system", "replicate", "split", "alpha", "beta", "eigen")


def _shared(name: str) -> Any:
    # The Hessian's examples and Lanczos tolerance are the curvature analysis' knobs: one
    # flag each for both (declarations of one name must be identical).
    f = next(f for f in fields(CurvatureSettings) if f.name == name)
    return field(default=f.default, metadata=f.metadata)


@dataclass(frozen=True)
class EigenplaneSettings:
    """The plane's resolution and extent, the eigenvectors' scaling, the Hessian's data."""

    eigenplane_points: int = knob(21, "points per side of the plane along the top two Hessian "
                                      "eigenvectors at a solution (odd: the solution is the "
                                      "centre)", "N")
    eigenplane_extent: float = knob(1.0, "half-width e of the eigenvector plane, a and b in "
                                         "[-e, e] (parameter distance for unit eigenvectors)",
                                    "E")
    eigenplane_normalization: str = field(default="unit", metadata={
        "help": "scaling of the plane's eigenvectors: unit, or each filter (or tensor) to "
                "the solution's norm as Li et al. 2018 scale random directions",
        "metavar": None, "choices": NORMALIZATIONS})
    curvature_tol: float = _shared("curvature_tol")
    curvature_examples: int | None = _shared("curvature_examples")

    def __post_init__(self) -> None:
        at_least("eigenplane_points", self.eigenplane_points, 3)
        if self.eigenplane_points % 2 == 0:
            raise ValueError(f"eigenplane_points must be odd (the solution at the centre), "
                             f"got {self.eigenplane_points!r}")
        if not (np.isfinite(self.eigenplane_extent) and self.eigenplane_extent > 0):
            raise ValueError(f"eigenplane_extent must be a positive number, got "
                             f"{self.eigenplane_extent!r}")
        if self.eigenplane_normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown eigenplane_normalization "
                             f"{self.eigenplane_normalization!r}; choose from "
                             f"{list(NORMALIZATIONS)}")
        if self.curvature_examples is not None:
            at_least("curvature_examples", self.curvature_examples, 1)
        if not 0 < self.curvature_tol < 1:
            raise ValueError(f"curvature_tol must be in (0, 1), got {self.curvature_tol!r}")


# ------------------------------------------------------------------- the point measure


def _keys(state: dict[str, Any]) -> list[str]:
    """The floating-point entries of a state, in the order the flat directions use."""
    return sorted(k for k, v in state.items() if v.is_floating_point())


@dataclass(frozen=True)
class TopPair:
    """The top two Hessian eigenpairs at a point, the eigenvectors as flat directions.

    A point measure (:mod:`landscapes.engine.point_measures`), so the engine computes it
    wherever the system evaluates (here, on a Dask worker, on the torch twin). The
    directions are unit eigenvectors (sign: largest component positive) scaled by
    ``normalization``, flattened over the state's floating-point entries in sorted
    order (zero on buffers): ``size`` entries.

    Parameters
    ----------
    size : int
        Floating-point entries of the state (the ``parameter`` dimension).
    normalization : {"unit", "filter", "layer"}
    split : str or None
        The split whose Hessian it is; other splits get NaN. ``None``: every split.
    tol, max_iter
        Lanczos stopping rule.
    seed : int
    """

    size: int
    normalization: str = "unit"
    split: str | None = None
    tol: float = 1e-3
    max_iter: int = MAX_ITER
    seed: int = 0
    name: str = "eigenplane"

    def variables(self) -> dict[str, Variable]:
        from landscapes.engine.point_measures import Variable

        lanczos = {"method": "Lanczos, full re-orthogonalisation", "tol": self.tol,
                   "max_iter": self.max_iter, "split": str(self.split)}
        return {
            "top_eigenvalue": Variable(("eigen",), {"long_name": "largest Hessian eigenvalues",
                                                    **lanczos}),
            "top_residual": Variable(("eigen",), {"long_name": "residual ‖Hv − λv‖ of the "
                                                               "top eigenpairs (unit v)"}),
            "lanczos_iterations": Variable((), {"long_name": "Lanczos steps"}),
            "lanczos_converged": Variable((), {"long_name": "1 where the tolerance was met"}),
            "direction_norm": Variable(("eigen",), {"long_name": "norm of the plane's "
                                                                 "direction d_i"}),
            "eigenvector": Variable(("eigen", "parameter"), {
                "long_name": "the plane's directions, flat over the sorted floating-point "
                             "entries", "normalization": self.normalization}),
        }

    def coords(self) -> dict[str, Any]:
        return {"eigen": np.arange(2), "parameter": np.arange(self.size)}

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        import torch

        from landscapes.curvature.eigenvectors import normalise
        from landscapes.curvature.hvp import Operator
        from landscapes.curvature.lanczos import eigenpairs
        from landscapes.curvature.objective import Objective
        from landscapes.curvature.spectrum import sub_seed
        from landscapes.curvature.vectors import unit_direction

        if self.split is not None and point.split not in (None, self.split):
            # Another split: the plane is the training objective's.
            nan = np.full(2, np.nan)
            return {"top_eigenvalue": nan, "top_residual": nan,
                    "lanczos_iterations": np.asarray(np.nan),
                    "lanczos_converged": np.asarray(np.nan), "direction_norm": nan,
                    "eigenvector": np.full((2, self.size), np.nan)}
        objective: Objective = Objective(point, "eval")
        op = Operator(objective)
        found = eigenpairs(op.matvec, op.size, k=2, which="largest", tol=self.tol,
                           max_iter=self.max_iter, seed=sub_seed(point.seed, "eigen"),
                           dtype=op.dtype, device=op.device, vectors=True)["largest"]
        rule = "keep" if self.normalization == "unit" else "zero"
        scale = None if self.normalization == "unit" else self.normalization
        keys = _keys(point.state)
        flat, norms = [], []
        for v in found.vectors:
            d = normalise(unit_direction(point, objective, v), point.state, scale, rule)
            norms.append(float(objective.flatten({n: d[n].to(op.device) for n in objective.names})
                               .double().norm()))
            flat.append(torch.cat([d[k].reshape(-1).double() for k in keys]))
        vectors = torch.stack(flat).numpy()
        if vectors.shape != (2, self.size):
            raise ValueError(f"the point has {vectors.shape[1]!r} floating-point entries, the "
                             f"measure was built for {self.size!r}")
        return {"top_eigenvalue": np.asarray(found.values, dtype=float),
                "top_residual": np.asarray(found.residuals, dtype=float),
                "lanczos_iterations": np.asarray(float(found.iterations)),
                "lanczos_converged": np.asarray(float(found.converged)),
                "direction_norm": np.asarray(norms), "eigenvector": vectors}


def _unflatten(flat: np.ndarray, like: dict[str, Any]) -> dict[str, Any]:
    """A flat direction of :class:`TopPair` shaped like the state ``like``."""
    import torch

    out, start = {}, 0
    for k in _keys(like):
        v = like[k]
        out[k] = torch.as_tensor(flat[start:start + v.numel()], dtype=v.dtype).reshape(v.shape)
        start += v.numel()
    return out


# ------------------------------------------------------------------------ the analysis


class Eigenplane(Analysis):
    name = "eigenplane"
    title = "the plane of the top two Hessian eigenvectors at a solution"
    description = ("loss and error on theta* + a d1 + b d2 along the top two Hessian "
                   "eigenvectors at each solution, lambda_1, lambda_2, the rise at the "
                   "plane's edge along each (extension; landscaper, loss-landscape-3d)")
    Settings = EigenplaneSettings
    reads = ("splits",)
    has_closed_form = True
    compared = ("loss", "top_eigenvalue", "direction_norm")
    extension = True

    def grid(self, budget: SettingsView) -> np.ndarray:
        e = budget.eigenplane_extent
        return grids.uniform(budget.eigenplane_points, -e, e)

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        # The Lanczos run at the solution, in forward passes, as plane points.
        return budget.eigenplane_points ** 2 + PRODUCTS * PASSES

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths
        from landscapes.app.analyses.zoo import points
        from landscapes.app.executor import for_each
        from landscapes.engine.point_measures import OnExamples

        grid = self.grid(budget)
        splits = list(budget.splits)
        train = "train" if "train" in splits else splits[0]

        def one(r: int) -> xr.Dataset:
            final = reps.final(r)
            pair = TopPair(size=sum(final[k].numel() for k in _keys(final)),
                           normalization=budget.eigenplane_normalization, split=train,
                           tol=budget.curvature_tol, seed=budget.seed)
            at = reps.evaluate(points({"final": final}, "at"), self.name, r,
                               measures=[OnExamples(pair, budget.curvature_examples)])
            at = at.isel(at=0, alpha=0, drop=True).drop_vars("distance", errors="ignore")
            if "split" in at.dims:
                at = at.sel(split=train, drop=True)
            d1, d2 = (_unflatten(at.eigenvector.sel(eigen=i).values, final) for i in (0, 1))
            plane = reps.evaluate(paths.plane(final, d1, d2, grid, grid), self.name, r)
            keep = ["top_eigenvalue", "top_residual", "lanczos_iterations",
                    "lanczos_converged", "direction_norm"]
            return _ordered(plane.assign({k: at[k] for k in keep}))

        out = reps.label(for_each(reps, one, range(reps.count)))
        out.attrs.update(eigenplane_normalization=budget.eigenplane_normalization,
                         hessian_split=train, curvature_examples="all"
                         if budget.curvature_examples is None else int(budget.curvature_examples))
        return out

    def closed_form(self, system: Any, budget: SettingsView) -> xr.Dataset:
        from landscapes import results
        from theory import deep_linear, hessian

        found = deep_linear.anchors(system=system.name, n_replicates=budget.replicates,
                                    seed=budget.seed)
        spec = deep_linear.system(system.name, seed=budget.seed)
        grid = self.grid(budget)
        a, b = np.meshgrid(grid, grid, indexing="ij")
        losses, distances, tops, residuals, norms = [], [], [], [], []
        for r, theta in enumerate(found["final"]):
            h = hessian.hessian(theta, system=system.name, seed=budget.seed)
            lam, vec = np.linalg.eigh(0.5 * (h + h.T))
            lam, vec = lam[::-1], vec[:, ::-1]
            _check_gaps(lam, system.name, r)
            units = [_signed(vec[:, i]) for i in (0, 1)]
            d = [_scaled(u, theta, spec, budget.eigenplane_normalization) for u in units]
            thetas = theta + a[..., None] * d[0] + b[..., None] * d[1]
            losses.append(np.array([spec.loss(t) for t in thetas.reshape(-1, theta.size)])
                          .reshape(a.shape))
            distances.append(np.linalg.norm(a[..., None] * d[0] + b[..., None] * d[1], axis=-1))
            tops.append(lam[:2])
            residuals.append([np.linalg.norm(h @ u - l * u) for u, l in zip(units, lam[:2])])
            norms.append([np.linalg.norm(v) for v in d])
        dims = ("replicate", "alpha", "beta")
        ds = results.slice_dataset(
            np.array(losses), alpha=grid, beta=grid, dims=dims,
            coords={"replicate": np.arange(len(losses))},
            distance=(dims, np.array(distances)),
            extra={"top_eigenvalue": (("replicate", "eigen"), np.array(tops)),
                   "top_residual": (("replicate", "eigen"), np.array(residuals)),
                   "direction_norm": (("replicate", "eigen"), np.array(norms))},
            analysis=self.name, system=system.name, seeds={"data": budget.seed},
            hyperparameters={"hessian": "exact (theory.hessian)",
                             "normalization": budget.eigenplane_normalization},
            device="numpy")
        ds = ds.assign_coords(eigen=np.arange(2))
        ds.attrs["eigenplane_normalization"] = budget.eigenplane_normalization
        return results.validate(_ordered(ds))

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        # A stack of systems repeats a closed form's pair along the networks' splits.
        top = training_split(ds).top_eigenvalue
        rows: dict[str, list[tuple[str | None, str]]] = {}
        lambdas = f"{mean_std(top.isel(eigen=0))}, {mean_std(top.isel(eigen=1))}"
        for split, d in per_split(ds):
            e1, e2 = edge_rise(d.loss)
            rows.setdefault("eigenplane lambda_1, lambda_2 at the solution", []).append(
                (split, lambdas))
            rows.setdefault("eigenplane loss rise at the edge along d1 / d2", []).append(
                (split, f"{mean_std(e1)} / {mean_std(e2)}"))
            if ds.attrs.get("eigenplane_normalization", "unit") == "unit":
                # ½λe²: what the quadratic model predicts at the edge (none where λ ≈ 0,
                # the deep linear model's flat valley of solutions).
                e = float(np.abs(d.alpha).max())
                quad = [(0.5 * top.isel(eigen=i) * e * e).where(
                    top.isel(eigen=i) > GAP * top.isel(eigen=0)) for i in (0, 1)]
                rows.setdefault("  over the quadratic ½λe² (d1 / d2)", []).append(
                    (split, f"{mean_std(e1 / quad[0], '.2f')} / "
                            f"{mean_std(e2 / quad[1], '.2f')}"))
        return {name: cells(parts) for name, parts in rows.items()}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """Contours of the training loss on the first system's plane, replicate 0."""
        from landscapes.plots import plot_surface

        one = training_split(ds.isel(system=0) if "system" in ds.dims else ds)
        plot_surface(one.loss.isel(replicate=0), ax=ax, log=True, shape="square")
        lam = one.top_eigenvalue.isel(replicate=0).values
        ax.set_xlabel(f"a along d1 (λ1 = {lam[0]:.3g})")
        ax.set_ylabel(f"b along d2 (λ2 = {lam[1]:.3g})")
        ax.plot([0], [0], "w+", ms=8, label="θ*")
        if "system" in ds.dims:
            ax.set_title(str(ds.system.values[0]))


def edge_rise(loss: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """The mean loss rise at the plane's edge over its centre, along d₁ (a = ±e, b = 0)
    and along d₂ (a = 0, b = ±e).

    Examples
    --------
    >>> g = np.linspace(-1, 1, 3)
    >>> bowl = xr.DataArray(3 * g[:, None] ** 2 + g[None, :] ** 2, dims=("alpha", "beta"),
    ...                     coords={"alpha": g, "beta": g})
    >>> [float(x) for x in edge_rise(bowl)]
    [3.0, 1.0]
    """
    centre = loss.sel(alpha=0.0, beta=0.0, method="nearest")
    along1 = loss.isel(alpha=[0, -1]).sel(beta=0.0, method="nearest").mean("alpha") - centre
    along2 = loss.isel(beta=[0, -1]).sel(alpha=0.0, method="nearest").mean("beta") - centre
    return along1.drop_vars(["alpha", "beta"], errors="ignore"), \
        along2.drop_vars(["alpha", "beta"], errors="ignore")


def _check_gaps(lam: np.ndarray, system: str, r: int) -> None:
    # λ₁ = λ₂: the plane is defined but not its axes; λ₂ = λ₃: not even the plane.
    scale = max(abs(float(lam[0])), 1e-300)
    for i, what in ((0, "lambda_1 = lambda_2: the axes in the plane"),
                    (1, "lambda_2 = lambda_3: the plane itself")):
        if i + 1 < lam.size and lam[i] - lam[i + 1] <= GAP * scale:
            raise Declined(f"{system} replicate {r}: degenerate top eigenvalues "
                           f"({lam[i]:.6g}, {lam[i + 1]:.6g}); {what} would be arbitrary")


def _signed(v: np.ndarray) -> np.ndarray:
    """The eigenvector with its largest-magnitude component positive (the engine's sign)."""
    return v if v[np.argmax(np.abs(v))] >= 0 else -v


def _scaled(unit: np.ndarray, theta: np.ndarray, spec: Any, normalization: str) -> np.ndarray:
    """``unit`` per filter (row of each W_l) or per tensor, as the engine scales it."""
    if normalization == "unit":
        return unit
    out = []
    for d, w in zip(spec.unflatten(unit), spec.unflatten(theta)):
        if normalization == "filter":
            # The same 1e-10 guard as landscapes.curvature's normalisation.
            d = d * (np.linalg.norm(w, axis=1) / (np.linalg.norm(d, axis=1) + 1e-10))[:, None]
        else:
            d = d * (np.linalg.norm(w) / (np.linalg.norm(d) + 1e-10))
        out.append(d.reshape(-1))
    return np.concatenate(out)


def _ordered(ds: xr.Dataset) -> xr.Dataset:
    return ds.transpose(*[d for d in ORDER if d in ds.dims], ...)


ANALYSIS = Eigenplane()
