"""The engine's data pass: every point of a path over every batch of every split.

The loop runs over data batches outermost: each batch is moved to the device once,
the anchors' first-layer outputs are computed once from it, and then every chunk of
points is evaluated on it. The first-layer cost is thus per batch, not per batch and
chunk, and chunks can be as small as the caches favour.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from landscapes.engine.runners import Batched, Chunk, Looped, Runner, points, stack_anchors
from landscapes.engine.first_layer import Reuse, find
from landscapes.engine.fusion import FusedConv, fuse, onednn_active
from landscapes.engine.glibc_heap import MMAP_CEILING, kept
from landscapes.engine.measures import Measures, compare_form, example_losses, widened
from landscapes.engine.session import Session, current as current_session, tensor_bytes, version
from landscapes.anchors import Anchor
from landscapes.engine.batches import Batches
from landscapes.engine.batchnorm import (
    eval_mode,
    has_batchnorm,
    recompute_statistics,
    recompute_statistics_stacked,
)
from landscapes.engine.memory import default_budget, plan
from landscapes.engine.outputs import reader
from landscapes.paths import Path
from landscapes.progress import Progress

__all__ = ["Settings", "sweep"]

logger = logging.getLogger("landscapes.engine")

#: Examples the engine probes a model with before choosing how to run it.
PROBE_EXAMPLES = 8
#: The key of the per-example losses in :func:`sweep`'s output.
EXAMPLE_LOSS = "loss_per_example"


@dataclass(frozen=True)
class Settings:
    """How to run, already validated."""

    device: torch.device
    bn_batches: int
    chunk_size: int | None
    memory: int | None
    autocast: torch.dtype | None
    progress: bool | None

    def autocast_context(self) -> contextlib.AbstractContextManager[Any]:
        """Reduced-precision forward passes, when asked for."""
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast)


def _on_device(model: nn.Module, dev: torch.device) -> nn.Module:
    # Entries the path does not cover are read from the module, so they must live on
    # the evaluation device; one copy per call, never per point.
    tensors = list(model.parameters()) + list(model.buffers())
    if all(t.device == dev for t in tensors):
        return model
    return copy.deepcopy(model).to(dev)


def _input_dtype(net: nn.Module) -> torch.dtype | None:
    """The floating-point dtype that inputs are cast to: the one all of the model's
    floating-point parameters share (``None``, inputs as given, when they differ)."""
    kinds = {p.dtype for p in net.parameters() if p.is_floating_point()}
    return kinds.pop() if len(kinds) == 1 else None


def _to(x: torch.Tensor, dev: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """Inputs on the device; floating-point ones in the model's dtype (token ids and
    other integer inputs as they are)."""
    if dtype is not None and x.is_floating_point() and x.dtype != dtype:
        return x.to(dev, dtype, non_blocking=True)
    return x.to(dev, non_blocking=True)


def _matches(got: torch.Tensor, expected: torch.Tensor) -> bool:
    finite = expected[torch.isfinite(expected)]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    return bool(
        got.shape == expected.shape
        and torch.allclose(got, expected, rtol=1e-3, atol=1e-3 * scale, equal_nan=True)
    )


#: Activations alive at once, in units of the largest layer output: a layer's input,
#: its output, and a residual branch.
ALIVE = 3


def _largest_output(net: nn.Module, probe: Chunk, x: torch.Tensor) -> tuple[list[Any], int]:
    """Per-point outputs on the probe, as the model returns them, and the bytes of the
    largest layer output that one example allocates at one point."""
    largest = 0

    def measure(module: nn.Module, args: Any, out: Any) -> None:
        nonlocal largest
        # A view of the layer's input (a flatten, a reshape) allocates nothing.
        inputs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor)}
        if isinstance(out, torch.Tensor) and out.untyped_storage().data_ptr() not in inputs:
            largest = max(largest, out.numel() * out.element_size())

    leaves = [m for m in net.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(measure) for m in leaves]
    try:
        with eval_mode(net), torch.no_grad():
            returned = [
                functional_call(net, probe.point(i), (x,), strict=False) for i in range(len(probe))
            ]
    finally:
        for h in handles:
            h.remove()
    n = x.shape[0] if x.dim() else 1
    return returned, -(-largest // max(n, 1))


def _choose(
    net: nn.Module, anchors: list[Anchor], probe: Chunk, x: torch.Tensor, output: Any, given: bool
) -> tuple[Runner, int]:
    """How to run this model, and the bytes of its largest layer output per example.

    Runs the per-point forward pass on a few examples at the first points, then the
    batched one with and without first-layer reuse, and keeps the fastest that agrees.
    ``given``: some measure is the user's own and receives what the model returns;
    where that is not a tensor the runner hands it over (:attr:`Batched.raw`).
    """
    returned, largest = _largest_output(net, probe, x)
    raw = given and not all(isinstance(o, torch.Tensor) for o in returned)
    if raw and output is None:
        # No tensor to check the batched runners against: the plain loop, as returned.
        logger.debug("evaluating point by point: the user's measures receive the model's own "
                     "output, and no output= names a tensor to check a batched pass against")
        runner = Looped(net, None, None)
        runner.raw = True
        return runner, largest
    read = reader(output)  # raises one clear error where the choice does not fit
    expected = [read(out) for out in returned]
    # A model that returns the tensor itself needs no reading on the hot path.
    runner = _fastest(net, anchors, probe, x, expected, None if output is None else read)
    _prefer_channels_last(net, runner, anchors, probe, x, expected)
    _prefer_fused(net, runner, anchors, probe, x, expected)
    if raw:
        runner = _as_returned(runner, probe, x, anchors, expected, read)
    return runner, largest


def _as_returned(
    runner: Runner, probe: Chunk, x: torch.Tensor, anchors: list[Anchor], expected: list[torch.Tensor],
    read: Callable[[Any], torch.Tensor],
) -> Runner:
    """``runner`` handing over what the model returns, if its tensors still agree
    under vmap (a string or ``None`` among them stops vmap), else the same as a loop."""
    runner.read, runner.raw = None, True
    lean = replace(probe, params={k: v for k, v in probe.params.items() if k not in runner.skipped})
    placed = runner.place(x)
    try:
        with runner.installed(), eval_mode(runner.net), torch.no_grad():
            got = points(runner.forward(lean, placed, runner.prepare(placed, range(len(anchors)))))
        ok = len(got) == len(expected) and all(_matches(read(g), e) for g, e in zip(got, expected))
    except Exception as exc:  # noqa: BLE001 -- whatever vmap cannot return, the loop can
        logger.debug("points one after another: the model's own output failed with %r", exc)
        ok = False
    if ok or isinstance(runner, Looped):
        return runner
    looped = Looped(runner.net, runner.reuse, None)
    looped.raw, looped.fused, looped.channels_last = True, runner.fused, runner.channels_last
    return looped


def _probe_outputs(runner: Runner, probe: Chunk, x: torch.Tensor, anchors: list[Anchor]) -> torch.Tensor:
    """The runner's outputs at the probe's points, stacked."""
    lean = replace(probe, params={k: v for k, v in probe.params.items() if k not in runner.skipped})
    with runner.installed(), eval_mode(runner.net), torch.no_grad():
        got = runner.forward(lean, x, runner.prepare(x, range(len(anchors))))
    return torch.stack(got) if isinstance(got, list) else got


def _prefer_channels_last(
    net: nn.Module, runner: Runner, anchors: list[Anchor], probe: Chunk, x: torch.Tensor, expected: list[Any]
) -> None:
    """Give a CPU conv net its images channels-last if its outputs stay the same.

    oneDNN's convolutions run 13-36% faster on channels-last input (ResNet-20, 2
    cores); a model that ``.view``-s a feature map cannot take it, hence the check.
    """
    if (
        x.device.type != "cpu"
        or x.dim() != 4
        or not any(isinstance(m, nn.Conv2d) for m in net.modules())
        or not all(isinstance(e, torch.Tensor) for e in expected)
    ):
        return
    try:
        got = _probe_outputs(runner, probe, x.contiguous(memory_format=torch.channels_last), anchors)
    except Exception as exc:  # noqa: BLE001 -- a layout is an optimisation; never fail for it
        logger.debug("images stay channels-first: channels-last failed with %r", exc)
        return
    if not _matches(got, torch.stack(expected)):
        logger.debug("images stay channels-first: channels-last changes the outputs")
        return
    logger.debug("images go channels-last")
    runner.channels_last = True


def _prefer_fused(
    net: nn.Module, runner: Runner, anchors: list[Anchor], probe: Chunk, x: torch.Tensor, expected: list[Any]
) -> None:
    """Fold batch norm into the convolutions before it for evaluation passes, if the
    outputs stay the same (:mod:`landscapes.engine.fusion`).

    On CPU, where conv nets run point by point, oneDNN also applies the ReLU and
    residual addition after a convolution inside it.
    """
    if not has_batchnorm(net) or not all(isinstance(e, torch.Tensor) for e in expected):
        return
    onednn = x.device.type == "cpu" and isinstance(runner, Looped)
    fused, what = fuse(net, onednn=onednn)
    if fused is None:
        logger.debug("batch norm stays separate: %s", what)
        return
    reuse = runner.reuse
    if reuse is None or any(
        isinstance(m, FusedConv) and m.conv is reuse.layer for m in fused.modules()
    ):
        # A first layer folded with its batch norm (and activation) costs about what
        # combining the anchors' outputs costs, and saves the passes after it. (A first
        # layer that was not folded starts no chain: reuse and the fused model coexist.)
        runner.reuse = None
    runner.fused = fused
    try:
        got = _probe_outputs(runner, probe, runner.place(x), anchors)
    except Exception as exc:  # noqa: BLE001 -- fusion is an optimisation; never fail for it
        logger.debug("batch norm stays separate: the fused model failed with %r", exc)
        got = None
    if got is not None and not _matches(got, torch.stack(expected)):
        logger.debug("batch norm stays separate: folding it changes the outputs")
        got = None
    if got is None:
        runner.fused, runner.reuse = None, reuse
        return
    if reuse is not None and runner.reuse is None:
        logger.debug("first-layer reuse off: its layer is folded with batch norm")
    logger.debug("batch norm folded: %s", what)


class _Placed:
    """Batches with their inputs on the device, in the model's dtype and the runner's
    layout; iterable more than once."""

    def __init__(self, batches: Batches, runner: Runner, dev: torch.device, dtype: torch.dtype | None) -> None:
        self.batches, self.runner, self.dev, self.dtype = batches, runner, dev, dtype

    def __iter__(self) -> Any:
        return ((self.runner.place(_to(x, self.dev, self.dtype)), y) for x, y in self.batches)


def _fastest(
    net: nn.Module,
    anchors: list[Anchor],
    probe: Chunk,
    x: torch.Tensor,
    expected: list[torch.Tensor],
    read: Callable[[Any], torch.Tensor] | None,
) -> Runner:
    if not all(e.is_floating_point() for e in expected):
        logger.debug("evaluating point by point: the model's outputs are not a floating-point tensor")
        return Looped(net, None, read)
    wanted = torch.stack(expected)
    try:
        got = _probe_outputs(Batched(net, None, read), probe, x, anchors)
    except Exception as exc:  # noqa: BLE001 -- whatever vmap cannot run, the loop can
        logger.debug("evaluating point by point: torch.vmap failed with %r", exc)
        return Looped(net, None, read)
    if not _matches(got, wanted):
        logger.debug("evaluating point by point: the vmapped outputs differ from the plain ones")
        return Looped(net, None, read)
    name, why = find(net, anchors, x)
    # vmap runs a convolution at stacked weights as one grouped convolution, which CPU
    # kernels run several times slower than one convolution per point.
    kind = Looped if x.device.type == "cpu" and _later_convolutions(net, name) else Batched
    if kind is Looped:
        logger.debug("points one after another: vmap would run the convolutions grouped")
    if name is None:
        logger.debug("first-layer reuse off: %s", why)
        return kind(net, None, read)
    reuse = kind(net, Reuse(net, name, anchors), read)
    try:
        got = _probe_outputs(reuse, probe, x, anchors)
    except Exception as exc:  # noqa: BLE001 -- reuse is an optimisation; never fail for it
        logger.debug("first-layer reuse off: it failed with %r", exc)
        return kind(net, None, read)
    if not _matches(got, wanted):
        logger.debug("first-layer reuse off: its outputs differ from the plain ones")
        return kind(net, None, read)
    logger.debug("first-layer reuse on at %r", name)
    return reuse


def _later_convolutions(net: nn.Module, first: str | None) -> bool:
    """Whether ``net`` has convolutions other than its first layer ``first``."""
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    return any(isinstance(m, convs) and name != first for name, m in net.named_modules())


def _point_bytes(stacked: dict[str, torch.Tensor], skip: list[str]) -> int:
    return sum(v[0].numel() * v.element_size() for k, v in stacked.items() if k not in skip)


class _Chunks:
    """The path's points in chunks, kept when they fit in memory, else rebuilt on use."""

    def __init__(
        self,
        stacked: dict[str, torch.Tensor],
        fixed: Anchor,
        coefficients: np.ndarray,
        size: int,
        skip: list[str],
        keep: bool,
    ) -> None:
        self.stacked, self.fixed = stacked, fixed
        self.coefficients = coefficients
        self.starts = list(range(0, coefficients.shape[0], size))
        self.size = size
        self.skip = skip
        self.kept: list[Chunk] | None = [self.build(s) for s in self.starts] if keep else None
        #: Anchors with a nonzero coefficient somewhere: the others add nothing.
        self.active = [int(k) for k in np.flatnonzero(np.any(self.coefficients != 0, axis=0))]

    def build(self, start: int, skip: list[str] | tuple[()] | None = None) -> Chunk:
        rows = self.coefficients[start : start + self.size]
        return Chunk.build(self.stacked, self.fixed, rows, self.skip if skip is None else skip)

    def __iter__(self) -> Any:
        return iter(self.kept) if self.kept is not None else (self.build(s) for s in self.starts)


def _singles(chunks: list[Chunk]) -> list[Chunk]:
    """Every point as a chunk of its own (views, no copies)."""
    return [
        Chunk({k: v[i : i + 1] for k, v in c.params.items()}, c.shared, c.coef[i : i + 1])
        for c in chunks
        for i in range(len(c))
    ]


def _regroup(singles: list[Chunk], like: list[Chunk]) -> list[Chunk]:
    """Single-point chunks stacked back into chunks the sizes of ``like``'s."""
    out, start = [], 0
    for c in like:
        part = singles[start : start + len(c)]
        start += len(c)
        params = {k: torch.cat([p.params[k] for p in part]) for k in part[0].params}
        out.append(Chunk(params, part[0].shared, c.coef))
    return out


def _recompute(
    net: nn.Module, runner: Runner, chunks: _Chunks, source: Batches, settings: Settings,
    dtype: torch.dtype | None,
) -> list[Chunk]:
    """Every chunk with its points' batch norm statistics re-estimated, in one pass
    over the batches, with the forward passes in the asked precision."""
    dev, n = settings.device, settings.bn_batches
    todo = list(chunks)
    placed = _Placed(source, runner, dev, dtype)
    # A chunk's points share the batch counters that set the averaging weights: one
    # update per batch under vmap, but one per point and batch in a loop, so the
    # loop gives every point a chunk (and counters) of its own.
    looped = isinstance(runner, Looped)
    groups = _singles(todo) if looped else todo

    def run(states: list[tuple[dict, dict]], x: torch.Tensor) -> None:
        with settings.autocast_context():
            prepared = runner.prepare(x, chunks.active)
            for chunk, (params, counters) in zip(groups, states):
                shared = {**chunk.shared, **counters}
                runner.forward(replace(chunk, params=params, shared=shared), x, prepared, fused=False)

    try:
        states = recompute_statistics_stacked(
            net, [(c.params, len(c)) for c in groups], placed, n, dev, run
        )
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 -- e.g. a training mode vmap cannot run
        logger.debug("batch norm statistics point by point: the batched pass failed with %r", exc)
    else:
        done = [replace(c, params=p, shared={**c.shared, **k}) for c, (p, k) in zip(groups, states)]
        return _regroup(done, todo) if looped else done
    out = []
    for start in chunks.starts:
        # Whole points: the statistics pass runs the first layer itself.
        chunk = chunks.build(start, skip=())
        with settings.autocast_context():
            points = [recompute_statistics(net, chunk.point(i), placed, n, dev) for i in range(len(chunk))]
        out.append(Chunk.from_points(points, chunk.coef))
    return out


def _on(anchor: Anchor, dev: torch.device, dtypes: dict[str, torch.dtype]) -> Anchor:
    """``anchor`` on the device, floating-point entries in the dtype of the model's."""
    return {
        k: v.to(dev, dtypes[k]) if v.is_floating_point() and k in dtypes else v.to(dev)
        for k, v in anchor.items()
    }


def sweep(
    model: nn.Module,
    path: Path,
    anchors: Sequence[Anchor],
    splits: dict[str, Batches],
    measures: Measures,
    bn_source: Batches | None,
    settings: Settings,
) -> dict[str, dict[str, np.ndarray]]:
    """Every measure at every point, per split, shaped like the path's grid.

    ``anchors`` are the path's, each tied tensor once (:func:`landscapes.engine.tied.merge_tied`).
    """
    dev = settings.device
    cache = _Cache(current_session())
    model_key = (id(model), version(model), str(dev))
    net = cache.get(("model", *model_key), lambda: _on_device(model, dev), (model,))
    # The model's dtypes rule: its state_dict's for the anchors, its parameters' for inputs.
    dtypes = {k: v.dtype for k, v in net.state_dict().items() if v.is_floating_point()}
    dtype = _input_dtype(net)
    # ``anchors`` derive from the path's own (tied entries merged), so those name them.
    anchors_key = (tuple(id(a) for a in path.anchors),)
    anchors, stacked, fixed = cache.get(
        ("anchors", *model_key, *anchors_key), lambda: _stacked_on(anchors, dev, dtypes), (path.anchors,)
    )
    ref = measures.reference
    if ref is not None:
        measures = replace(measures, reference=_on(ref, dev, dtypes))
    read = reader(measures.output)
    first, _ = next(iter(next(iter(splits.values()))))
    x0 = _to(first[:PROBE_EXAMPLES], dev, dtype)
    probe = Chunk.build(stacked, fixed, path.coefficients[:2])
    output, given = measures.output, measures.given_output
    signature = (tuple(x0.shape[1:]), x0.dtype, output if isinstance(output, (str, int)) else id(output), given)
    runner, largest = cache.get(
        ("runner", *model_key, *anchors_key, signature),
        lambda: _choose(net, anchors, probe, x0, output, given),
        (output,),
    )
    if runner.raw:
        measures = replace(measures, read=_tensor_of(output))
        if output is None and measures.error == "auto":
            warnings.warn(
                "error='auto' is NaN: the model returns no tensor to read it from; pass "
                "output= (e.g. output='logits') for the top-1 error, or error=None",
                stacklevel=3,
            )
    example_bytes = ALIVE * largest

    budget = settings.memory or default_budget(dev)
    shared_bytes = x0[:1].numel() * x0.element_size()
    if runner.skipped:  # the anchors' first-layer outputs
        shared_bytes += len(anchors) * largest
    batch = max(b.batch_size for b in splits.values())
    point_bytes = _point_bytes(stacked, runner.skipped)
    size, examples = plan(budget, len(path), batch, point_bytes, example_bytes, shared_bytes)
    if dev.type == "cpu":
        # A tensor above glibc's mmap threshold is mapped afresh, and faulted page by
        # page, on every allocation: keep each layer's output for the chunk below it.
        size = max(1, min(size, MMAP_CEILING // max(examples * largest, 1)))
    size = settings.chunk_size or size
    # Rebuilding the points per batch costs little next to running them; keeping them
    # costs memory, which batch norm recompute needs anyway for the statistics.
    keep = len(path) * point_bytes <= budget // 2 or bn_source is not None
    chunks = _Chunks(stacked, fixed, path.coefficients, size, runner.skipped, keep)
    logger.debug("%d points per chunk, at most %d examples per forward pass", size, examples)

    names = measures.names
    # Whole batches, counted as integers; unknown when a split's length is.
    known = all(b.has_len() for b in splits.values())
    total = sum(len(b) for b in splits.values()) if known else None
    bar = Progress(total, f"evaluate {len(path)} points", unit="batch", show=settings.progress)
    out: dict[str, dict[str, np.ndarray]] = {}
    failed = True
    try:
        with runner.installed(), kept() if dev.type == "cpu" else contextlib.nullcontext():
            todo: Any = chunks
            if bn_source is not None:
                todo = _recompute(net, runner, chunks, bn_source, settings, dtype)
            for split, batches in splits.items():
                values, each = _run_split(
                    net, runner, todo, chunks.active, _Placed(batches, runner, dev, dtype), read,
                    batches, measures, settings, examples, bar, cache,
                )
                if ref is not None:
                    values[:, -1] = np.sqrt(values[:, -1])
                out[split] = {n: values[:, i].reshape(path.shape) for i, n in enumerate(names)}
                if each is not None:
                    out[split][EXAMPLE_LOSS] = each.reshape(*path.shape, -1)
        failed = False
    finally:
        bar.close(failed=failed)
    return out


def _tensor_of(output: Any) -> Callable[[Any], torch.Tensor | None]:
    """What torch's own measures read from the model's output: the ``output=``
    choice, or, without one, the output if it is a tensor (else ``None``)."""
    if output is None:
        return lambda out: out if isinstance(out, torch.Tensor) else None
    return reader(output)


def _pieces(x: torch.Tensor, y: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if y.dim() == 0 or y.shape[0] <= size:
        return [(x, y)]
    return [(x[s : s + size], y[s : s + size]) for s in range(0, y.shape[0], size)]


def _run_split(
    net: nn.Module,
    runner: Runner,
    chunks: Any,
    active: list[int],
    placed: _Placed,
    read: Callable[[Any], torch.Tensor],
    batches: Batches,
    m: Measures,
    settings: Settings,
    examples: int,
    bar: Progress,
    cache: _Cache,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Means over one split of every measure at every point, shape ``(points,
    measures)``, and the loss of every example at every point, shape ``(points,
    examples)``, when ``m.per_example`` asks for it (else ``None``)."""
    dev = settings.device
    sums: torch.Tensor | None = None
    each: list[torch.Tensor] = []
    n_seen = 0
    # The anchors' first-layer outputs depend on the batch, not on the points.
    data_key = batches.key if runner.reuse is not None else None
    with eval_mode(net), torch.no_grad():
        for index, (x, y) in enumerate(placed):
            y = y.to(dev, non_blocking=True)
            # oneDNN's fused ReLU (CPU, bfloat16) would read a NaN input as 0
            # (landscapes.engine.fusion); only where it runs is the batch checked.
            with settings.autocast_context():
                onednn = runner.fused is not None and onednn_active(runner.fused, x)
            fused = not onednn or bool(torch.isfinite(x).all())
            for start, (xs, ys) in zip(range(0, len(y) if y.dim() else 1, examples), _pieces(x, y, examples)):
                with settings.autocast_context():
                    ref_out = None
                    if m.reference is not None:
                        plain = read(functional_call(net, m.reference, (xs,), strict=False))
                        ref_out = compare_form(widened(plain), m.divergence)
                    make = partial(runner.prepare, xs, active)
                    if data_key is None:
                        prepared = make()
                    else:
                        key = ("prepared", id(runner), data_key, index, start, settings.autocast, tuple(active))
                        prepared = cache.get(key, make, (runner, *batches.sources), tensor_bytes)
                rows, losses = [], []
                for chunk in chunks:
                    with settings.autocast_context():
                        outputs = runner.forward(chunk, xs, prepared, fused)
                    rows.append(runner.rows(m, outputs, ys, ref_out))
                    if m.per_example is not None:
                        losses.append(torch.stack([example_losses(m, o, ys) for o in points(outputs)]))
                sums = torch.cat(rows) if sums is None else sums.add_(torch.cat(rows))
                if losses:
                    each.append(torch.cat(losses))
                n_seen += ys.shape[0] if ys.dim() else 1
            bar.advance()
    if sums is None or n_seen == 0:
        raise ValueError(f"data {batches.name!r} has no examples")
    return sums.cpu().numpy() / n_seen, torch.cat(each, dim=1).cpu().numpy() if each else None


class _Cache:
    """The enclosing :func:`landscapes.engine.session`'s store, or none (make every time)."""

    def __init__(self, store: Session | None) -> None:
        self.store = store

    def get(self, key: tuple, make: Any, keep: Any = (), size: Any = None) -> Any:
        return make() if self.store is None else self.store.get(key, make, keep, size)


def _stacked_on(
    anchors: Sequence[Anchor], dev: torch.device, dtypes: dict[str, torch.dtype]
) -> tuple[list[Anchor], dict[str, torch.Tensor], Anchor]:
    """The anchors on the device in the model's dtypes, and their entries stacked
    (:func:`stack_anchors`)."""
    on = [_on(a, dev, dtypes) for a in anchors]
    return (on, *stack_anchors(on))
