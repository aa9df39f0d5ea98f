"""The public entry point :func:`evaluate`: check the inputs, run the sweep, label the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from landscapes import results
from landscapes.devices import resolve_device
from landscapes.engine.measures import Measures, classification_error, per_example_loss
from landscapes.engine.sweep import EXAMPLE_LOSS, Settings, sweep
from landscapes.anchors import Anchor, as_anchor
from landscapes.engine.batches import Batches, as_batches
from landscapes.engine.batchnorm import BN_MODES, has_batchnorm
from landscapes.engine.checks import check_callable as _check_callable
from landscapes.engine.checks import check_loss_fn
from landscapes.engine.checks import check_model_keys as _check_model_keys
from landscapes.engine.checks import describe_fn as _describe
from landscapes.engine.outputs import Output, check_output, label
from landscapes.engine.point_measures import PointMeasure
from landscapes.engine.point_sweep import PointSettings, check_measures, merged, sweep_points
from landscapes.engine.tied import merge_tied, tied_groups
from landscapes.paths import Path

__all__ = ["evaluate", "classification_error", "DIVERGENCES", "PRECISIONS"]

#: Allowed ``divergence`` values.
DIVERGENCES = ("outputs", "probabilities")
#: Allowed ``precision`` values and the autocast dtype of each (``None``: no autocast).
PRECISIONS: dict[str, torch.dtype | None] = {
    "float32": None,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def evaluate(
    model: nn.Module,
    path: Path,
    data: Any,
    *,
    loss_fn: Metric | None = None,
    error: Metric | str | None = "auto",
    metrics: Mapping[str, Metric] | None = None,
    measures: Sequence[PointMeasure] = (),
    output: Output = None,
    reference: Mapping[str, torch.Tensor] | nn.Module | None = None,
    divergence: str = "outputs",
    device: str | torch.device = "auto",
    batch_size: int = 1000,
    bn: str = "interpolate",
    bn_batches: int = 20,
    bn_data: Any = None,
    chunk_size: int | None = None,
    memory: int | None = None,
    precision: str = "float32",
    per_example: bool = False,
    progress: bool | None = None,
    analysis: str | None = None,
    system: str | None = None,
) -> xr.Dataset:
    """Evaluate loss and error of ``model`` at every point of ``path``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module whose ``state_dict`` keys include the path's; entries the path does
        not cover keep the module's values. The module is never modified. Its dtypes
        set the precision (see Notes). Tied parameters (one tensor under two names,
        as in language models with tied embeddings) are interpolated once and stay
        tied at every point.
    path : landscapes.paths.Path
        The points, e.g. from :func:`landscapes.paths.linear`. Anchors that give a
        tied pair two different values are an error.
    data : tuple of tensors or arrays, Dataset, iterable of batches, or dict of those
        An ``(inputs, targets)`` pair of tensors or of arrays torch can convert
        (NumPy arrays, or objects with ``__array__`` or ``__dlpack__``), a map-style
        Dataset, or a re-iterable of ``(inputs, targets)`` batches such as a
        DataLoader. A dict of named splits, ``{"train": ..., "test": ...}``,
        evaluates each along a ``split`` dimension.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)`` returning the *mean* over the batch (or the sum,
        if it has ``reduction="sum"``). Batches are weighted by their size (the first
        dimension of the targets) so the result is the mean over the whole split.
        A function of your own receives what the model returns (a dict, a tuple, a
        Hugging Face ``ModelOutput``), e.g. ``lambda out, y: cross_entropy(out["logits"], y)``;
        torch's own losses (a ``torch.nn`` loss module, a ``torch.nn.functional``
        function) receive the tensor ``output`` reads. Default
        :class:`torch.nn.CrossEntropyLoss`.
    error : "auto", callable or None
        ``"auto"``: top-1 classification error where outputs are class scores and
        targets integer labels, else NaN. A callable returns the batch's error
        fraction, and receives what the model returns, as a ``loss_fn`` of your own.
        ``None``: NaN (undefined). ``"auto"`` reads the tensor ``output`` says, and
        is NaN, with a warning, for a model that returns no tensor and no ``output``.
    metrics : dict of str to callable, optional
        Extra per-batch means, each stored as a variable of that name; they receive
        what the model returns, as a ``loss_fn`` of your own.
    measures : list of PointMeasure, optional
        Measures that need the parameters at each point, not only the outputs (a
        gradient norm, Hessian eigenvalues: :mod:`landscapes.engine.point_measures`),
        run as :func:`landscapes.engine.measure` runs them, with this call's
        ``loss_fn``, ``output``, ``bn``, ``bn_batches``, ``bn_data``, ``device`` and
        ``batch_size``, in the model's dtype (``precision`` applies to loss and error
        only); their variables join the result, their ``repr`` its hyperparameters.
    output : str, int or callable, optional
        How to read the model's output when ``forward`` returns more than a tensor: a
        key of a dict (a Hugging Face ``ModelOutput``, or an attribute of a named
        tuple), e.g. ``"logits"``; an index into a tuple, e.g. ``0`` for
        ``(logits, aux)``; or a callable ``output(model_output)`` returning the tensor.
        The built-in loss and error, torch's own losses and metrics, and the
        divergence receive that tensor; functions of your own receive what the model
        returns, whatever ``output`` says. Default
        ``None``: the model returns a tensor (anything else is an error that shows
        what it returned). Recorded in the hyperparameters.
    reference : state dict or module, optional
        A network θ_ref; adds ``divergence``, the root-mean-square distance between
        outputs, sqrt(1/N Σᵢ ‖F(xᵢ, θ) − F(xᵢ, θ_ref)‖²) (Im et al. 2016, §4.1), and
        ``disagreement``, the share of examples whose predicted label (argmax over
        dimension 1) differs from θ_ref's, computed in the same pass (NaN where the
        outputs are not class scores, as for ``error="auto"``).
    divergence : {"outputs", "probabilities"}
        Compare raw outputs or softmax probabilities over dimension 1.
    device : str or torch.device
        ``"auto"`` picks CUDA when present.
    batch_size : int
        Batch size for tensor pairs and Datasets (iterables keep theirs). Batches
        larger than the memory budget allows for even one point are evaluated in
        pieces; the batch-size weighting keeps the result the mean over the split.
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
        Points evaluated together; default the most that fit in ``memory``.
        Results do not depend on it.
    memory : int, optional
        Memory budget in bytes for the parameters and activations of a chunk; default
        :func:`landscapes.engine.memory.default_budget` of the device (half the free GPU
        memory; 128 MiB on CPU, where activations close to the cache run fastest).
    precision : {"float32", "bfloat16", "float16"}
        ``"float32"`` runs the model in its own dtype (exact). The others run the
        forward passes (and batch norm's statistics passes) under
        :func:`torch.autocast` in that dtype, which trades accuracy for speed on
        GPUs and on CPUs with bf16 matrix units; losses and errors are still
        accumulated in float64 from float32 outputs. On CPUs with bf16 matrix units
        ``"bfloat16"`` evaluates a ResNet-20 5-6× faster than a float32 loop. What it
        costs, measured (``python -m benchmarks.precision``, README "Precision"):
        LeNet-300-100 losses move by under 10⁻³ of their value and its barriers by
        0.07%; a ResNet-20 with batch norm's by up to 1.6·10⁻² where the loss is high
        (mid-line between two solutions) and its barriers by 0.2-0.3% (0.005-0.007 on
        barriers of 2-3), in both ``bn`` modes; zero barriers stayed zero. Keep
        ``"float32"`` (the default) where differences of that size matter, e.g. to
        tell a barrier of 0.01 from none. Recorded in the ``hyperparameters``
        attribute.
    per_example : bool
        Also return the loss of every example at every point, as the variable
        ``loss_per_example`` with an extra ``example`` dimension (for bootstrap
        intervals over the examples, :func:`landscapes.refine.bootstrap_barrier`).
        Needs a loss that says how it reduces (a ``torch.nn`` loss module, or
        :func:`torch.nn.functional.cross_entropy`). With a dict of splits the variable
        has a ``split`` dimension too, and a split shorter than the longest is padded
        with NaN.
    progress : bool, optional
        None: a bar when stderr is a terminal, else a line on stderr every tenth of
        the work or minute; True: a bar; False: nothing (:class:`landscapes.progress.Progress`).
    analysis, system : str, optional
        Labels stored in the dataset; default the path kind and the model class.

    Returns
    -------
    xarray.Dataset
        In the :mod:`landscapes.results` schema: ``loss``, ``error`` (and ``divergence``,
        ``disagreement`` and user metrics) over the path's dimensions (and ``split``), with the
        ``distance`` coordinate (over the anchors' entries, as
        :meth:`landscapes.paths.Path.distance`: a tied tensor, which ``state_dict``
        lists under each name, counts once per name). Non-finite losses are recorded
        as inf/NaN.

    Notes
    -----
    The model's dtypes decide the precision, so that results equal a plain loop over
    ``model.load_state_dict`` at each point:

    - floating-point anchor and reference entries are cast to the dtype of the
      model's entry (``load_state_dict`` does the same): float64 anchors on a float32
      model evaluate in float32;
    - floating-point inputs are cast to the dtype all the model's floating-point
      parameters share (left as they are if the parameters mix dtypes); integer
      inputs, such as token ids, are left as they are;
    - targets reach ``loss_fn`` as given.

    To evaluate in float64, convert the model (``model.double()``); nothing is ever
    rounded to a lower precision than the model's own.

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

    A model that returns a dict, read by key (an int reads a tuple, a callable anything):

    >>> class Classifier(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.head = torch.nn.Linear(4, 3)
    ...     def forward(self, x):
    ...         return {"logits": self.head(x), "features": x}
    >>> model = Classifier()
    >>> line = paths.linear(model, {k: 2 * v for k, v in model.state_dict().items()}, [0.0, 1.0])
    >>> ds = evaluate(model, line, (x, y), output="logits", device="cpu")
    >>> ds.loss.shape, ds.attrs["hyperparameters"].count('"output": "logits"')
    ((2,), 1)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(path, Path):
        raise TypeError(
            f"path must be a landscapes.paths.Path (from paths.linear, paths.plane...), "
            f"got {type(path).__name__}"
        )
    _check_model_keys(model, path.anchors[0], "path")
    loss_fn = check_loss_fn(loss_fn)
    if isinstance(error, str) and error != "auto":
        raise ValueError(f"unknown error {error!r}; choose from ['auto', a callable, None]")
    if error is not None and not isinstance(error, str):
        _check_callable("error", error)
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"metric names must be identifiers, got {name!r}")
        if name in ("loss", "error", "divergence", "disagreement"):
            raise ValueError(f"metric name {name!r} is reserved; choose another")
        _check_callable(f"metrics[{name!r}]", fn)
    point_measures = check_measures(list(measures) if isinstance(measures, tuple) else measures,
                                    allow_empty=True)
    check_output(output)
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; choose from {list(DIVERGENCES)}")
    ref: Anchor | None = None
    if reference is not None:
        ref = as_anchor(reference, "reference")
        _check_model_keys(model, ref, "reference")
    tied = tied_groups(model)
    anchors = [merge_tied(a, tied, f"anchor {n!r}") for a, n in zip(path.anchors, path.names)]
    if ref is not None:
        ref = merge_tied(ref, tied, "reference")
    dev = resolve_device(device)
    if bn not in BN_MODES:
        raise ValueError(f"unknown bn {bn!r}; choose from {list(BN_MODES)}")
    if isinstance(bn_batches, bool) or not isinstance(bn_batches, int) or bn_batches < 1:
        raise ValueError(f"bn_batches must be a positive integer, got {bn_batches!r}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")

    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 1):
        raise ValueError(f"memory must be a positive number of bytes or None, got {memory!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {list(PRECISIONS)}")

    per_example_fn = None
    if per_example:
        per_example_fn = per_example_loss(loss_fn)
        if per_example_fn is None:
            raise ValueError(
                f"per_example=True needs a loss that says how it reduces (a torch.nn loss "
                f"module such as nn.CrossEntropyLoss()), got {_describe(loss_fn)!r}"
            )
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

    measured = Measures(loss_fn, error, metrics, ref, divergence, output, per_example_fn)
    settings = Settings(dev, bn_batches, chunk_size, memory, PRECISIONS[precision], progress)
    values = sweep(model, path, anchors, splits, measured, bn_source, settings)

    names = measured.names
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
        **({"output": label(output)} if output is not None else {}),
        "batch_size": batch_size,
        "bn": bn if with_bn else "none",
        "precision": precision,
    }
    if recompute:
        hyper["bn_batches"] = bn_batches
    if ref is not None:
        hyper["divergence"] = divergence
    seeds = {"directions": path.info["seed"]} if "seed" in path.info else {}
    ds = results.slice_dataset(
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
    if per_example:
        each = [values[s][EXAMPLE_LOSS] for s in splits]
        # Splits of different sizes share one ``example`` axis, the shorter ones padded
        # with NaN (an example that is not there, at every point).
        n = max(e.shape[-1] for e in each)
        padded = [np.pad(e, [(0, 0)] * (e.ndim - 1) + [(0, n - e.shape[-1])],
                         constant_values=np.nan) for e in each]
        ds[EXAMPLE_LOSS] = (dims + ("example",), np.stack(padded) if keyed else padded[0])
        ds[EXAMPLE_LOSS].attrs["long_name"] = "loss of each example (NaN: past a split's end)"
    if point_measures:
        found, extra = sweep_points(
            model, path, anchors, splits, keyed, point_measures,
            PointSettings(loss_fn, output, bn, bn_batches, dev, None, progress), bn_source,
            reserved=set(map(str, ds.data_vars)),
        )
        ds = merged(ds, found, extra, point_measures)
    return ds
