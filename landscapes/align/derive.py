"""The permutation structure of a network, derived from its computation graph.

:func:`permutation_spec` traces the model with :mod:`torch.fx` (or, where the trace
fails, reads the layers of nested ``nn.Sequential`` containers in order), runs it once
on an example to learn every tensor's shape, and follows each axis through the graph:

* a linear layer, a convolution or an embedding makes new units (its output axis);
  the axes it reads join the units of its input;
* batch norm, layer norm, group norm (one group or one per channel) and PReLU move
  their vectors (running statistics included) with their channels;
* element-wise functions, pooling, reductions over other axes and reshapes that keep
  each unit's entries together carry the units through; ``flatten`` of a channel map
  into a linear layer moves each channel's whole map (a *block*);
* adding or multiplying two tensors gives both one permutation: the residual stream
  of a ResNet is one group, projection shortcuts included;
* tied weights (one tensor under two names) are one set of axes;
* the model's inputs and outputs never move.

The result is the coarsest set of constraints under which every rule is exact. Any
operation without a rule, on a tensor whose axes may move, stops the derivation with
:class:`UnsupportedModel` naming the layer and the reason: a spec is never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torch.nn.modules.batchnorm import _BatchNorm

from landscapes.align.spec import Axis, PermutationGroup, PermutationSpec
from landscapes.align.unionfind import FIXED, AxisSets, Inconsistent
from landscapes.engine.batchnorm import eval_mode
from landscapes.engine.tied import tied_groups

__all__ = ["permutation_spec", "UnsupportedModel", "trace", "guess_example"]

Labels = list[int]


class UnsupportedModel(ValueError):
    """The permutation structure of a model could not be derived; the message says where."""

    __module__ = "landscapes.align"


_UNARY = {
    "relu", "relu_", "sigmoid", "tanh", "gelu", "silu", "elu", "selu", "celu", "leaky_relu",
    "softplus", "hardtanh", "relu6", "mish", "hardswish", "hardsigmoid", "dropout", "dropout1d",
    "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "neg", "abs", "exp",
    "log", "sqrt", "rsqrt", "square", "clamp", "clip", "contiguous", "clone", "detach", "float",
    "double", "half", "bfloat16", "to", "type_as", "softmax", "log_softmax", "sign", "sin",
    "cos", "erf", "sigmoid_", "tanh_", "identity",
}
_BROADCAST = {"add", "sub", "mul", "div", "truediv", "maximum", "minimum", "iadd", "isub",
              "imul", "itruediv", "add_", "sub_", "mul_", "div_", "rsub", "pow", "where"}
_RESHAPE = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as",
            "reshape_as"}
_REDUCE = {"mean", "sum", "amax", "amin", "logsumexp", "nanmean", "nansum"}
_POOL = {f"{kind}{d}d" for kind in ("max_pool", "avg_pool", "adaptive_avg_pool",
                                    "adaptive_max_pool", "lp_pool") for d in (1, 2, 3)}
_SHAPE_QUERIES = {"size", "dim", "numel", "__len__"}
_UNARY_MODULES = (
    nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.ELU, nn.SELU, nn.CELU, nn.LeakyReLU,
    nn.Softplus, nn.Hardtanh, nn.ReLU6, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Dropout,
    nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity, nn.Softmax,
    nn.LogSoftmax,
)
_POOL_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
                 nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                 nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _op_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


def _describe(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == "call_module":
        return f"layer {node.target!r} ({type(gm.get_submodule(str(node.target))).__name__})"
    kind = "method" if node.op == "call_method" else "function"
    return f"operation {node.name!r} (the {kind} {_op_name(node)!r})"


def trace(model: nn.Module) -> tuple[fx.GraphModule, bool]:
    """The model's graph: a :mod:`torch.fx` trace, else its ``nn.Sequential`` layers in order.

    Returns
    -------
    (torch.fx.GraphModule, bool)
        The graph module (sharing the model's layers) and whether it was traced.
    """
    try:
        return fx.symbolic_trace(model), True
    except Exception as error:  # noqa: BLE001 - any trace failure falls back, and is reported
        if not isinstance(model, nn.Sequential):
            raise UnsupportedModel(
                f"cannot derive the permutations of {type(model).__name__}: torch.fx could not "
                f"trace it ({type(error).__name__}: {(str(error).splitlines() or [''])[0]}) "
                "and it is not an nn.Sequential whose layers run in order; pass a traceable "
                "model or a PermutationSpec") from error
    graph = fx.Graph()
    x = graph.placeholder("x")
    for name in _chain(model, ""):
        x = graph.call_module(name, (x,))
    graph.output(x)
    return fx.GraphModule(model, graph), False


def _chain(model: nn.Sequential, prefix: str) -> list[str]:
    names = []
    for name, child in model.named_children():
        full = f"{prefix}{name}"
        names += _chain(child, full + ".") if isinstance(child, nn.Sequential) else [full]
    return names


def guess_example(model: nn.Module) -> torch.Tensor:
    """Two inputs the model accepts, guessed from its first layer with parameters.

    An embedding gets token ids, a linear layer vectors of its width, a convolution
    images of its channels at 32, 28, 64, 96 or 224 pixels (the first size that runs).

    Raises
    ------
    UnsupportedModel
        When no guess runs; pass ``example=`` then.
    """
    first = next((m for m in model.modules() if not list(m.children())
                  and any(True for _ in m.parameters(recurse=False))), None)
    candidates: list[torch.Tensor] = []
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    generator = torch.Generator().manual_seed(0)
    if isinstance(first, nn.Embedding):
        candidates.append(torch.randint(0, first.num_embeddings, (2, 8), generator=generator))
    elif isinstance(first, nn.Linear):
        candidates.append(torch.randn(2, first.in_features, generator=generator, dtype=dtype))
    elif isinstance(first, _CONVS):
        d = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(first)]
        for side in ((32, 28, 64, 96, 224) if d < 3 else (16, 32)):
            shape = (2, first.in_channels, *(side,) * d)
            candidates.append(torch.randn(shape, generator=generator, dtype=dtype))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    for x in candidates:
        try:
            with eval_mode(model), torch.no_grad():
                model(x.to(device))
        except Exception:  # noqa: BLE001, S112 - a candidate the model refuses; try the next
            continue
        return x
    what = type(first).__name__ if first is not None else "no layer with parameters"
    raise UnsupportedModel(
        f"cannot guess an input for {type(model).__name__} (its first layer: {what}); pass "
        "example=, a batch it accepts")


def permutation_spec(model: nn.Module, example: torch.Tensor | None = None) -> PermutationSpec:
    """The hidden-unit permutations of ``model`` that leave its function unchanged.

    Parameters
    ----------
    model : torch.nn.Module
        Any network built from the layers the module docstring lists; its state is
        not changed (it runs once, in eval mode, on ``example``).
    example : torch.Tensor, optional
        A batch the model accepts; guessed from the first layer when left out
        (:func:`guess_example`).

    Returns
    -------
    PermutationSpec
        One group per set of units that must move together, in graph order.

    Raises
    ------
    UnsupportedModel
        Naming the first layer or operation without a permutation rule, and why.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> spec = permutation_spec(net)
    >>> [(g.name, g.size) for g in spec.groups]
    [('0', 8), ('2', 8)]
    >>> [(a.key, a.axis) for a in spec["0"].axes]
    [('0.weight', 0), ('0.bias', 0), ('2.weight', 1)]
    >>> permutation_spec(nn.Sequential(nn.Linear(4, 8), nn.LSTM(8, 8)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    landscapes.align.UnsupportedModel: cannot derive the permutations of Sequential: layer '1' ...
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__!r}")
    if example is not None and not isinstance(example, torch.Tensor):
        raise TypeError(f"example must be a torch.Tensor, got {type(example).__name__!r}")
    x = guess_example(model) if example is None else example
    gm, traced = trace(model)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    with eval_mode(gm), torch.no_grad():
        try:
            ShapeProp(gm).propagate(x.to(device))
        except Exception as error:
            raise UnsupportedModel(
                f"cannot derive the permutations of {type(model).__name__}: it does not run on "
                f"the example of shape {tuple(x.shape)} ({type(error).__name__}: {error}); pass "
                "example=, a batch it accepts") from error
    derivation = _Derivation(model, gm)
    try:
        derivation.run()
    except UnsupportedModel as error:
        what = type(model).__name__
        raise UnsupportedModel(f"cannot derive the permutations of {what}: {error}") from None
    return derivation.spec(x.cpu(), traced)


class _Derivation:
    """Labels every axis of every tensor in the graph with an element of :class:`AxisSets`."""

    def __init__(self, model: nn.Module, gm: fx.GraphModule) -> None:
        self.model, self.gm, self.sets = model, gm, AxisSets()
        self.tied = tied_groups(model)
        self.canonical = {name: group[0] for group in self.tied for name in group}
        self.parameters = {n for n, _ in model.named_parameters(remove_duplicate=False)}
        state = dict(model.named_parameters(remove_duplicate=False))
        state.update(dict(model.named_buffers(remove_duplicate=False)))
        self.state = state
        self.slots: dict[str, Labels] = {}
        for name, tensor in state.items():
            key = self.canonical.get(name, name)
            if key not in self.slots:
                self.slots[key] = [self.sets.new(n) for n in tensor.shape]
        self.labels: dict[fx.Node, Labels | None] = {}
        self.born: dict[int, str] = {}  # element -> the layer that makes those units
        self.order: list[fx.Node] = []

    # -- helpers ---------------------------------------------------------------------
    def slot(self, key: str) -> Labels | None:
        return self.slots.get(self.canonical.get(key, key))

    def shape(self, node: fx.Node) -> tuple[int, ...] | None:
        meta = node.meta.get("tensor_meta")
        return tuple(meta.shape) if isinstance(meta, TensorMetadata) else None

    def fresh(self, node: fx.Node) -> Labels:
        shape = self.shape(node)
        return [self.sets.new(n) for n in shape] if shape is not None else []

    def fixed_like(self, node: fx.Node) -> Labels:
        shape = self.shape(node) or ()
        return [FIXED] * len(shape)

    def join(self, a: int, b: int, k: int = 1, where: str = "") -> None:
        try:
            self.sets.join(a, b, k)
        except Inconsistent as error:
            raise UnsupportedModel(f"{where}: {error}") from None

    def inputs(self, node: fx.Node) -> list[fx.Node]:
        return [n for n in node.all_input_nodes if self.labels.get(n) is not None]

    def all_fixed(self, nodes: Sequence[fx.Node]) -> bool:
        return all(self.sets.fixed(e) for n in nodes for e in self.labels[n] or [])

    def refuse(self, node: fx.Node, why: str) -> UnsupportedModel:
        return UnsupportedModel(f"{_describe(node, self.gm)} {why}")

    # -- the walk ----------------------------------------------------------------------
    def run(self) -> None:
        for node in self.gm.graph.nodes:
            self.order.append(node)
            if node.op == "placeholder":
                self.labels[node] = self.fixed_like(node)
            elif node.op == "get_attr":
                self.labels[node] = self.slot(str(node.target)) or self.fixed_like(node)
            elif node.op == "output":
                for n in self.inputs(node):
                    for e in self.labels[n] or []:
                        self.join(FIXED, e, where="the model's output")
            else:
                self.labels[node] = self.visit(node)

    def visit(self, node: fx.Node) -> Labels | None:
        tensors = self.inputs(node)
        is_tensor = self.shape(node) is not None
        if node.op == "call_module":
            module = self.gm.get_submodule(str(node.target))
            rule = _module_rule(module)
            if rule is not None:
                return rule(self, node, module)
            has_state = any(True for _ in (*module.parameters(), *module.buffers()))
            if not has_state and self.all_fixed(tensors):
                return self.fixed_like(node) if is_tensor else None
            raise self.refuse(node, f"has no permutation rule ({type(module).__name__} layers "
                              "are not supported), so a spec would be a guess")
        name = _op_name(node)
        if not is_tensor:
            if name in _SHAPE_QUERIES or (name == "getattr" and node.args[1] in
                                          ("shape", "dtype", "device", "ndim")):
                return None
            if self.all_fixed(tensors):
                return None
            raise self.refuse(node, "returns something other than a tensor from a tensor whose "
                              "units may move; no rule follows the units through it")
        if self.all_fixed(tensors):
            return self.fixed_like(node)
        if name == "linear":
            x, w = node.args[0], node.args[1]
            b = node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")
            return self.linear(node, self.labels[x], self.labels[w],
                               self.labels.get(b) if isinstance(b, fx.Node) else None, node.name)
        rules = ((_UNARY, _Derivation.unary), (_BROADCAST, _Derivation.broadcast),
                 (_RESHAPE, _Derivation.reshape), (_REDUCE, _Derivation.reduce),
                 (_POOL, _Derivation.pool), ({"permute", "transpose"}, _Derivation.permute))
        for names, rule in rules:
            if name in names:
                return rule(self, node)
        raise self.refuse(node, "has no permutation rule; its input's units could be renamed, so "
                          "a spec would be a guess")

    # -- rules -------------------------------------------------------------------------
    def first(self, node: fx.Node) -> tuple[fx.Node, Labels]:
        x = node.args[0] if node.args else next(iter(node.kwargs.values()))
        if not isinstance(x, fx.Node) or self.labels.get(x) is None:
            raise self.refuse(node, "takes no tensor as its first argument")
        return x, list(self.labels[x])

    def unary(self, node: fx.Node) -> Labels:
        x, labels = self.first(node)
        others = [n for n in self.inputs(node) if n is not x]
        if others and _op_name(node) not in ("to", "type_as"):
            raise self.refuse(node, "takes more than one tensor; no rule pairs their units")
        return labels

    def broadcast(self, node: fx.Node) -> Labels:
        out_shape = self.shape(node)
        out: Labels = []
        operands = [(self.labels[n], self.shape(n) or ()) for n in self.inputs(node)]
        for i in range(1, len(out_shape) + 1):
            label = None
            for labels, shape in operands:
                if i > len(shape) or shape[-i] == 1:
                    continue  # broadcast along this axis: no constraint
                if label is None:
                    label = labels[-i]
                else:
                    self.join(label, labels[-i], where=_describe(node, self.gm))
            out.append(FIXED if label is None else label)
        return out[::-1]

    def reshape(self, node: fx.Node) -> Labels:
        x, labels = self.first(node)
        src, dst = self.shape(x), self.shape(node)
        out: Labels = []
        i = j = 0
        while i < len(src) or j < len(dst):
            a, b = [i], [j]
            pa = src[i] if i < len(src) else 1
            pb = dst[j] if j < len(dst) else 1
            i, j = i + 1, j + 1
            while pa != pb:
                if pa < pb and i < len(src):
                    pa *= src[i]; a.append(i); i += 1  # noqa: E702
                elif j < len(dst):
                    pb *= dst[j]; b.append(j); j += 1  # noqa: E702
                else:
                    raise self.refuse(node, f"reshapes {src} to {dst} in a way no rule follows")
            out += self._chunk(node, [k for k in a if k < len(src)], [k for k in b if k < len(dst)],
                               src, dst, labels)
        return out

    def _chunk(self, node: fx.Node, a: list[int], b: list[int], src: tuple[int, ...],
               dst: tuple[int, ...], labels: Labels) -> Labels:
        """One run of input axes that becomes one run of output axes (equal products)."""
        big_a = [k for k in a if src[k] > 1]
        big_b = [k for k in b if dst[k] > 1]
        moving = [k for k in big_a if not self.sets.fixed(labels[k])]
        if not moving:
            return [FIXED] * len(b)
        if moving != big_a[:1]:
            raise self.refuse(node, f"merges or splits axes {src} -> {dst} with a permuted axis "
                              "inside another; no rule keeps each unit's entries together")
        inner_a = math.prod(src[k] for k in big_a[1:])
        inner_b = math.prod(dst[k] for k in big_b[1:])
        flat = self.sets.new(math.prod(src[k] for k in big_a))
        new = self.sets.new(dst[big_b[0]])
        self.join(labels[big_a[0]], flat, inner_a, where=_describe(node, self.gm))
        self.join(new, flat, inner_b, where=_describe(node, self.gm))
        return [new if k == big_b[0] else FIXED for k in b]

    def reduce(self, node: fx.Node) -> Labels:
        x, labels = self.first(node)
        ndim = len(labels)
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keep = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        if dim is None:
            dims = set(range(ndim))
        else:
            dims = {d % ndim for d in ((dim,) if isinstance(dim, int) else dim)}
        # A sum, mean or max over a permuted axis does not depend on its order.
        return [FIXED if d in dims else e for d, e in enumerate(labels) if keep or d not in dims]

    def pool(self, node: fx.Node, spatial: int | None = None) -> Labels:
        x, labels = self.first(node)
        if spatial is None:
            spatial = int(_op_name(node)[-2])
        for e in labels[-spatial:]:
            if not self.sets.fixed(e):
                raise self.refuse(node, "pools over an axis whose entries may be permuted")
        return labels[:-spatial] + [FIXED] * spatial

    def permute(self, node: fx.Node) -> Labels:
        x, labels = self.first(node)
        rest = [a for a in node.args[1:]]
        n = len(labels)
        if _op_name(node) == "transpose":
            d0, d1 = (a % n for a in rest[:2])
            order = list(range(n))
            order[d0], order[d1] = order[d1], order[d0]
        else:
            dims = rest[0] if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
            order = [d % n for d in dims]
        return [labels[d] for d in order]

    def linear(self, node: fx.Node, x: Labels, w: Labels, b: Labels | None, name: str) -> Labels:
        where = _describe(node, self.gm)
        self.join(x[-1], w[1], where=where)
        if b is not None:
            self.join(w[0], b[0], where=where)
        self.born.setdefault(w[0], name)
        return x[:-1] + [w[0]]

    def spec(self, example: torch.Tensor, traced: bool) -> PermutationSpec:
        members: dict[int, list[Axis]] = {}
        for name in self.state:
            for axis, e in enumerate(self.slot(name)):
                root, k = self.sets.find(e)
                if root != FIXED:
                    axis_ = Axis(name, axis, k, name in self.parameters)
                    members.setdefault(root, []).append(axis_)
        layers: dict[int, list[str]] = {}
        for e, name in self.born.items():
            root, _ = self.sets.find(e)
            if root != FIXED and name not in layers.get(root, []):
                layers.setdefault(root, []).append(name)
        sites: dict[int, list[tuple[str, int]]] = {}
        first: dict[int, int] = {}
        for index, node in enumerate(self.order):
            if node.op == "get_attr":
                continue
            for axis, e in enumerate(self.labels.get(node) or []):
                root, k = self.sets.find(e)
                if root != FIXED and k == 1:
                    sites.setdefault(root, []).append((node.name, axis))
                    first.setdefault(root, index)
        found = []
        for root, axes in members.items():
            if self.sets.size[root] < 2:
                continue  # one unit: nothing to permute
            names = layers.get(root, [])
            name = names[0] if names else f"{axes[0].key}:{axes[0].axis}"
            group = PermutationGroup(name, self.sets.size[root], tuple(axes), tuple(names),
                                     tuple(sites.get(root, [])))
            found.append((first.get(root, len(self.order)), group))
        found.sort(key=lambda item: item[0])
        return PermutationSpec(tuple(g for _, g in found), example, tuple(self.tied), traced)

    def vectors(self, module_name: str, names: Sequence[str], channel: int, where: str) -> None:
        for n in names:
            slot = self.slot(f"{module_name}.{n}" if module_name else n)
            if slot is not None and slot:
                self.join(channel, slot[0], where=where)


def _linear_module(d: _Derivation, node: fx.Node, m: nn.Linear) -> Labels:
    _, x = d.first(node)
    name = str(node.target)
    return d.linear(node, x, d.slot(f"{name}.weight"), d.slot(f"{name}.bias") if m.bias is not None
                    else None, name)


def _conv_module(d: _Derivation, node: fx.Node, m: nn.Module) -> Labels:
    _, x = d.first(node)
    name, where = str(node.target), _describe(node, d.gm)
    w = d.slot(f"{name}.weight")
    for e in w[2:]:
        d.join(FIXED, e, where=where)
    c = len(x) - (len(w) - 2) - 1  # the channel axis: 1 for a batch, 0 for one unbatched input
    if m.groups == 1:
        d.join(x[c], w[1], where=where)
        channel = w[0]
        d.born.setdefault(channel, name)
    elif m.groups == m.in_channels == m.out_channels:
        d.join(x[c], w[0], where=where)  # depthwise: each channel keeps its own filter
        channel = w[0]
    else:
        raise d.refuse(node, f"is a grouped convolution (groups={m.groups}); units may only move "
                       "within and between whole groups, which no rule here expresses")
    d.vectors(name, ["bias"], channel, where)
    return [*x[:c], channel, *([FIXED] * (len(x) - c - 1))]


def _norm_module(d: _Derivation, node: fx.Node, m: nn.Module) -> Labels:
    _, x = d.first(node)
    name, where = str(node.target), _describe(node, d.gm)
    if isinstance(m, nn.GroupNorm) and m.num_groups not in (1, m.num_channels):
        raise d.refuse(node, f"normalises {m.num_groups} groups of channels together; channels "
                       "could move only within a group, which no rule here expresses")
    d.vectors(name, ["weight", "bias", "running_mean", "running_var"], x[1], where)
    return x


def _layer_norm_module(d: _Derivation, node: fx.Node, m: nn.LayerNorm) -> Labels:
    _, x = d.first(node)
    name, where = str(node.target), _describe(node, d.gm)
    r = len(m.normalized_shape)
    for key in ("weight", "bias"):
        slot = d.slot(f"{name}.{key}")
        for i in range(r if slot else 0):
            d.join(x[len(x) - r + i], slot[i], where=where)
    return x


def _embedding_module(d: _Derivation, node: fx.Node, m: nn.Embedding) -> Labels:
    _, x = d.first(node)
    name, where = str(node.target), _describe(node, d.gm)
    if not d.all_fixed([node.args[0]]):
        raise d.refuse(node, "looks up indices that come from permuted units")
    w = d.slot(f"{name}.weight")
    d.join(FIXED, w[0], where=where)  # the vocabulary is the input's, not ours to rename
    d.born.setdefault(w[1], name)
    return [FIXED] * len(x) + [w[1]]


def _prelu_module(d: _Derivation, node: fx.Node, m: nn.PReLU) -> Labels:
    _, x = d.first(node)
    if m.num_parameters > 1:
        d.vectors(str(node.target), ["weight"], x[1], _describe(node, d.gm))
    return x


def _module_rule(module: nn.Module) -> Callable[[_Derivation, fx.Node, nn.Module], Labels] | None:
    if isinstance(module, nn.Linear):
        return _linear_module
    if isinstance(module, _CONVS):
        return _conv_module
    if isinstance(module, (_BatchNorm, nn.GroupNorm)):
        return _norm_module
    if isinstance(module, nn.LayerNorm):
        return _layer_norm_module
    if isinstance(module, nn.Embedding):
        return _embedding_module
    if isinstance(module, nn.PReLU):
        return _prelu_module
    if isinstance(module, _UNARY_MODULES):
        return lambda d, node, m: d.unary(node)
    if isinstance(module, (nn.Flatten, nn.Unflatten)):
        return lambda d, node, m: d.reshape(node)
    if isinstance(module, _POOL_MODULES):
        return lambda d, node, m: d.pool(node, int(type(m).__name__[-2]))
    return None
