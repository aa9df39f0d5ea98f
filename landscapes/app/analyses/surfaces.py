"""2-D slices through inits and solutions (Im et al. 2016, App. A.1, Figs. 2–3, Table 1).

Every surface is a path over (α, β) ∈ [0, 1]² (:mod:`landscapes.paths`), one per name of
the ``surface`` coordinate, which says what it passes through:

- ``inits:<o>`` (Fig. 2): the bilinear surface through two initialisations and the
  solutions optimizer o reached from them, θ₀₀ = init r, θ₁₀ = its solution, θ₀₁ =
  init r + 1, θ₁₁ = its solution (α runs from init to solution, β from one run to the
  other);
- ``solutions:<a>,<b>,<c>,<d>`` (Fig. 3): the bilinear surface through four solutions
  from one init, at the corners (0, 0), (1, 0), (0, 1), (1, 1);
- ``solutions:<a>,<b>,<c>``: the barycentric triangle through three solutions;
- ``init:<a>,<b>`` (Table 1, lower triangle): the barycentric triangle through the
  init and the solutions of a and b, θ(α, β) = (1 − α)·θ₀ + αβ·θ_a + α(1 − β)·θ_b.

The table reads each slice as the paper does ("even in these projections ... the local
minima returned by different algorithms are separated by high loss"): the **pass**
between two solutions within the slice, the lowest loss level at which a path inside
the slice joins them (:func:`pass_height`), above the higher of the two. A pass as high
as the straight edge's barrier means the second dimension offers no lower way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes import grids, metrics
from landscapes.app.analyses import zoo
from landscapes.app.analyses.base import (
    Analysis,
    Context,
    Needs,
    Plan,
    Replicates,
    at_least,
    knob,
    mean_std,
)
from landscapes.app.analyses.basin import training_loss

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from landscapes.app.analyses.base import SettingsView

#: Optimizers the four- and three-solution slices prefer, in order (the zoo fills the rest).
PREFERRED = ("sgd", "adam", "rmsprop", "adadelta")


def chosen(names: list[str], k: int) -> list[str]:
    """``k`` optimizers of ``names``: :data:`PREFERRED` first, then the zoo's order.

    Examples
    --------
    >>> chosen(["sgd", "rk2", "adam", "adagrad"], 3)
    ['sgd', 'adam', 'rk2']
    """
    return ([n for n in PREFERRED if n in names] + [n for n in names if n not in PREFERRED])[:k]


def surface_names(names: list[str]) -> list[str]:
    """Every surface of a zoo, in the order of the ``surface`` coordinate."""
    first = "sgd" if "sgd" in names else names[0]
    out = [f"inits:{first}"]
    if len(names) >= 4:
        out.append("solutions:" + ",".join(chosen(names, 4)))
    out.append("solutions:" + ",".join(chosen(names, 3)) if len(names) >= 3 else None)
    out += [f"init:{a},{b}" for a, b in zoo.pairs(names)]
    return [s for s in out if s]


def parse(surface: str) -> tuple[str, list[str]]:
    """``"init:sgd,adam"`` → ``("init", ["sgd", "adam"])``."""
    kind, _, rest = surface.partition(":")
    return kind, rest.split(",")


def is_barycentric(surface: str) -> bool:
    """Triangles: the init with two solutions, or three solutions."""
    kind, names = parse(surface)
    return kind == "init" or (kind == "solutions" and len(names) == 3)


def vertices(surface: str) -> dict[str, tuple[float, float]]:
    """Where each point the surface passes through sits on its (α, β) grid.

    Examples
    --------
    >>> vertices("init:sgd,adam")
    {'init': (0.0, 0.0), 'sgd': (1.0, 1.0), 'adam': (1.0, 0.0)}
    >>> vertices("inits:sgd")["sgd r+1"]
    (1.0, 1.0)
    """
    kind, names = parse(surface)
    if kind == "inits":
        o = names[0]
        return {"init r": (0.0, 0.0), o: (1.0, 0.0), "init r+1": (0.0, 1.0), f"{o} r+1": (1.0, 1.0)}
    if kind == "init":
        return {"init": (0.0, 0.0), names[0]: (1.0, 1.0), names[1]: (1.0, 0.0)}
    if len(names) == 3:
        return {names[0]: (0.0, 0.0), names[1]: (1.0, 1.0), names[2]: (1.0, 0.0)}
    return dict(zip(names, [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]))


@dataclass(frozen=True)
class SurfaceSettings(zoo.ZooSettings):
    """The zoo's solutions the slices pass through, and the slices' resolution."""

    surface_points: int = knob(21, "points per side of every 2-D slice (bilinear and "
                                   "barycentric surfaces, Im et al. 2016 App. A.1)", "N")

    def __post_init__(self) -> None:
        zoo.ZooSettings.__post_init__(self)
        at_least("surface_points", self.surface_points, 3)


class Surfaces(Analysis):
    name = "surfaces"
    title = "2-D slices through inits and solutions"
    description = ("bilinear surfaces through four points and barycentric triangles through "
                   "three: inits and SGD solutions, four and three solutions, the init and "
                   "every pair of solutions (Im et al. 2016 App. A.1, Figs. 2-3, Table 1)")
    Settings = SurfaceSettings
    reads = ("splits",)
    needs = Needs(zoo=True)
    min_replicates = 2

    def grid(self, budget: SettingsView) -> np.ndarray:
        return grids.uniform(budget.surface_points, 0.0, 1.0)

    def variants(self, config: Any, total: int, budget: SettingsView) -> list[dict[str, Any]]:
        return [zoo.changes(n) for n in budget.optimizers]

    def count_points(self, budget: SettingsView, plan: Plan) -> int:
        return len(surface_names(list(budget.optimizers))) * budget.surface_points ** 2

    def measure(self, reps: Replicates, budget: SettingsView) -> xr.Dataset:
        from landscapes import paths

        names = list(budget.optimizers)
        runs = {n: reps.variant(**zoo.changes(n)) for n in names}  # type: ignore[attr-defined]
        grid = self.grid(budget)
        surfaces = surface_names(names)
        info = {"optimizers": {n: vars(zoo.recipe(n)) for n in names},
                "surfaces": {s: "barycentric" if is_barycentric(s) else "bilinear"
                             for s in surfaces}}
        parts = []
        for r in range(reps.count):
            other = (r + 1) % reps.count
            frame = zoo.Frame({"surface": surfaces}, grid, grid, splits=budget.splits)
            for surface in surfaces:
                kind, members = parse(surface)
                if kind == "inits":
                    run = runs[members[0]]
                    if run.diverged(r) or run.diverged(other):
                        continue
                    points = [reps.init(r), run.final(r), reps.init(other), run.final(other)]
                else:
                    if any(runs[m].diverged(r) for m in members):
                        continue
                    points = ([reps.init(r)] if kind == "init" else []) + [
                        runs[m].final(r) for m in members]
                build = paths.barycentric if is_barycentric(surface) else paths.bilinear
                path = build(*points, grid, grid, names=tuple(vertices(surface)))
                frame.put(runs[members[0]].evaluate(path, self.name, r), surface=surface)
            ds = frame.dataset(self.name, reps.system, info)
            ds = ds.assign(barycentric=("surface", [float(is_barycentric(s)) for s in surfaces]))
            parts.append(ds)
        return reps.label(parts)

    # ------------------------------------------------------------------ reporting
    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        loss = training_loss(ds)
        table1 = [s for s in ds.surface.values if parse(str(s))[0] == "init"]
        passes, edges = [], []
        for s in table1:
            _, (a, b) = parse(str(s))
            for r in loss.replicate.values:
                c = loss.sel(surface=s, replicate=r).transpose("alpha", "beta").values
                passes.append(pass_between(c, loss.alpha.values, loss.beta.values,
                                           vertices(str(s)), a, b))
                edges.append(float(metrics.linear_barrier(
                    loss.sel(surface=s, replicate=r, alpha=1.0), dim="beta").height))
        passes, edges = np.array(passes, dtype=float), np.array(edges, dtype=float)
        solutions = [s for s in ds.surface.values if parse(str(s))[0] == "solutions"]
        lowest = []
        for s in solutions:
            where = vertices(str(s))
            for r in loss.replicate.values:
                c = loss.sel(surface=s, replicate=r).transpose("alpha", "beta").values
                lowest.append(min(pass_between(c, loss.alpha.values, loss.beta.values, where,
                                               a, b) for a, b in zoo.pairs(list(where))))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = passes / edges
        return {"2-D pass between two solutions, init triangles (train)": mean_std(passes),
                "  over the straight edge's barrier": mean_std(ratio[np.isfinite(ratio)], ".2f"),
                "lowest pass between solutions, 3-4 solution slices (train)":
                    mean_std(np.array(lowest, dtype=float))}

    def panel(self, ax: Axes, ds: xr.Dataset, context: Context) -> None:
        """The first init triangle (Table 1's first lower cell), replicate 0, on its triangle."""
        from landscapes.plots import plot_surface

        one = ds.isel(system=0) if "system" in ds.dims else ds
        s = next(str(s) for s in one.surface.values if parse(str(s))[0] == "init")
        c = training_loss(one).sel(surface=s).isel(replicate=0)
        plot_surface(c, ax=ax, log=True, shape="triangle",
                     labels=[zoo.label(v) for v in vertices(s)])
        ax.set_title(s)


def pass_between(values: np.ndarray, alpha: np.ndarray, beta: np.ndarray,
                 where: dict[str, tuple[float, float]], a: str, b: str) -> float:
    """:func:`pass_height` between the grid points nearest vertices ``a`` and ``b``."""
    def index(name: str) -> tuple[int, int]:
        x, y = where[name]
        return int(np.argmin(np.abs(alpha - x))), int(np.argmin(np.abs(beta - y)))

    return pass_height(values, index(a), index(b))


def pass_height(values: np.ndarray, start: tuple[int, int], end: tuple[int, int]) -> float:
    """The mountain pass between two cells of a grid, above the higher of the two.

    The lowest level h such that ``start`` and ``end`` are joined by a chain of
    neighbouring cells (up, down, left, right) all at or below h, minus
    max(values[start], values[end]): 0 when a path never climbs above the higher end.
    Cells are added in order of their value to a union-find until the two ends meet.
    NaN cells are never crossed; NaN when the ends cannot be joined.

    Examples
    --------
    >>> ridge = np.array([[0.0, 5.0, 0.0],
    ...                   [0.0, 2.0, 0.0],
    ...                   [0.0, 9.0, 0.0]])
    >>> pass_height(ridge, (0, 0), (0, 2))   # round the ridge through its lowest cell
    2.0
    >>> pass_height(np.zeros((2, 2)), (0, 0), (1, 1))
    0.0
    """
    v = np.asarray(values, dtype=float)
    rows, cols = v.shape
    parent = np.arange(v.size)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    s, e = np.ravel_multi_index(start, v.shape), np.ravel_multi_index(end, v.shape)
    if not (np.isfinite(v.flat[s]) and np.isfinite(v.flat[e])):
        return float("nan")
    floor = max(v.flat[s], v.flat[e])
    added = np.zeros(v.size, dtype=bool)
    for i in np.argsort(v, axis=None, kind="stable"):
        if not np.isfinite(v.flat[i]):
            break
        added[i] = True
        y, x = divmod(int(i), cols)
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < rows and 0 <= nx < cols and added[ny * cols + nx]:
                parent[root(ny * cols + nx)] = root(int(i))
        if added[s] and added[e] and root(s) == root(e):
            return float(max(v.flat[i], floor) - floor)
    return float("nan")


ANALYSIS = Surfaces()
