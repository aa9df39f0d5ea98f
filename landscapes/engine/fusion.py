"""Convolution, batch norm and activation as one operation, for evaluation passes.

Batch norm in eval mode is an affine map per channel, y = γ·(z − μ)/√(σ² + ε) + β,
so after a convolution z = W ⋆ u + b it folds into the convolution's weights:
with s = γ/√(σ² + ε), y = (s·W) ⋆ u + s·(b − μ) + β. The folded convolution is the
same function, exact up to rounding, at every point of a path, because the fold is
computed per point from that point's W, b, γ, β, μ and σ² (the interpolated running
statistics for ``bn="interpolate"``, the re-estimated ones after ``bn="recompute"``).
It saves the batch norm's pass over the layer's output; a residual addition and a
ReLU after it then run in place.

Under bfloat16 autocast on CPU, oneDNN applies the ReLU (and the residual addition
before it) inside the convolution (``torch.ops.mkldnn._convolution_pointwise``),
which halves the time of the narrow layers of a CIFAR ResNet: there the separate
element-wise passes cost as much as the convolution. oneDNN's ReLU maps NaN to 0
where PyTorch's keeps it, so the engine runs unfused any point with a non-finite
parameter or a negative running variance (:func:`finite_points`) and any data batch
with a non-finite input: only activations that overflow to ±∞ inside the network
(beyond 3·10³⁸) could then read differently. float32 and float64 never use it.

:func:`fuse` finds these patterns with :mod:`torch.fx` and returns a module with the
same parameter and buffer names as the model, so :func:`torch.func.functional_call`
runs it at any point; models FX cannot trace are left as they are.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm

from landscapes.engine.batchnorm import eval_mode

__all__ = ["FusedConv", "fuse", "finite_points", "onednn_active"]

logger = logging.getLogger("landscapes.engine")

#: Convolutions whose output is linear in (weight, bias), so that batch norm folds in.
FOLDABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RELUS: tuple[Callable[..., Any], ...] = (nn.functional.relu, torch.relu)
_ADDS: tuple[Callable[..., Any], ...] = (operator.add, torch.add)
#: oneDNN's convolution with fused element-wise operations, where this build has it.
_POINTWISE = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)


def _onednn_available() -> bool:
    try:
        return _POINTWISE is not None and torch.backends.mkldnn.is_available()
    except Exception:  # noqa: BLE001 -- an optional kernel; never fail for it
        return False


class FusedConv(nn.Module):
    """A convolution with the batch norm after it folded in, then optionally a
    residual addition and a ReLU.

    The parts stay the model's own modules (not registered here, so the parameter
    names do not change): :func:`torch.func.functional_call` swaps their tensors for
    a point's, and every call folds those.
    """

    def __init__(self, conv: nn.Module, bn: _BatchNorm, add: bool, relu: bool, onednn: bool) -> None:
        super().__init__()
        # Plain attributes: registering them would rename their parameters.
        self.__dict__["conv"] = conv
        self.__dict__["bn"] = bn
        self.add, self.relu = add, relu
        self.onednn = (
            onednn
            and relu
            and isinstance(conv, nn.Conv2d)
            and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str)
        )

    def extra_repr(self) -> str:
        return f"add={self.add}, relu={self.relu}, onednn={self.onednn}"

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The folded weight s·W and bias s·(b − μ) + β of the current tensors."""
        conv, bn = self.conv, self.bn
        var, mean = bn.running_var, bn.running_mean
        scale = torch.rsqrt(var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -mean * scale if conv.bias is None else (conv.bias - mean) * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        weight = conv.weight * scale.reshape((-1,) + (1,) * (conv.weight.dim() - 1)).to(conv.weight.dtype)
        return weight, shift.to(conv.weight.dtype)

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = self.folded()
        dtype = _onednn_dtype(x) if self.onednn else None
        if dtype is not None:
            out = self._onednn(x, weight, bias, other, dtype)
            if out is not None:
                return out
        y = self.conv._conv_forward(x, weight, bias)
        # y is new, so it can take the addition and the ReLU in place; for float32
        # that saves a pass, for bfloat16 (channels-last) the in-place kernels are slower.
        in_place = y.dtype in (torch.float32, torch.float64)
        if other is not None:
            fits = torch.result_type(y, other) == y.dtype and torch.broadcast_shapes(y.shape, other.shape) == y.shape
            y = y.add_(other) if in_place and fits else y + other
        if not self.relu:
            return y
        return y.relu_() if in_place else torch.relu(y)

    def _onednn(
        self,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        other: torch.Tensor | None,
        dtype: torch.dtype,
    ) -> torch.Tensor | None:
        """oneDNN's fused kernel in bfloat16; ``None`` where it does not apply (then
        the caller runs the separate operations)."""
        if not (bool(torch.isfinite(weight).all()) and bool(torch.isfinite(bias).all())):
            return None  # its ReLU would turn the NaN these give into 0
        conv = self.conv
        args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        if other is not None and (other.dtype != dtype or tuple(other.shape) != _conv_shape(x, conv)):
            return None  # y + other would widen y, or broadcast
        x, weight, bias = x.to(dtype), weight.to(dtype), bias.to(dtype)
        try:
            if other is None:
                return _POINTWISE(x, weight, bias, *args, "relu", [], "")  # type: ignore[misc]
            return _POINTWISE.binary(x, other, weight, bias, *args, "add", None, "relu", [], "")  # type: ignore[union-attr]
        except RuntimeError as exc:  # an internal kernel: fall back for good
            logger.debug("oneDNN fused convolution off: %r", exc)
            self.onednn = False
            return None


def onednn_active(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module`` (from :func:`fuse`) would run oneDNN's fused ReLU on ``x`` now."""
    return _onednn_dtype(x) is not None and any(isinstance(m, FusedConv) and m.onednn for m in module.modules())


def finite_points(params: dict[str, torch.Tensor]) -> list[bool]:
    """Per point (the leading dimension of every entry), whether all its floating-point
    entries are finite and its running variances non-negative: then no parameter
    puts a NaN into the activations.

    Examples
    --------
    >>> import torch
    >>> finite_points({"bn.running_var": torch.tensor([[1.0], [-1.0]]), "w": torch.zeros(2, 3)})
    [True, False]
    """
    ok: torch.Tensor | None = None
    for key, v in params.items():
        if not v.is_floating_point():
            continue
        flat = v.reshape(v.shape[0], -1)
        good = torch.isfinite(flat).all(dim=1)
        if key.endswith("running_var"):
            good &= (flat >= 0).all(dim=1)
        ok = good if ok is None else ok & good
    return [] if ok is None else ok.tolist()


#: The dtypes oneDNN's fused kernels run in.
ONEDNN_DTYPES = (torch.bfloat16,)


def _onednn_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The dtype the convolution would run in, where oneDNN's fused kernel may run it."""
    # oneDNN's bf16 kernels assert on channels-first input: channels-last only.
    if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous(memory_format=torch.channels_last):
        return None
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    return dtype if dtype in ONEDNN_DTYPES else None


def _conv_shape(x: torch.Tensor, conv: nn.Conv2d) -> tuple[int, ...]:
    size = []
    for n, k, s, p, d in zip(x.shape[2:], conv.kernel_size, conv.stride, conv.padding, conv.dilation):  # type: ignore[arg-type]
        size.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    return (x.shape[0], conv.out_channels, *size)


def _single_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _is_relu(node: fx.Node | None, modules: dict[str, nn.Module], value: fx.Node) -> bool:
    if node is None or not node.args or node.args[0] is not value or len(node.args) != 1:
        return False
    if node.op == "call_function" and node.target in _RELUS:
        return set(node.kwargs) <= {"inplace"}
    if node.op == "call_method" and node.target in ("relu", "relu_"):
        return not node.kwargs
    return node.op == "call_module" and type(modules.get(str(node.target))) is nn.ReLU and not node.kwargs


def _is_add(node: fx.Node | None, value: fx.Node) -> bool:
    return (
        node is not None
        and node.op == "call_function"
        and node.target in _ADDS
        and len(node.args) == 2
        and not node.kwargs
        and value in node.args
        and node.args[0] is not node.args[1]
        and isinstance(node.args[1 - node.args.index(value)], fx.Node)
    )


def fuse(net: nn.Module, onednn: bool = True, skip: frozenset[str] = frozenset()) -> tuple[nn.Module | None, str]:
    """A copy of ``net``'s forward pass with every convolution → eval-mode batch norm
    (→ residual addition) (→ ReLU) chain as one :class:`FusedConv`.

    Parameters
    ----------
    net : torch.nn.Module
        The model; it is not modified. The returned module shares its submodules.
    onednn : bool
        Let oneDNN apply the ReLU (and the addition before it) inside the
        convolution, under bfloat16 autocast on CPU.
    skip : set of str
        Convolutions (by module name) to leave alone, e.g. a layer whose output is
        replaced by first-layer reuse.

    Returns
    -------
    (module, description)
        The fused module and how many chains it fused, or ``(None, reason)`` when
        there is nothing to fuse or FX cannot trace the model.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> fused, what = fuse(net)
    >>> what
    '1 convolution + batch norm chains fused (1 with ReLU, 0 with a residual addition)'
    >>> x = torch.randn(1, 2, 5, 5)
    >>> torch.allclose(fused(x), net(x), atol=1e-6)
    True
    """
    try:
        # Traced in eval mode, the only mode it runs in: FX bakes `self.training` in.
        with eval_mode(net):
            gm = fx.symbolic_trace(net)
    except Exception as exc:  # noqa: BLE001 -- whatever FX cannot trace runs unfused
        return None, f"torch.fx cannot trace the model ({type(exc).__name__}: {exc})"
    modules = dict(gm.named_modules())
    graph = gm.graph
    fused = relus = adds = 0
    for node in list(graph.nodes):
        if node.op != "call_module" or str(node.target) in skip:
            continue
        conv = modules.get(str(node.target))
        if not isinstance(conv, FOLDABLE) or len(node.args) != 1 or node.kwargs:
            continue
        bn_node = _single_user(node)
        bn = modules.get(str(bn_node.target)) if bn_node is not None and bn_node.op == "call_module" else None
        if (
            not isinstance(bn, _BatchNorm)
            or not bn.track_running_stats
            or bn_node.args != (node,)  # type: ignore[union-attr]
            or bn_node.kwargs  # type: ignore[union-attr]
        ):
            continue
        chain: list[fx.Node] = [node, bn_node]  # type: ignore[list-item]
        other: fx.Node | None = None
        nxt = _single_user(bn_node)  # type: ignore[arg-type]
        if _is_add(nxt, bn_node):  # type: ignore[arg-type]
            after = _single_user(nxt)  # type: ignore[arg-type]
            if _is_relu(after, modules, nxt):  # type: ignore[arg-type]
                # oneDNN adds a residual only before an activation
                other = nxt.args[1 - nxt.args.index(bn_node)]  # type: ignore[union-attr, assignment]
                chain += [nxt, after]  # type: ignore[list-item]
        elif _is_relu(nxt, modules, bn_node):  # type: ignore[arg-type]
            chain.append(nxt)  # type: ignore[arg-type]
        relu = len(chain) > 2
        name = f"_fused_{fused}"
        gm.add_submodule(name, FusedConv(conv, bn, other is not None, relu, onednn and _onednn_available()))
        last = chain[-1]
        with graph.inserting_before(last):
            new = graph.call_module(name, (node.args[0],) if other is None else (node.args[0], other))
        last.replace_all_uses_with(new)
        for dead in reversed(chain):
            graph.erase_node(dead)
        fused += 1
        relus += relu
        adds += other is not None
    if not fused:
        return None, "no convolution is followed by a batch norm layer that tracks running statistics"
    graph.lint()
    gm.recompile()
    return gm, (
        f"{fused} convolution + batch norm chains fused ({relus} with ReLU, {adds} with a "
        "residual addition)"
    )
