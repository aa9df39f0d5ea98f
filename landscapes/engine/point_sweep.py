"""Point measures at every point of a path: :func:`measure`, the engine's seam.

For every point θ_p = Σ_k C[p, k]·θ_k of a :class:`landscapes.paths.Path` and every
split of the data, the engine builds a :class:`~landscapes.engine.point_measures.PointContext`
(the full state at the point, batch norm's statistics as ``bn`` chose them, the split
as re-iterable batches on the device, a seed of the point's own) and hands it to each
:class:`~landscapes.engine.point_measures.PointMeasure`. What they return becomes the
variables of one dataset in the :mod:`landscapes.results` schema, over the path's
dimensions (and ``split``) plus each variable's own.

The points are formed exactly as :func:`landscapes.evaluate` forms them (one
coefficient row at a time, the same bits), tied tensors once, and the seed of a point
depends only on the measure's ``seed`` and the point's index in the *whole* path
(:attr:`landscapes.paths.Path.start` for a block of it), so any process, and any
split of a path into blocks, gives the same numbers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from landscapes import results
from landscapes.anchors import Anchor
from landscapes.devices import resolve_device
from landscapes.engine.batches import Batches, as_batches
from landscapes.engine.batchnorm import BN_MODES, eval_mode, has_batchnorm, recompute_statistics
from landscapes.engine.checks import check_loss_fn, check_model_keys, describe_fn
from landscapes.engine.measures import loss_reader
from landscapes.engine.outputs import Output, check_output, label
from landscapes.engine.point_measures import PointContext, PointMeasure, Variable
from landscapes.engine.runners import Chunk, stack_anchors
from landscapes.engine.sweep import _input_dtype, _on, _on_device, _to
from landscapes.engine.tied import merge_tied, tied_groups
from landscapes.paths import Path
from landscapes.progress import Progress

__all__ = ["measure", "point_seed", "check_measures", "PointSettings", "sweep_points"]


def point_seed(seed: int, index: Sequence[int]) -> int:
    """The seed of the point at grid ``index`` for a measure seeded with ``seed``.

    A 63-bit integer from :class:`numpy.random.SeedSequence` of ``(seed, *index)``:
    neighbouring points get unrelated streams, and the value depends on nothing but
    the two arguments (not the process, the block, or the other points).

    Examples
    --------
    >>> point_seed(0, (3,)) == point_seed(0, (3,)) != point_seed(0, (4,))
    True
    """
    state = np.random.SeedSequence([int(seed), *map(int, index)]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def _seed_of(m: PointMeasure) -> int:
    return int(getattr(m, "seed", 0))


def check_measures(measures: Any, *, allow_empty: bool = False) -> list[PointMeasure]:
    """``measures`` as a list, each checked: a :class:`PointMeasure` with an identifier
    ``name``, declared variables and coordinates for every dimension of theirs, and a
    non-negative integer ``seed`` if it has one. Raises one clear line otherwise."""
    if isinstance(measures, PointMeasure) or not isinstance(measures, (list, tuple)):
        raise TypeError(
            f"measures must be a list of point measures (objects with name, variables(), "
            f"coords() and measure(point)), got {type(measures).__name__} {measures!r:.80}"
        )
    if not measures and not allow_empty:
        raise ValueError("measures is empty; give at least one point measure")
    out = list(measures)
    names: set[str] = set()
    for i, m in enumerate(out):
        if not isinstance(m, PointMeasure):
            raise TypeError(
                f"measures[{i}] is a {type(m).__name__}, not a point measure: it needs a name "
                "and the methods variables(), coords() and measure(point) "
                "(landscapes.engine.point_measures.PointMeasure)"
            )
        if not isinstance(m.name, str) or not m.name.isidentifier():
            raise ValueError(f"measures[{i}].name must be an identifier, got {m.name!r}")
        if m.name in names:
            raise ValueError(f"two measures are named {m.name!r}; give each its own name")
        names.add(m.name)
        seed = getattr(m, "seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"measure {m.name!r} has seed {seed!r}; it must be a non-negative integer")
        variables, coords = m.variables(), m.coords()
        if not isinstance(variables, Mapping) or not variables:
            raise ValueError(f"measure {m.name!r}: variables() gave {variables!r}; it must "
                             "give a non-empty dict of name to Variable")
        for var, spec in variables.items():
            if not isinstance(var, str) or not var.isidentifier():
                raise ValueError(f"measure {m.name!r}: variable names must be identifiers, got {var!r}")
            if not isinstance(spec, Variable):
                raise TypeError(f"measure {m.name!r}: variable {var!r} is declared as "
                                f"{type(spec).__name__}; declare it as a Variable(dims, attrs)")
            for d in spec.dims:
                if d not in coords:
                    raise ValueError(f"measure {m.name!r}: variable {var!r} has dimension {d!r} "
                                     f"but coords() gives only {sorted(coords)!r}")
    return out


@dataclass(frozen=True)
class PointSettings:
    """How to run the measures, already validated."""

    loss_fn: Any
    output: Output
    bn: str
    bn_batches: int
    device: torch.device
    dtype: torch.dtype | None
    progress: bool | None


class _OnDevice:
    """A split's batches on the device, floating-point inputs in the model's dtype;
    re-iterable. An ``(inputs, targets)`` pair moves to the device once, as a whole:
    measures read the data many times (once per Hessian-vector product)."""

    def __init__(self, batches: Batches, dev: torch.device, dtype: torch.dtype | None) -> None:
        self.batches, self.dev, self.dtype = batches, dev, dtype
        pair = batches.sources
        self.pair = (_to(pair[0], dev, dtype), pair[1].to(dev)) if pair else None

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.pair is not None:
            x, y, size = *self.pair, self.batches.batch_size
            return ((x[s : s + size], y[s : s + size]) for s in range(0, x.shape[0], size))
        return ((_to(x, self.dev, self.dtype), y.to(self.dev, non_blocking=True))
                for x, y in self.batches)


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=float)


def _names(measures: list[PointMeasure], reserved: set[str]) -> dict[tuple[str, str], str]:
    """Each (measure, variable)'s name in the result: the variable's own, or
    ``<measure>_<variable>`` where two measures (or the evaluation) share it."""
    count: dict[str, int] = {}
    for m in measures:
        for var in m.variables():
            count[var] = count.get(var, 0) + 1
    out: dict[tuple[str, str], str] = {}
    taken = set(reserved)
    for m in measures:
        for var in m.variables():
            name = var if count[var] == 1 and var not in reserved else f"{m.name}_{var}"
            if name in taken:
                raise ValueError(f"measure {m.name!r}: variable {var!r} would be stored as "
                                 f"{name!r}, which another variable already is; rename one")
            taken.add(name)
            out[m.name, var] = name
    return out


def _coords(measures: list[PointMeasure], taken: Sequence[str]) -> dict[str, np.ndarray]:
    """The measures' own coordinates, one set per dimension name."""
    out: dict[str, np.ndarray] = {}
    owner: dict[str, str] = {}
    for m in measures:
        used = {d for spec in m.variables().values() for d in spec.dims}
        for d, values in m.coords().items():
            if d not in used:
                continue
            if d in taken:
                raise ValueError(f"measure {m.name!r}: dimension {d!r} is one of the result's "
                                 f"own {list(taken)!r}; name it otherwise")
            arr = np.asarray(values)
            if arr.ndim != 1:
                raise ValueError(f"measure {m.name!r}: coords()[{d!r}] must be one-dimensional, "
                                 f"got shape {arr.shape!r}")
            if d in out and not np.array_equal(out[d], arr):
                raise ValueError(f"measures {owner[d]!r} and {m.name!r} give dimension {d!r} "
                                 "different coordinates; name one of them otherwise")
            # Strings as objects, so that a netCDF round trip gives back the same dtype.
            out[d], owner[d] = (arr.astype(object) if arr.dtype.kind in "US" else arr), m.name
    return out


def sweep_points(
    model: nn.Module,
    path: Path,
    anchors: Sequence[Anchor],
    splits: dict[str, Batches],
    keyed: bool,
    measures: list[PointMeasure],
    settings: PointSettings,
    bn_source: Batches | None,
    reserved: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, Any]]], dict[str, np.ndarray]]:
    """Every measure at every point and split: ``{name: (dims, values, attrs)}`` and
    the measures' coordinates. ``anchors`` are the path's with tied tensors merged."""
    dev, tied = settings.device, tied_groups(model)
    base_dims = (("split",) if keyed else ()) + path.dims
    coords = _coords(measures, base_dims)
    names = _names(measures, set(reserved))
    if settings.dtype is not None:
        net = copy.deepcopy(model).to(dev, settings.dtype)
    else:
        net = _on_device(model, dev)
    dtypes = {k: v.dtype for k, v in net.state_dict().items() if v.is_floating_point()}
    dtype = _input_dtype(net)
    on = [_on(a, dev, dtypes) for a in anchors]
    stacked, fixed = stack_anchors(on)
    # Entries the path does not cover keep the module's values; tied names all point
    # at the one tensor, as functional_call expects.
    base = dict(net.state_dict())
    placed = {s: _OnDevice(b, dev, dtype) for s, b in splits.items()}
    bn_placed = None if bn_source is None else _OnDevice(bn_source, dev, dtype)
    read = loss_reader(settings.loss_fn, settings.output)
    shapes = {m.name: {var: tuple(len(coords[d]) for d in spec.dims)
                       for var, spec in m.variables().items()} for m in measures}
    found: dict[str, dict[tuple[str, str], list[np.ndarray]]] = {
        s: {key: [] for key in names} for s in splits}
    bar = Progress(len(path) * len(splits), f"measure {len(path)} points", unit="point",
                   show=settings.progress)
    failed = True
    try:
        for p in range(len(path)):
            grid = np.unravel_index(p, path.shape)
            index = (int(grid[0]) + path.start, *map(int, grid[1:]))
            point = Chunk.build(stacked, fixed, path.coefficients[p : p + 1]).point(0) if stacked \
                else dict(fixed)
            state = {**base, **point}
            for group in tied:
                for name in group[1:]:
                    state[name] = state[group[0]]
            if bn_placed is not None:
                state = recompute_statistics(net, state, bn_placed, settings.bn_batches, dev)
            for split, batches in placed.items():
                for m in measures:
                    ctx = PointContext(net, state, batches, settings.loss_fn, read, settings.bn,
                                       tied, index, split if keyed else None,
                                       point_seed(_seed_of(m), index), dev)
                    with eval_mode(net), torch.enable_grad():
                        got = m.measure(ctx)
                    _check_returned(m, got, shapes[m.name], index)
                    for var in shapes[m.name]:
                        found[split][m.name, var].append(_as_array(got[var]))
                bar.advance()
        failed = False
    finally:
        bar.close(failed=failed)
    out = {}
    for m in measures:
        for var, spec in m.variables().items():
            per_split = [np.stack(found[s][m.name, var]).reshape(*path.shape, *shapes[m.name][var])
                         for s in splits]
            values = np.stack(per_split) if keyed else per_split[0]
            attrs = {**dict(spec.attrs), "measure": m.name}
            out[names[m.name, var]] = (base_dims + tuple(spec.dims), values, attrs)
    return out, coords


def _check_returned(m: PointMeasure, got: Any, shapes: dict[str, tuple[int, ...]],
                    index: tuple[int, ...]) -> None:
    if not isinstance(got, Mapping) or set(got) != set(shapes):
        keys = sorted(got) if isinstance(got, Mapping) else type(got).__name__
        raise ValueError(f"measure {m.name!r} returned {keys!r} at point {index!r}; it "
                         f"declares the variables {sorted(shapes)!r}")
    for var, shape in shapes.items():
        value = got[var]
        if tuple(np.shape(value)) != shape:
            raise ValueError(f"measure {m.name!r} returned {var!r} of shape "
                             f"{tuple(np.shape(value))!r} at point {index!r}; its dimensions "
                             f"and coords() make it {shape!r}")


def hyperparameters(measures: list[PointMeasure]) -> dict[str, Any]:
    """What the result records of the measures: each one's ``repr``."""
    return {"measures": [repr(m) for m in measures]}


def seeds(measures: list[PointMeasure]) -> dict[str, Any]:
    """The measures' own seeds, by name (the point seeds derive from them)."""
    found = {m.name: _seed_of(m) for m in measures if hasattr(m, "seed")}
    return {"measures": found} if found else {}


def measure(
    model: nn.Module,
    path: Path,
    data: Any,
    measures: Sequence[PointMeasure],
    *,
    loss_fn: Any = None,
    output: Output = None,
    bn: str = "interpolate",
    bn_batches: int = 20,
    bn_data: Any = None,
    device: str | torch.device | None = "auto",
    dtype: torch.dtype | None = None,
    batch_size: int = 1000,
    progress: bool | None = None,
    analysis: str | None = None,
    system: str | None = None,
) -> xr.Dataset:
    """Point measures (a gradient norm, Hessian eigenvalues...) at every point of ``path``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module :func:`landscapes.evaluate` accepts (tied parameters, dict or tuple
        outputs read with ``output=``); never modified.
    path : landscapes.paths.Path
        The points.
    data : data or dict of splits
        Anything :func:`landscapes.evaluate` accepts; a dict evaluates each split
        along a ``split`` dimension.
    measures : list of PointMeasure
        Each is called once per point and split with a
        :class:`~landscapes.engine.point_measures.PointContext`.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``, the mean over the batch (or the sum, with
        ``reduction="sum"``); default :class:`torch.nn.CrossEntropyLoss`.
    output : str, int or callable, optional
        How to read the model's output (as for :func:`landscapes.evaluate`).
    bn : {"interpolate", "recompute"}
        The point's batch-norm statistics: interpolated with the rest, or
        re-estimated at the point over ``bn_batches`` batches of ``bn_data``
        (default the ``"train"`` split, else ``data``), exactly as ``evaluate`` does.
    bn_batches : int
    bn_data : data, optional
    device : str or torch.device, optional
        ``"auto"`` (or ``None``) picks CUDA when present.
    dtype : torch.dtype, optional
        Run in this floating-point dtype (``torch.float64`` for exact agreement
        with closed forms); default the model's own.
    batch_size : int
        Batch size for tensor pairs and Datasets (iterables keep theirs).
    progress : bool, optional
        As for :func:`landscapes.evaluate` (one step per point and split).
    analysis, system : str, optional
        Labels stored in the dataset; default the path kind and the model class.

    Returns
    -------
    xarray.Dataset
        In the :mod:`landscapes.results` schema, without ``loss`` and ``error``: each
        measure's variables over the path's dimensions (``split`` first for a dict of
        splits) and their own, with the measures' coordinates, the ``distance``
        coordinate, and in ``hyperparameters`` the measures' ``repr`` and ``bn``.
        A variable that two measures share a name for is stored as
        ``<measure name>_<variable>``.

    Examples
    --------
    >>> import torch
    >>> from landscapes import paths
    >>> from landscapes.engine.gradient_norm import GradientNorm
    >>> net = torch.nn.Linear(4, 3)
    >>> init = {k: v.clone() for k, v in net.state_dict().items()}
    >>> line = paths.linear(init, {k: 2 * v for k, v in init.items()}, [0.0, 0.5, 1.0])
    >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    >>> ds = measure(net, line, (x, y), [GradientNorm()], device="cpu", progress=False)
    >>> ds.gradient_norm.dims, "loss" in ds
    (('alpha',), False)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(path, Path):
        raise TypeError(f"path must be a landscapes.paths.Path (from paths.linear, paths.plane...), "
                        f"got {type(path).__name__}")
    measures = check_measures(measures)
    check_model_keys(model, path.anchors[0], "path")
    loss_fn = check_loss_fn(loss_fn)
    check_output(output)
    if bn not in BN_MODES:
        raise ValueError(f"unknown bn {bn!r}; choose from {list(BN_MODES)}")
    if isinstance(bn_batches, bool) or not isinstance(bn_batches, int) or bn_batches < 1:
        raise ValueError(f"bn_batches must be a positive integer, got {bn_batches!r}")
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype (torch.float64...) or None, "
                         f"got {dtype!r}")
    dev = resolve_device("auto" if device is None else device)
    tied = tied_groups(model)
    anchors = [merge_tied(a, tied, f"anchor {n!r}") for a, n in zip(path.anchors, path.names)]
    splits, keyed, bn_source = split_data(data, batch_size, bn, bn_data, model)
    settings = PointSettings(loss_fn, output, bn, bn_batches, dev, dtype, progress)
    found, coords = sweep_points(model, path, anchors, splits, keyed, measures, settings, bn_source)
    with_bn = has_batchnorm(model)
    hyper = {
        "path": path.kind,
        "anchors": list(path.names),
        **{k: v for k, v in path.info.items() if k != "seed"},
        "loss_fn": describe_fn(loss_fn),
        **({"output": label(output)} if output is not None else {}),
        "batch_size": batch_size,
        "bn": bn if with_bn else "none",
        **({"bn_batches": bn_batches} if bn_source is not None else {}),
        **({"dtype": str(dtype).removeprefix("torch.")} if dtype is not None else {}),
        **hyperparameters(measures),
    }
    return _dataset(path, found, coords, keyed, splits, hyper,
                    {**({"directions": path.info["seed"]} if "seed" in path.info else {}),
                     **seeds(measures)},
                    analysis or path.kind, system or type(model).__name__, str(dev))


def split_data(data: Any, batch_size: int, bn: str, bn_data: Any, model: nn.Module
               ) -> tuple[dict[str, Batches], bool, Batches | None]:
    """The splits as :class:`Batches`, whether ``data`` was a dict of them, and the
    batches batch norm's statistics are recomputed from (``None`` unless needed)."""
    if isinstance(data, Mapping):
        if not data:
            raise ValueError("data is an empty dict; give at least one split")
        splits = {str(k): as_batches(v, batch_size, str(k)) for k, v in data.items()}
    else:
        splits = {"": as_batches(data, batch_size)}
    source = None
    if bn == "recompute" and has_batchnorm(model):
        if bn_data is not None:
            source = as_batches(bn_data, batch_size, "bn_data")
        else:
            source = splits.get("train", next(iter(splits.values())))
    return splits, isinstance(data, Mapping), source


def _dataset(path: Path, found: dict[str, Any], coords: dict[str, np.ndarray], keyed: bool,
             splits: dict[str, Batches], hyper: dict[str, Any], seeds_: dict[str, Any],
             analysis: str, system: str, device: str) -> xr.Dataset:
    all_coords: dict[str, Any] = {d: path.coords[d] for d in path.dims if d not in ("alpha", "beta")}
    if keyed:
        all_coords["split"] = list(splits)
    all_coords.update(coords)
    return results.slice_dataset(
        None,
        alpha=path.coords["alpha"],
        beta=path.coords.get("beta"),
        dims=(("split",) if keyed else ()) + path.dims,
        coords=all_coords,
        distance=(path.dims, path.distance()),
        extra=found,
        analysis=analysis,
        system=system,
        seeds=seeds_,
        hyperparameters=hyper,
        device=device,
    )


def merged(ds: xr.Dataset, found: dict[str, Any], coords: dict[str, np.ndarray],
           measures: list[PointMeasure]) -> xr.Dataset:
    """``ds`` (an evaluation's) with the measures' variables, coordinates, reprs and seeds."""
    out = ds.assign_coords({d: v for d, v in coords.items()})
    for name, (dims, values, attrs) in found.items():
        out[name] = xr.Variable(dims, values, attrs)
    hyper = json.loads(ds.attrs["hyperparameters"])
    hyper.update(hyperparameters(measures))
    seeds_ = json.loads(ds.attrs["seeds"])
    seeds_.update(seeds(measures))
    out.attrs["hyperparameters"] = json.dumps(results._jsonable(hyper), sort_keys=True)
    out.attrs["seeds"] = json.dumps(results._jsonable(seeds_), sort_keys=True)
    return results.validate(out)
