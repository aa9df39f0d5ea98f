"""The public estimators of :mod:`landscapes.curvature` (eigenvalues, trace, density,
curvature along directions, products), each at one point it builds itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from landscapes import results
from landscapes.anchors import Anchor
from landscapes.curvature.context import point_context
from landscapes.curvature.density import MOMENTS, broaden, default_grid, quadrature
from landscapes.curvature.vectors import unit_direction
from landscapes.curvature.hvp import Operator
from landscapes.curvature.lanczos import WHICH, eigenpairs
from landscapes.curvature.objective import Objective, block_groups
from landscapes.curvature.spectrum import Along, Spectrum, _flat_direction, check_settings, sub_seed
from landscapes.curvature.trace import METHODS, estimate_trace
from landscapes.engine.batchnorm import has_batchnorm
from landscapes.engine.outputs import label
from landscapes.engine.point_measures import PointContext

__all__ = ["eigenvalues", "trace", "density", "along", "hvp", "COMMON"]

COMMON = """model : torch.nn.Module
        Any module :func:`landscapes.evaluate` accepts (tied weights are one parameter).
    data : tuple of tensors or arrays, Dataset, or iterable of batches
        One split, in any form :func:`landscapes.evaluate` accepts.
    point : state dict or module, optional
        θ; entries it lacks keep the model's values. Default the model's own weights.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``, the batch mean (or sum); default cross-entropy.
    bn : {"interpolate", "recompute", "train"}
        Batch norm: see the module. Recorded in the dataset.
    output : str, int or callable, optional
        Which tensor of a dict or tuple output is the output (as ``evaluate``).
    dtype : torch.dtype, optional
        ``torch.float32`` or ``torch.float64``; default the model's. The module is not
        modified; the point and the inputs are cast.
    device : str or torch.device
        ``"auto"``: CUDA when present.
    batch_size : int
        Batch size for pairs and Datasets (``bn="train"``'s objective depends on it).
    bn_batches, bn_data
        For ``bn="recompute"``, as ``evaluate``."""


def _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data,
             seed) -> PointContext:
    return point_context(model, data, point=point, loss_fn=loss_fn, bn=bn, output=output, dtype=dtype,
                         device=device, batch_size=batch_size, bn_batches=bn_batches, bn_data=bn_data,
                         seed=seed)


def _objective(bn: str) -> str:
    return "train" if bn == "train" else "eval"


def _groups(ctx: PointContext, bn: str, blocks: Any) -> dict[str, Objective]:
    every = Objective(ctx, _objective(bn))
    return {b: Objective(ctx, _objective(bn), names) for b, names in block_groups(every.all_names, blocks).items()}


def _dataset(ctx: PointContext, model: nn.Module, values: dict[str, tuple[tuple[str, ...], Any]],
             coords: dict[str, Any], hyper: dict[str, Any], seed: int, attrs: dict[str, dict] | None = None,
             analysis: str = "curvature") -> xr.Dataset:
    ds = xr.Dataset({k: (d, np.asarray(v, dtype=float)) for k, (d, v) in values.items()}, coords=coords)
    for name, a in (attrs or {}).items():
        if name in ds:
            ds[name].attrs.update(a)
    bn = hyper.pop("bn")
    ds.attrs.update(analysis=analysis, system=type(model).__name__)
    ds.attrs.update(results.provenance(
        seeds={"curvature": seed},
        hyperparameters={
            "bn": bn if (bn == "train" or has_batchnorm(model)) else "none",
            "loss_fn": getattr(ctx.loss_fn, "__name__", None) or type(ctx.loss_fn).__name__,
            "dtype": next((str(v.dtype).removeprefix("torch.") for v in ctx.state.values()
                           if v.is_floating_point()), ""),
            **hyper,
        },
        device=str(ctx.device),
    ))
    return ds


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}")


def eigenvalues(
    model: nn.Module,
    data: Any,
    *,
    k: int = 1,
    which: str = "largest",
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    vectors: bool = False,
    blocks: Any = None,
    seed: int = 0,
    tol: float = 1e-3,
    max_iter: int = 100,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> xr.Dataset | tuple[xr.Dataset, dict[str, list[Anchor]]]:
    """The k largest (or smallest) eigenvalues of the Hessian at a point.

    Parameters
    ----------
    {common}
    k : int
        Eigenpairs per end.
    which : {{"largest", "smallest", "both"}}
        Algebraically largest, smallest (negative curvature where H is indefinite),
        or both ends from one Lanczos run.
    vectors : bool
        Also return the unit eigenvectors, as directions shaped like the state dict
        (zero on buffers and integer entries).
    blocks : None, "layer" or list of str
        Per-layer Hessian blocks H_BB: one per module (``"layer"``) or per given
        module or parameter name, along a ``block`` dimension.
    seed : int
        Seed of the start vector; same seed, same numbers.
    tol, max_iter
        Stopping rule: every wanted Ritz pair's residual ≤ ``tol`` · ‖H‖ (estimated as
        the largest abs(Ritz value)), at most ``max_iter`` Lanczos steps.

    Returns
    -------
    xarray.Dataset
        ``top_eigenvalue`` and ``top_residual`` (dim ``eigen``, largest first) and/or
        ``bottom_eigenvalue`` and ``bottom_residual`` (smallest first);
        ``lanczos_iterations``, ``lanczos_converged``. With ``vectors=True`` a tuple
        ``(dataset, {{"largest": [direction, ...], "smallest": [...]}})`` (one list per
        block when ``blocks`` is given: ``{{end: {{block: [...]}}}}``).

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> ds = curvature.eigenvalues(net, (x, y), k=2, device="cpu")
    >>> ds.top_eigenvalue.dims, bool(ds.top_eigenvalue[0] >= ds.top_eigenvalue[1])
    (('eigen',), True)
    """
    check_settings(Spectrum(k=k, which=which, tol=tol, max_iter=max_iter, seed=seed, trace=None))
    if which is None:
        raise ValueError(f"unknown which {which!r}; choose from {list(WHICH)}")
    if not isinstance(vectors, bool):
        raise ValueError(f"vectors must be True or False, got {vectors!r}")
    ctx = _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data, seed)
    groups = _groups(ctx, bn, blocks)
    per, found_vectors = [], {}
    for block, objective in groups.items():
        op = Operator(objective)
        found = eigenpairs(op.matvec, op.size, k=k, which=which, tol=tol, max_iter=max_iter,
                           seed=sub_seed(seed, "eigen"), dtype=op.dtype, device=op.device, vectors=vectors)
        row: dict[str, Any] = {}
        for end, prefix in (("largest", "top"), ("smallest", "bottom")):
            if end in found:
                row[f"{prefix}_eigenvalue"] = _pad(found[end].values, k)
                row[f"{prefix}_residual"] = _pad(found[end].residuals, k)
                if vectors:
                    found_vectors.setdefault(end, {})[block] = [
                        unit_direction(ctx, objective, v) for v in found[end].vectors]
        first = next(iter(found.values()))
        row["lanczos_iterations"] = first.iterations
        row["lanczos_converged"] = float(first.converged)
        per.append(row)
    values, coords = _stack(per, list(groups), blocks, {"eigen": ("eigen",)})
    coords["eigen"] = np.arange(k)
    ds = _dataset(ctx, model, values, coords, {
        "bn": bn, "k": k, "which": which, "tol": tol, "max_iter": max_iter, "blocks": _blocks_label(blocks),
        "batch_size": batch_size, **_output(output)}, seed,
        {"top_eigenvalue": {"long_name": "largest Hessian eigenvalues"},
         "bottom_eigenvalue": {"long_name": "smallest Hessian eigenvalues"},
         "top_residual": {"long_name": "‖Hv − λv‖ of the top eigenpairs"},
         "bottom_residual": {"long_name": "‖Hv − λv‖ of the bottom eigenpairs"}})
    if not vectors:
        return ds
    if blocks is None:
        found_vectors = {end: byblock["all"] for end, byblock in found_vectors.items()}
    return ds, found_vectors


def trace(
    model: nn.Module,
    data: Any,
    *,
    method: str = "hutch++",
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    blocks: Any = None,
    seed: int = 0,
    tol: float = 1e-2,
    max_probes: int = 200,
    block: int = 10,
    sketch: int = 10,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> xr.Dataset:
    """The trace of the Hessian at a point, with its standard error.

    Parameters
    ----------
    {common}
    method : {{"hutch++", "hutchinson"}}
        Hutch++ (Meyer et al. 2021) or Hutchinson with Rademacher probes.
    blocks : None, "layer" or list of str
        Traces of Hessian blocks (their sum is the whole trace).
    seed : int
    tol, max_probes, block
        Stopping rule: standard error ≤ ``tol`` · abs(trace), at most ``max_probes``
        Hessian-vector products, probes drawn ``block`` at a time.
    sketch : int
        Hutch++'s sketch size s (2s of the products).

    Returns
    -------
    xarray.Dataset
        ``hessian_trace``, ``trace_stderr``, ``trace_products``, ``trace_converged``.

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(3, 1)
    >>> x = torch.randn(32, 3)
    >>> ds = curvature.trace(net, (x, x.sum(1, keepdim=True)), loss_fn=torch.nn.MSELoss(), device="cpu")
    >>> exact = 2 * (float((x ** 2).mean(0).sum()) + 1)  # tr of 2·E[[x 1][x 1]ᵀ]
    >>> abs(float(ds.hessian_trace) - exact) < 1e-4 * exact
    True
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
    check_settings(Spectrum(which=None, trace=method, trace_tol=tol, trace_probes=max_probes, trace_block=block,
                            trace_sketch=sketch, seed=seed))
    ctx = _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data, seed)
    groups = _groups(ctx, bn, blocks)
    per = []
    for objective in groups.values():
        op = Operator(objective)
        t = estimate_trace(op.matvec, op.size, method=method, tol=tol, max_probes=max_probes, block=block,
                           sketch=sketch, seed=sub_seed(seed, "trace"), dtype=op.dtype, device=op.device)
        per.append({"hessian_trace": t.value, "trace_stderr": t.stderr, "trace_products": t.products,
                    "trace_converged": float(t.converged)})
    values, coords = _stack(per, list(groups), blocks, {})
    return _dataset(ctx, model, values, coords, {
        "bn": bn, "method": method, "tol": tol, "max_probes": max_probes, "block": block,
        "sketch": sketch if method == "hutch++" else 0, "blocks": _blocks_label(blocks),
        "batch_size": batch_size, **_output(output)}, seed,
        {"hessian_trace": {"long_name": "Hessian trace", "method": method},
         "trace_stderr": {"long_name": "standard error of the trace estimate"}})


def density(
    model: nn.Module,
    data: Any,
    *,
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    probes: int = 4,
    steps: int = 64,
    grid: int | Sequence[float] = 500,
    sigma: float | None = None,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> xr.Dataset:
    """The Hessian's spectral density by stochastic Lanczos quadrature, and its moments.

    Parameters
    ----------
    {common}
    probes, steps : int
        SLQ: ``probes`` Rademacher start vectors, ``steps`` Lanczos steps each.
    grid : int or sequence of float
        Number of grid points spanning the Ritz values (padded), or the grid itself.
    sigma : float, optional
        Gaussian width; default a hundredth of the Ritz values' spread.
    seed : int

    Returns
    -------
    xarray.Dataset
        ``spectral_density`` over ``spectrum`` (the grid of eigenvalues, integrating to
        one), ``density_moment`` and ``moment_stderr`` over ``moment`` = 1..4
        (estimates of (1/P) tr H^j), ``ritz_value`` and ``ritz_weight`` over
        ``(probe, node)`` (the quadrature itself), ``density_sigma``.

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> ds = curvature.density(net, (x, y), steps=8, device="cpu")
    >>> ds.density_moment.moment.values.tolist()
    [1, 2, 3, 4]
    """
    for name, value in (("probes", probes), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0):
        raise ValueError(f"sigma must be a positive number or None, got {sigma!r}")
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        if grid < 2:
            raise ValueError(f"grid must have at least 2 points, got {grid!r}")
        fixed = None
    else:
        try:
            fixed = np.asarray(grid, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"grid must be a number of points or a sequence of numbers, got {grid!r}") from None
        if fixed.ndim != 1 or fixed.size < 2 or not np.isfinite(fixed).all():
            raise ValueError(f"grid must be a 1-D sequence of at least 2 finite numbers, got {grid!r}")
    _check_seed(seed)
    ctx = _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data, seed)
    op = Operator(Objective(ctx, _objective(bn)))
    q = quadrature(op.matvec, op.size, probes=probes, steps=steps, seed=sub_seed(seed, "density"),
                   dtype=op.dtype, device=op.device)
    if fixed is None:
        values, sig = default_grid(q, int(grid), sigma)
    else:
        values, sig = fixed, default_grid(q, 2, sigma)[1]
    mean, err = q.moments()
    return _dataset(ctx, model, {
        "spectral_density": (("spectrum",), broaden(q, values, sig)),
        "density_moment": (("moment",), mean),
        "moment_stderr": (("moment",), err),
        "ritz_value": (("probe", "node"), q.nodes),
        "ritz_weight": (("probe", "node"), q.weights),
        "density_sigma": ((), sig),
    }, {"spectrum": values, "moment": np.array(MOMENTS)}, {
        "bn": bn, "probes": probes, "steps": steps, "sigma": sigma, "batch_size": batch_size,
        **_output(output)}, seed,
        {"spectral_density": {"long_name": "spectral density (Gaussian-broadened SLQ)"},
         "density_moment": {"long_name": "(1/P) tr H^j"}})


def along(
    model: nn.Module,
    data: Any,
    direction: Mapping[str, torch.Tensor] | Sequence[Mapping[str, torch.Tensor]],
    *,
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> xr.Dataset:
    """The curvature vᵀHv/‖v‖² along one direction or several.

    Parameters
    ----------
    {common}
    direction : dict of str to tensor, or a list of them
        Shaped like the state dict (e.g. θ_final − θ_init for the line's own
        direction); entries that are not trainable parameters are ignored.

    Returns
    -------
    xarray.Dataset
        ``curvature_along`` (dim ``direction`` when a list was given).

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> x = torch.randn(16, 2)
    >>> ds = curvature.along(net, (x, x[:, :1]), {"weight": torch.tensor([[1.0, 0.0]])},
    ...                      loss_fn=torch.nn.MSELoss(), device="cpu")
    >>> abs(float(ds.curvature_along) - 2 * float((x[:, 0] ** 2).mean())) < 1e-5
    True
    """
    many = isinstance(direction, Sequence) and not isinstance(direction, Mapping)
    dirs = list(direction) if many else [direction]
    if not dirs or not all(isinstance(d, Mapping) for d in dirs):
        raise TypeError(f"direction must be a dict of tensors (a state_dict's shape) or a list of them, "
                        f"got {type(direction).__name__}")
    ctx = _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data, 0)
    measure = Along(tuple(dict(d) for d in dirs), _objective(bn))
    got = measure.measure(ctx)["curvature_along"]
    values = {"curvature_along": (("direction",), got) if many else ((), got[0])}
    coords = {"direction": np.arange(len(dirs))} if many else {}
    return _dataset(ctx, model, values, coords, {"bn": bn, "batch_size": batch_size, **_output(output)}, 0,
                    {"curvature_along": {"long_name": "curvature vᵀHv/‖v‖²"}})


def hvp(
    model: nn.Module,
    data: Any,
    vector: Mapping[str, torch.Tensor] | Sequence[Mapping[str, torch.Tensor]],
    *,
    point: Mapping[str, torch.Tensor] | nn.Module | None = None,
    loss_fn: Any = None,
    bn: str = "interpolate",
    output: Any = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn_batches: int = 20,
    bn_data: Any = None,
) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
    """Hessian-vector products H v of the full-data loss.

    Parameters
    ----------
    {common}
    vector : dict of str to tensor, or a list of them
        Shaped like the trainable parameters (other entries ignored); a list is
        multiplied in one batched pass (vmap over the vectors).

    Returns
    -------
    dict of str to tensor, or a list of them
        H v under every trainable parameter's name (a tied tensor under each of its names).

    Examples
    --------
    >>> import torch
    >>> from landscapes import curvature
    >>> net = torch.nn.Linear(2, 1, bias=False)
    >>> x = torch.randn(16, 2)
    >>> hv = curvature.hvp(net, (x, x[:, :1]), {"weight": torch.tensor([[1.0, 0.0]])},
    ...                    loss_fn=torch.nn.MSELoss(), device="cpu")
    >>> torch.allclose(hv["weight"], 2 * (x[:, :1] * x).mean(0, keepdim=True), atol=1e-6)
    True
    """
    many = isinstance(vector, Sequence) and not isinstance(vector, Mapping)
    vecs = list(vector) if many else [vector]
    if not vecs or not all(isinstance(d, Mapping) for d in vecs):
        raise TypeError(f"vector must be a dict of tensors shaped like the parameters or a list of them, "
                        f"got {type(vector).__name__}")
    ctx = _context(model, data, point, loss_fn, bn, output, dtype, device, batch_size, bn_batches, bn_data, 0)
    objective = Objective(ctx, _objective(bn))
    v = torch.stack([_flat_direction(objective, d) for d in vecs])
    hv = Operator(objective).matvec(v)
    out = []
    for row in hv:
        parts = objective.unflatten(row)
        for group in ctx.tied:
            for name in group[1:]:
                if group[0] in parts:
                    parts[name] = parts[group[0]]
        out.append(parts)
    return out if many else out[0]


def _pad(values: np.ndarray, k: int) -> np.ndarray:
    out = np.full(k, np.nan)
    out[: len(values)] = values
    return out


def _stack(per: list[dict[str, Any]], names: list[str], blocks: Any, dims: dict[str, tuple[str, ...]]):
    values: dict[str, tuple[tuple[str, ...], Any]] = {}
    coords: dict[str, Any] = {}
    for key in per[0]:
        own = ("eigen",) if key.endswith(("_eigenvalue", "_residual")) else ()
        if blocks is None:
            values[key] = (own, per[0][key])
        else:
            values[key] = (("block", *own), np.stack([np.asarray(p[key], dtype=float) for p in per]))
    if blocks is not None:
        coords["block"] = np.array(names, dtype=object)
    return values, coords


def _blocks_label(blocks: Any) -> Any:
    return blocks if blocks is None or isinstance(blocks, str) else list(blocks)


def _output(output: Any) -> dict[str, Any]:
    return {"output": label(output)} if output is not None else {}


for _f in (eigenvalues, trace, density, along, hvp):
    _f.__doc__ = _f.__doc__.replace("{common}", COMMON).replace("{{", "{").replace("}}", "}")
