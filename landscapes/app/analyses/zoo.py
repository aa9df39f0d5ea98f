"""The optimizer zoo of Im, Tao & Branson (2016): one system, many optimizers, one init.

§4.1: "We trained the neural networks described above using each optimization method
starting from the same initial weights and with the same minibatching." A network
system's replicate r has its own initialisation and minibatch order, drawn from the
config's ``init_seed`` and ``data_seed`` and r (:func:`experiments.store.seed`). A
*variant* of the system's config that changes only the optimizer
(:meth:`~landscapes.app.systems.NetworkReplicates.variant`) therefore starts replicate r
from the same θ₀ and reads the same minibatches in the same order: replicates are the
paper's "different initializations", variants its optimizers.

:data:`RECIPES` holds each optimizer's learning rate, chosen once from the paper's
grids (§3.4: {0.2, 0.1, 0.05, 0.01} for SGD, {0.002, 0.001, 0.0005, 0.0001} for the
adaptive methods, doubled for the Runge–Kutta versions "because they required two
stochastic gradient computations"); they are not tuned per system. Every other
hyperparameter (batch size, schedule, weight decay) is the system's own.

The rest of the module is what the zoo's analyses share: :class:`Frame`, which places
many small engine results in one NaN-filled grid (a pair of diverged runs is a hole in
the table, never a shifted one), the path builders :func:`fan` and :func:`points`, and
the checks for runs that diverged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from landscapes.app.analyses.base import knob
from landscapes.names import unknown_name

if TYPE_CHECKING:  # pragma: no cover
    from landscapes.paths import Path

__all__ = [
    "RECIPES",
    "SWITCHES",
    "SwitchSettings",
    "ZooSettings",
    "ZOO",
    "Frame",
    "Recipe",
    "changes",
    "check_optimizers",
    "check_switches",
    "fan",
    "finite",
    "label",
    "pairs",
    "parse_switch",
    "points",
    "recipe",
    "switch_changes",
]


@dataclass(frozen=True)
class Recipe:
    """One optimizer of the zoo.

    Attributes
    ----------
    label : str
        How the paper writes it (figure legends).
    optimizer : str
        The :data:`experiments.optimizers.OPTIMIZERS` name.
    lr : float
        Learning rate (Adadelta: Zeiler's η = 1, "not required").
    momentum : float, optional
        Heavy-ball coefficient of SGDM.
    """

    label: str
    optimizer: str
    lr: float
    momentum: float | None = None


#: The zoo by name. SGDM runs at lr 0.01 with μ = 0.9: the same effective step
#: lr/(1 − μ) = 0.1 as SGD. Adagrad, absent from the paper's grids (it is only in its
#: LSTM figure), keeps Torch7's default 0.01; its accumulated denominator makes the
#: adaptive grid's 0.001 stall. RK2 is Ralston's method (the paper's Fig. 8 legends),
#: midpoint and Heun are App. A.3's other two-stage methods.
RECIPES: dict[str, Recipe] = {
    "sgd": Recipe("SGD", "sgd", 0.1),
    "momentum": Recipe("SGDM", "momentum", 0.01, 0.9),
    "rmsprop": Recipe("RMSprop", "rmsprop", 0.001),
    "adadelta": Recipe("Adadelta", "adadelta", 1.0),
    "adam": Recipe("Adam", "adam", 0.001),
    "adagrad": Recipe("Adagrad", "adagrad", 0.01),
    "rk2": Recipe("RK2", "rk_sgd_ralston", 0.2),
    "rk2_midpoint": Recipe("RK2 midpoint", "rk_sgd_midpoint", 0.2),
    "rk2_heun": Recipe("RK2 Heun", "rk_sgd_heun", 0.2),
    "adam_rk2": Recipe("Adam&RK2", "rk_adam_ralston", 0.002),
}
#: The whole zoo, in the order tables list it (the paper's Table 1 order first).
ZOO: tuple[str, ...] = ("sgd", "rmsprop", "adadelta", "adam", "rk2", "adam_rk2", "momentum",
                        "adagrad", "rk2_midpoint", "rk2_heun")
#: Switches of §4.3 and App. A.6 (Figs. 7, 12–15), "first>second".
SWITCHES: tuple[str, ...] = ("sgd>adam", "adam>sgd", "adadelta>sgd", "sgd>adadelta",
                             "adadelta>adam", "adam>adadelta")


def recipe(name: str) -> Recipe:
    """The recipe of ``name``, with the closest match in the error.

    Examples
    --------
    >>> recipe("adam").lr
    0.001
    >>> recipe("adma")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown optimizer of the zoo 'adma' (did you mean 'adam'?); choose from [...]
    """
    if name not in RECIPES:
        raise unknown_name("optimizer of the zoo", name, RECIPES)
    return RECIPES[name]


def label(name: str) -> str:
    """The paper's name for a zoo optimizer (the name itself if it is not one)."""
    return RECIPES[name].label if name in RECIPES else name


def changes(name: str) -> dict[str, Any]:
    """The config changes that make a system's run train with ``name`` alone.

    Examples
    --------
    >>> changes("momentum")["momentum"], changes("adam")["momentum"]
    (0.9, None)
    """
    r = recipe(name)
    return {"optimizer": r.optimizer, "lr": r.lr, "momentum": r.momentum, "switch_at": None,
            "switch_optimizer": None, "switch_lr": None}


def switch_changes(first: str, second: str, at: int) -> dict[str, Any]:
    """Train with ``first`` up to iteration ``at``, then with ``second`` (a fresh state).

    Each phase uses its optimizer's own recipe; the second optimizer starts from zero
    moments, as a switch in the paper's Torch code does.
    """
    out = changes(first)
    out.update(switch_at=int(at), switch_optimizer=recipe(second).optimizer,
               switch_lr=recipe(second).lr)
    return out


def parse_switch(text: str) -> tuple[str, str]:
    """``"sgd>adam"`` → ``("sgd", "adam")``, both checked.

    Examples
    --------
    >>> parse_switch("adam>sgd")
    ('adam', 'sgd')
    >>> parse_switch("adam-sgd")
    Traceback (most recent call last):
    ...
    ValueError: switch 'adam-sgd' must read first>second, e.g. 'sgd>adam'
    """
    parts = str(text).split(">")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"switch {text!r} must read first>second, e.g. 'sgd>adam'")
    first, second = (p.strip() for p in parts)
    recipe(first), recipe(second)
    if first == second:
        raise ValueError(f"switch {text!r} switches {first!r} to itself; name two optimizers")
    return first, second


def check_optimizers(names: Sequence[str]) -> None:
    """At least two distinct zoo optimizers (a pair needs two)."""
    for name in names:
        recipe(name)
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"optimizers must name at least two distinct optimizers of the zoo, "
                         f"got {list(names)!r}")


def check_switches(texts: Sequence[str]) -> None:
    for text in texts:
        parse_switch(text)


@dataclass(frozen=True)
class ZooSettings:
    """Which optimizers of the zoo an analysis trains (Im et al. 2016 §4.1)."""

    optimizers: tuple[str, ...] = knob(ZOO, "comma-separated optimizers of the zoo, trained "
                                            "from one init and one minibatch order (Im et "
                                            "al. 2016 §4.1)", "LIST")

    def __post_init__(self) -> None:
        check_optimizers(self.optimizers)


@dataclass(frozen=True)
class SwitchSettings:
    """Which optimizer switches an analysis trains (Im et al. 2016 §4.3)."""

    switches: tuple[str, ...] = knob(SWITCHES, "comma-separated optimizer switches "
                                               "first>second, each after 1/4, 1/2 and 3/4 of "
                                               "training (Im et al. 2016 §4.3)", "LIST")

    def __post_init__(self) -> None:
        check_switches(self.switches)


def pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair (a, b), a before b in ``names``.

    Examples
    --------
    >>> pairs(["sgd", "adam", "rk2"])
    [('sgd', 'adam'), ('sgd', 'rk2'), ('adam', 'rk2')]
    """
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]


# ----------------------------------------------------------------------- runs and paths


def finite(state: Mapping[str, Any]) -> bool:
    """Whether every floating-point entry of ``state`` is finite.

    A run whose loss became NaN or inf leaves such weights behind. It must never be an
    anchor of a path shared with other points: a zero coefficient times NaN is NaN, so
    one diverged anchor would blank every point of the path.
    """
    import torch

    return all(bool(torch.isfinite(v).all()) for v in state.values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())


def fan(start: Mapping[str, Any], ends: Mapping[str, Mapping[str, Any]], alphas: Any,
        dim: str) -> Path:
    """Lines θ(α) = (1 − α)·θ_start + α·θ_end from one start to each of ``ends``.

    One path (one engine pass over the data) for all of them, with dimensions
    ``(dim, "alpha")``; ``dim`` is labelled by the keys of ``ends``. Distances are
    measured from the start.

    Examples
    --------
    >>> import torch
    >>> ends = {"x": {"w": torch.full((1,), 2.0)}, "y": {"w": torch.full((1,), -1.0)}}
    >>> p = fan({"w": torch.zeros(1)}, ends, [0.0, 0.5, 1.0], "end")
    >>> p.shape, float(p.point((0, 1))["w"]), float(p.point((1, 2))["w"])
    ((2, 3), 1.0, -1.0)
    """
    from landscapes.paths import Path

    alpha = np.asarray(alphas, dtype=float)
    labels = list(ends)
    k, n = len(labels), len(alpha)
    coef = np.zeros((k * n, k + 1))
    for i in range(k):
        coef[i * n:(i + 1) * n, 0] = 1.0 - alpha
        coef[i * n:(i + 1) * n, i + 1] = alpha
    anchors = (dict(start), *(dict(ends[e]) for e in labels))
    names = ("start", *(f"to {e}" for e in labels))
    origin = np.zeros(k + 1)
    origin[0] = 1.0
    return Path(anchors, names, coef, (dim, "alpha"), {dim: _labels(labels), "alpha": alpha},
                origin, "fan")


def _labels(values: Sequence[Any]) -> np.ndarray:
    """Coordinate values: strings as objects (netCDF round trips), numbers as they are."""
    if isinstance(values[0], str):
        return np.array(values, dtype=object)
    return np.asarray(values)


def points(states: Mapping[Any, Mapping[str, Any]], dim: str) -> Path:
    """Each state as a point of its own, dimensions ``(dim, "alpha")`` with α = 0 only.

    Checkpoints of a run (learning curves) evaluated in one pass; every point is its
    own origin, so its distance is 0.
    """
    from landscapes.paths import Path

    keys = list(states)
    k = len(keys)
    return Path(tuple(dict(states[s]) for s in keys), tuple(f"{dim} {s}" for s in keys),
                np.eye(k), (dim, "alpha"), {dim: _labels(keys), "alpha": np.zeros(1)},
                np.eye(k), "points")


def distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """‖θ_a − θ_b‖ over every floating-point entry, in float64 (NaN if either diverged)."""
    from landscapes.anchors import squared_distances

    if not (finite(a) and finite(b)):
        return float("nan")
    return float(np.sqrt(max(squared_distances([dict(a), dict(b)])[0, 1], 0.0)))


class Frame:
    """Many small engine results in one NaN-filled grid of named dimensions.

    An analysis declares every cell it reports (every optimizer pair, every switch
    fraction), evaluates the cells it can, and :meth:`put` places each engine result
    where its labels say. Cells never evaluated -- a pair with a diverged run, the
    lower triangle of a pair table -- stay NaN.

    Parameters
    ----------
    dims : dict of str to sequence
        The dimensions besides ``split``, ``alpha`` and ``beta``, with their labels.
    alpha, beta : array_like
        The path grid every result shares (``beta`` for 2-D slices).
    splits : sequence of str
        The evaluation splits.
    variables : sequence of str
        The variables every result has; any of them nothing was put in is all NaN.
    """

    def __init__(self, dims: Mapping[str, Sequence[Any]], alpha: Any, beta: Any = None, *,
                 splits: Sequence[str],
                 variables: Sequence[str] = ("loss", "error")) -> None:
        self.dims = {k: list(v) for k, v in dims.items()}
        self.alpha = np.asarray(alpha, dtype=float)
        self.beta = None if beta is None else np.asarray(beta, dtype=float)
        self.splits = [str(s) for s in splits]
        self._seen = False
        self.values: dict[str, xr.DataArray] = {v: self._empty(True) for v in variables}
        self.distance: xr.DataArray | None = None
        self.evaluation: dict[str, Any] = {}
        self.device = "cpu"

    def _grid(self, with_split: bool) -> tuple[list[str], dict[str, Any]]:
        names = (["split"] if with_split else []) + list(self.dims) + ["alpha"]
        coords: dict[str, Any] = {k: _labels(v) for k, v in self.dims.items()}
        if with_split:
            coords["split"] = np.array(self.splits, dtype=object)
        coords["alpha"] = self.alpha
        if self.beta is not None:
            names.append("beta")
            coords["beta"] = self.beta
        return names, coords

    def _empty(self, with_split: bool) -> xr.DataArray:
        names, coords = self._grid(with_split)
        shape = [len(coords[d]) for d in names]
        return xr.DataArray(np.full(shape, np.nan), dims=names, coords=coords)

    def put(self, ds: xr.Dataset, **where: Any) -> None:
        """Place an engine result: its dimensions by their labels, the rest by ``where``."""
        if not self._seen:
            self._seen = True
            self.evaluation = json.loads(ds.attrs.get("hyperparameters", "{}"))
            self.device = str(ds.attrs.get("device", "cpu"))
        for name in ds.data_vars:
            target = self.values.setdefault(str(name), self._empty(True))
            self._place(target, ds[name], where)
        if "distance" in ds.coords:
            if self.distance is None:
                self.distance = self._empty(False)
            self._place(self.distance, ds.coords["distance"], where)

    @staticmethod
    def _place(target: xr.DataArray, values: xr.DataArray, where: Mapping[str, Any]) -> None:
        values = values.reset_coords(drop=True) if values.name != "distance" else values
        values = xr.DataArray(np.asarray(values), dims=values.dims,
                              coords={d: values[d].values for d in values.dims if d in values.coords})
        values = values.expand_dims({k: [v] for k, v in where.items() if k not in values.dims})
        missing = [d for d in target.dims if d not in values.dims]
        if missing:  # e.g. distance has no split: the same along every split
            values = values.expand_dims({d: target[d].values for d in missing})
        index = {d: list(values[d].values) for d in values.dims if d not in ("alpha", "beta")}
        target.loc[index] = values.transpose(*target.dims).values

    def dataset(self, analysis: str, system: str, info: Mapping[str, Any] | None = None) -> xr.Dataset:
        """Everything placed, in the results schema (NaN where unset: a frame nothing was
        put in, every run having diverged, is all NaN rather than an error)."""
        from landscapes import results

        loss = self.values.get("loss", self._empty(True))
        error = self.values.get("error", self._empty(True))
        extra = {k: v.values for k, v in self.values.items() if k not in ("loss", "error")}
        distance = self.distance if self.distance is not None else self._empty(False)
        names, coords = self._grid(True)
        return results.slice_dataset(
            loss.values, error=error.values, alpha=self.alpha, beta=self.beta, dims=names,
            coords={k: v for k, v in coords.items() if k not in ("alpha", "beta")},
            distance=(distance.dims, distance.values), extra=extra, analysis=analysis,
            system=system, hyperparameters={"evaluation": self.evaluation, **(info or {})},
            device=self.device)


#: States evaluated together by :func:`evaluate_points` (keeps memory flat).
GROUP = 16


def evaluate_points(reps: Any, r: int, states: Mapping[Any, Mapping[str, Any]] | Sequence[Any],
                    dim: str, analysis: str,
                    load: Callable[[Any], Mapping[str, Any]] | None = None) -> xr.Dataset:
    """Loss and error at each state, dimensions ``(split, dim)``; NaN for a diverged one.

    ``reps`` supplies the network and data (:meth:`Replicates.evaluate`). ``states`` maps
    labels to states, or lists labels that ``load(label)`` reads (checkpoints of a run),
    so that at most :data:`GROUP` states are in memory at once. A state counts only if
    finite (see :func:`finite`).
    """
    if load is None:
        keys, load = list(states), states.__getitem__  # type: ignore[union-attr]
    else:
        keys = list(states)
    parts = []
    for i in range(0, len(keys), GROUP):
        group = {}
        for k in keys[i:i + GROUP]:
            state = load(k)
            if finite(state):
                group[k] = state
        if group:
            ds = reps.evaluate(points(group, dim), analysis, r)
            parts.append(ds[["loss", "error"]].isel(alpha=0, drop=True).drop_vars("distance"))
    if parts:
        out = xr.concat(parts, dim, combine_attrs="override") if len(parts) > 1 else parts[0]
        return out.reindex({dim: _labels(keys)})
    splits = list(reps.budget.splits)
    nan = np.full((len(splits), len(keys)), np.nan)
    return xr.Dataset({"loss": (("split", dim), nan), "error": (("split", dim), nan.copy())},
                      coords={"split": np.array(splits, dtype=object), dim: _labels(keys)})
