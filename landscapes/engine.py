"""The evaluation engine: loss and error of any model at every point of a path.

:func:`evaluate` works on chunks of points: each chunk's parameters are formed at once
from the anchors (one tensor contraction per entry, no ``load_state_dict``, no model
copies), every data batch is moved to the device once per chunk and shared by all of
the chunk's points, and the model runs through :func:`torch.func.functional_call`.
The chunk is the unit a faster engine can batch further without changing the API.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.func import functional_call
from tqdm.auto import tqdm

from landscapes import results
from landscapes.anchors import Anchor, as_anchor, is_interpolated
from landscapes.batches import Batches, as_batches
from landscapes.batchnorm import BN_MODES, eval_mode, has_batchnorm, recompute_statistics
from landscapes.paths import Path, materialize

__all__ = ["evaluate", "resolve_device", "classification_error"]

#: Allowed ``divergence`` values.
DIVERGENCES = ("outputs", "probabilities")
#: Memory for the parameters of one chunk of points when ``chunk_size`` is not given.
CHUNK_BYTES = 256 * 2**20

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Measures:
    """What to measure at each point, already validated."""

    loss_fn: Metric
    error: Metric | str | None
    metrics: dict[str, Metric]
    reference: Anchor | None
    divergence: str

    @property
    def names(self) -> list[str]:
        extra = ["divergence"] if self.reference is not None else []
        return ["loss", "error", *self.metrics, *extra]

    @property
    def summed(self) -> bool:
        """Whether the loss sums over the batch instead of averaging."""
        return getattr(self.loss_fn, "reduction", "mean") == "sum"


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into CUDA when present, else CPU; check explicit choices.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return dev


def classification_error(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
    """Top-1 error of class scores against integer labels; ``None`` when undefined.

    Defined when ``outputs`` has a class dimension at position 1 and ``targets`` are
    integer labels shaped like ``outputs`` without it (``(N, C)`` vs ``(N,)``, or
    ``(N, C, L)`` vs ``(N, L)``).

    Examples
    --------
    >>> import torch
    >>> float(classification_error(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])))
    0.5
    """
    if (
        outputs.dim() >= 2
        and not targets.is_floating_point()
        and targets.shape == outputs.shape[:1] + outputs.shape[2:]
    ):
        return (outputs.argmax(dim=1) != targets).to(torch.float64).mean()
    return None


def _describe(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _check_callable(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable as {name}(outputs, targets), got {fn!r}")


def _check_model_keys(model: nn.Module, anchor: Anchor, what: str) -> None:
    state = model.state_dict()
    for key, value in anchor.items():
        if key not in state:
            raise ValueError(
                f"{what} tensor {key!r} is not in the model's state_dict; the model has "
                f"{sorted(state)[:8]!r}{'...' if len(state) > 8 else ''}"
            )
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(
                f"{what} tensor {key!r} has shape {tuple(value.shape)!r} but the model's has "
                f"{tuple(state[key].shape)!r}"
            )


def evaluate(
    model: nn.Module,
    path: Path,
    data: Any,
    *,
    loss_fn: Metric | None = None,
    error: Metric | str | None = "auto",
    metrics: Mapping[str, Metric] | None = None,
    reference: Mapping[str, torch.Tensor] | nn.Module | None = None,
    divergence: str = "outputs",
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn: str = "interpolate",
    bn_batches: int = 20,
    bn_data: Any = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    analysis: str | None = None,
    system: str | None = None,
) -> xr.Dataset:
    """Evaluate loss and error of ``model`` at every point of ``path``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module whose ``state_dict`` keys include the path's; entries the path does
        not cover keep the module's values. The module is never modified.
    path : landscapes.paths.Path
        The points, e.g. from :func:`landscapes.paths.linear`.
    data : tuple of tensors, Dataset, iterable of batches, or dict of those
        An ``(inputs, targets)`` pair, a map-style Dataset, or a re-iterable of
        ``(inputs, targets)`` batches such as a DataLoader. A dict of named splits,
        ``{"train": ..., "test": ...}``, evaluates each along a ``split`` dimension.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)`` returning the *mean* over the batch (or the sum,
        if it has ``reduction="sum"``). Batches are weighted by their size (the first
        dimension of the targets) so the result is the mean over the whole split.
        Default :class:`torch.nn.CrossEntropyLoss`.
    error : "auto", callable or None
        ``"auto"``: top-1 classification error where outputs are class scores and
        targets integer labels, else NaN. A callable returns the batch's error
        fraction. ``None``: NaN (undefined).
    metrics : dict of str to callable, optional
        Extra per-batch means, each stored as a variable of that name.
    reference : state dict or module, optional
        A network θ_ref; adds ``divergence``, the root-mean-square distance between
        outputs, sqrt(1/N Σᵢ ‖F(xᵢ, θ) − F(xᵢ, θ_ref)‖²) (Im et al. 2016, §4.1).
    divergence : {"outputs", "probabilities"}
        Compare raw outputs or softmax probabilities over dimension 1.
    device : str or torch.device
        ``"auto"`` picks CUDA when present.
    batch_size : int
        Batch size for tensor pairs and Datasets (iterables keep theirs).
    bn : {"interpolate", "recompute"}
        ``"interpolate"`` evaluates with the interpolated running statistics;
        ``"recompute"`` re-estimates them at every point as an exact cumulative
        average over ``bn_batches`` training batches (dropout off), then evaluates.
    bn_batches : int
        Number of batches for ``bn="recompute"``.
    bn_data : data, optional
        Where those batches come from; default the ``"train"`` split when ``data`` is
        a dict that has one, else ``data``.
    chunk_size : int, optional
        Points evaluated together; default from a 256 MiB parameter budget.
        Results do not depend on it.
    progress : bool, optional
        Progress bar; default on when stderr is a terminal.
    analysis, system : str, optional
        Labels stored in the dataset; default the path kind and the model class.

    Returns
    -------
    xarray.Dataset
        In the :mod:`landscapes.results` schema: ``loss``, ``error`` (and ``divergence``
        and user metrics) over the path's dimensions (and ``split``), with the
        ``distance`` coordinate. Non-finite losses are recorded as inf/NaN.

    Examples
    --------
    >>> import torch
    >>> from landscapes import paths
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = torch.nn.Linear(4, 3)
    >>> init = {k: v.clone() for k, v in net.state_dict().items()}
    >>> final = {k: 2 * v for k, v in init.items()}
    >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> ds = evaluate(net, paths.linear(init, final, [0.0, 0.5, 1.0]), (x, y), device="cpu")
    >>> ds.loss.dims, ds.error.shape
    (('alpha',), (3,))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(path, Path):
        raise TypeError(
            f"path must be a landscapes.paths.Path (from paths.linear, paths.plane...), "
            f"got {type(path).__name__}"
        )
    _check_model_keys(model, path.anchors[0], "path")
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    _check_callable("loss_fn", loss_fn)
    if getattr(loss_fn, "reduction", "mean") not in ("mean", "sum"):
        raise ValueError(
            f"loss_fn has reduction={loss_fn.reduction!r}; use 'mean' (or 'sum') so each "
            "batch gives one number"
        )
    if isinstance(error, str) and error != "auto":
        raise ValueError(f"unknown error {error!r}; choose from ['auto', a callable, None]")
    if error is not None and not isinstance(error, str):
        _check_callable("error", error)
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"metric names must be identifiers, got {name!r}")
        if name in ("loss", "error", "divergence"):
            raise ValueError(f"metric name {name!r} is reserved; choose another")
        _check_callable(f"metrics[{name!r}]", fn)
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; choose from {list(DIVERGENCES)}")
    ref: Anchor | None = None
    if reference is not None:
        ref = as_anchor(reference, "reference")
        _check_model_keys(model, ref, "reference")
    dev = resolve_device(device)
    if bn not in BN_MODES:
        raise ValueError(f"unknown bn {bn!r}; choose from {list(BN_MODES)}")
    if isinstance(bn_batches, bool) or not isinstance(bn_batches, int) or bn_batches < 1:
        raise ValueError(f"bn_batches must be a positive integer, got {bn_batches!r}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")

    if isinstance(data, Mapping):
        if not data:
            raise ValueError("data is an empty dict; give at least one split")
        splits = {str(k): as_batches(v, batch_size, str(k)) for k, v in data.items()}
    else:
        splits = {"": as_batches(data, batch_size)}
    with_bn = has_batchnorm(model)
    recompute = bn == "recompute" and with_bn
    bn_source: Batches | None = None
    if recompute:
        if bn_data is not None:
            bn_source = as_batches(bn_data, batch_size, "bn_data")
        elif "train" in splits:
            bn_source = splits["train"]
        else:
            bn_source = next(iter(splits.values()))

    measures = _Measures(loss_fn, error, metrics, ref, divergence)
    values = _evaluate(
        model, path, splits, measures, dev, bn_source if recompute else None, bn_batches,
        chunk_size, progress,
    )

    names = measures.names
    keyed = isinstance(data, Mapping)
    dims = (("split",) if keyed else ()) + path.dims
    stacked = {n: np.stack([values[s][n] for s in splits]) for n in names}
    if not keyed:
        stacked = {n: v[0] for n, v in stacked.items()}
    coords: dict[str, Any] = {d: path.coords[d] for d in path.dims if d not in ("alpha", "beta")}
    if keyed:
        coords["split"] = list(splits)
    hyper = {
        "path": path.kind,
        "anchors": list(path.names),
        **{k: v for k, v in path.info.items() if k != "seed"},
        "loss_fn": _describe(loss_fn),
        "error": error if error is None or isinstance(error, str) else _describe(error),
        "metrics": {k: _describe(f) for k, f in metrics.items()},
        "batch_size": batch_size,
        "bn": bn if with_bn else "none",
    }
    if recompute:
        hyper["bn_batches"] = bn_batches
    if ref is not None:
        hyper["divergence"] = divergence
    seeds = {"directions": path.info["seed"]} if "seed" in path.info else {}
    return results.slice_dataset(
        stacked["loss"],
        error=stacked["error"],
        alpha=path.coords["alpha"],
        beta=path.coords.get("beta"),
        dims=dims,
        coords=coords,
        distance=(path.dims, path.distance()),
        extra={n: stacked[n] for n in names[2:]},
        analysis=analysis or path.kind,
        system=system or type(model).__name__,
        seeds=seeds,
        hyperparameters=hyper,
        device=str(dev),
    )


def _default_chunk(path: Path) -> int:
    per_point = sum(
        v.numel() * v.element_size() for v in path.anchors[0].values() if is_interpolated(v)
    )
    return max(1, min(len(path), CHUNK_BYTES // max(per_point, 1)))


def _on_device(model: nn.Module, dev: torch.device) -> nn.Module:
    # Entries the path does not cover are read from the module, so they must live on
    # the evaluation device; one copy per call, never per point.
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.device == dev for t in tensors):
        return model
    return copy.deepcopy(model).to(dev)


def _evaluate(
    model: nn.Module,
    path: Path,
    splits: dict[str, Batches],
    measures: _Measures,
    dev: torch.device,
    bn_source: Batches | None,
    bn_batches: int,
    chunk_size: int | None,
    progress: bool | None,
) -> dict[str, dict[str, np.ndarray]]:
    net = _on_device(model, dev)
    anchors = [{k: v.to(dev) for k, v in a.items()} for a in path.anchors]
    ref = measures.reference
    if ref is not None:
        measures = replace(measures, reference={k: v.to(dev) for k, v in ref.items()})
    chunk = chunk_size or _default_chunk(path)
    n_points = len(path)
    names = measures.names
    show = sys.stderr.isatty() if progress is None else progress
    out: dict[str, dict[str, np.ndarray]] = {}
    bar = tqdm(total=n_points * len(splits), unit="point", disable=not show, desc="evaluate")
    try:
        for split, batches in splits.items():
            acc = np.zeros((n_points, len(names)))
            error_defined = True
            n_batches = len(batches) if batches.has_len() else None
            for start in range(0, n_points, chunk):
                points = materialize(anchors, path.coefficients[start : start + chunk])
                if bn_source is not None:
                    points = [
                        recompute_statistics(net, p, bn_source, bn_batches, dev) for p in points
                    ]
                sums, n_seen, defined = _run_chunk(net, points, batches, measures, dev, bar, n_batches)
                error_defined &= defined
                acc[start : start + len(points)] = sums / n_seen
                if n_batches is None:
                    bar.update(len(points))
            if ref is not None:
                acc[:, -1] = np.sqrt(acc[:, -1])
            if not error_defined:
                acc[:, 1] = np.nan
            out[split] = {n: acc[:, i].reshape(path.shape) for i, n in enumerate(names)}
    finally:
        bar.close()
    return out


def _run_chunk(
    net: nn.Module,
    points: list[Anchor],
    batches: Batches,
    m: _Measures,
    dev: torch.device,
    bar: Any,
    n_batches: int | None,
) -> tuple[np.ndarray, int, bool]:
    """One pass over the data for a chunk of points: per-point sums and the example count."""
    sums = torch.zeros((len(points), len(m.names)), dtype=torch.float64, device=dev)
    n_seen = 0
    defined = m.error is not None
    with eval_mode(net), torch.no_grad():
        for x, y in batches:
            x = x.to(dev, non_blocking=True)
            y = y.to(dev, non_blocking=True)
            n = y.shape[0] if y.dim() else 1
            ref_out = None
            if m.reference is not None:
                ref_out = _compare_form(
                    functional_call(net, m.reference, (x,), strict=False), m.divergence
                )
            for i, params in enumerate(points):
                outputs = functional_call(net, params, (x,), strict=False)
                loss = m.loss_fn(outputs, y)
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise ValueError(
                        f"loss_fn returned {type(loss).__name__} of shape "
                        f"{tuple(getattr(loss, 'shape', ()))!r}; it must return one number "
                        "per batch (reduction='mean')"
                    )
                sums[i, 0] += loss.detach().to(torch.float64).reshape(()) * (1 if m.summed else n)
                if defined:
                    err = (
                        classification_error(outputs, y)
                        if m.error == "auto"
                        else m.error(outputs, y)  # type: ignore[operator]
                    )
                    if err is None:
                        defined = False
                    else:
                        sums[i, 1] += torch.as_tensor(err, dtype=torch.float64, device=dev) * n
                for j, fn in enumerate(m.metrics.values()):
                    value = torch.as_tensor(fn(outputs, y), dtype=torch.float64, device=dev)
                    sums[i, 2 + j] += value.reshape(()) * n
                if ref_out is not None:
                    diff = _compare_form(outputs, m.divergence) - ref_out
                    sums[i, -1] += diff.to(torch.float64).reshape(n, -1).pow(2).sum()
            n_seen += n
            if n_batches:
                bar.update(len(points) / n_batches)
    if n_seen == 0:
        raise ValueError(f"data {batches.name!r} has no examples")
    return sums.cpu().numpy(), n_seen, defined


def _compare_form(outputs: torch.Tensor, divergence: str) -> torch.Tensor:
    if divergence == "probabilities":
        return torch.softmax(outputs, dim=1)
    return outputs

