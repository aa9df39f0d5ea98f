"""Point measures at every point of a path: the engine's seam against plain loops."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn
from torch.func import functional_call

from landscapes import evaluate, paths, results
from landscapes.engine import measure
from landscapes.engine.gradient_norm import GradientNorm, RandomSlopes
from landscapes.engine.point_measures import PointContext, Variable


def mlp(dtype: torch.dtype = torch.float64, bn: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(5, 7)] + ([nn.BatchNorm1d(7)] if bn else []) + [nn.Tanh(), nn.Linear(7, 3)]
    return nn.Sequential(*layers).to(dtype)


def data(n: int = 40, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def plane_path(net: nn.Module) -> paths.Path:
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: (v * 1.5 + 0.1 if v.is_floating_point() else v) for k, v in a.items()}
    c = {k: (-v if v.is_floating_point() else v) for k, v in a.items()}
    return paths.barycentric(a, b, c, [0.25, 0.5, 1.0], [0.0, 0.25])


def plain_gradient_norm(net: nn.Module, state: dict[str, torch.Tensor], x: torch.Tensor,
                        y: torch.Tensor, loss_fn: Any) -> float:
    """‖∇L‖ by autograd on a copy of the network loaded with the point, whole data at once."""
    twin = copy.deepcopy(net).eval()
    twin.load_state_dict(state)
    loss = loss_fn(twin(x), y)
    if getattr(loss_fn, "reduction", "mean") == "sum":
        loss = loss / y.shape[0]
    grads = torch.autograd.grad(loss, list(twin.parameters()))
    return float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_norm_equals_a_plain_loop_at_every_point(reduction):
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    # Batches of 16 (the last of 8): the measure sums over them itself.
    ds = measure(net, path, (x, y), [GradientNorm()], loss_fn=loss_fn, batch_size=16,
                 device="cpu", progress=False)
    assert ds.gradient_norm.dims == path.dims
    assert "loss" not in ds and results.validate(ds) is ds
    for p in range(len(path)):
        want = plain_gradient_norm(net, {**net.state_dict(), **path.point(p)}, x, y, loss_fn)
        got = float(ds.gradient_norm.values.reshape(-1)[p])
        assert got == pytest.approx(want, rel=1e-10)
    # Different points, different gradients: the check above can fail.
    assert np.unique(ds.gradient_norm.values.round(8)).size == len(path)


@dataclass(frozen=True)
class FullLoss:
    """The full-data loss from the context alone, and whether the model ran in eval mode."""

    name: str = "full"

    def variables(self) -> dict[str, Variable]:
        return {"full_loss": Variable(), "eval_mode": Variable()}

    def coords(self) -> dict[str, Any]:
        return {}

    def measure(self, point: PointContext) -> dict[str, np.ndarray]:
        total, n = 0.0, 0
        with torch.no_grad():
            for xb, yb in point.batches:
                out = point.read_output(functional_call(point.model, point.state, (xb,)))
                total += float(point.loss_fn(out, yb)) * yb.shape[0]
                n += yb.shape[0]
        return {"full_loss": np.asarray(total / n), "eval_mode": np.asarray(float(not point.model.training))}


@pytest.mark.parametrize("bn", ["interpolate", "recompute"])
def test_batch_norm_statistics_are_those_evaluate_uses(bn):
    net, (x, y) = mlp(bn=True), data(64)
    net.train()
    with torch.no_grad():
        net(x * 3 + 1)  # running statistics that are not the data's
    path = plane_path(net)
    splits = {"train": (x, y), "test": (x[:20] * 2, y[:20])}
    got = measure(net, path, splits, [FullLoss()], bn=bn, bn_batches=2, batch_size=16,
                  device="cpu", progress=False)
    want = evaluate(net, path, splits, bn=bn, bn_batches=2, batch_size=16, device="cpu",
                    progress=False)
    np.testing.assert_allclose(got.full_loss.values, want.loss.values, rtol=1e-10)
    assert (got.eval_mode == 1).all()
    assert got.full_loss.dims == ("split", *path.dims)
    assert json_of(got)["bn"] == bn
    # The two modes really differ here.
    other = evaluate(net, path, splits, bn={"interpolate": "recompute", "recompute": "interpolate"}[bn],
                     bn_batches=2, batch_size=16, device="cpu", progress=False)
    assert not np.allclose(other.loss.values, want.loss.values)


def json_of(ds: xr.Dataset) -> dict[str, Any]:
    import json

    return json.loads(ds.attrs["hyperparameters"])


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(6, 4)
        self.head = nn.Linear(4, 6, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.embed(tokens)))


def test_tied_weights_stay_tied_and_their_gradient_sums_both_uses():
    torch.manual_seed(2)
    net = Tied().double()
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: v * 2 for k, v in a.items()}
    path = paths.linear(a, b, [0.0, 0.3, 1.0])
    tokens, targets = torch.randint(0, 6, (30,)), torch.randint(0, 6, (30,))
    ds = measure(net, path, (tokens, targets), [GradientNorm()], batch_size=8, device="cpu",
                 progress=False)
    loss_fn = nn.CrossEntropyLoss()
    for p in range(len(path)):
        want = plain_gradient_norm(net, {**net.state_dict(), **path.point(p)}, tokens, targets, loss_fn)
        assert float(ds.gradient_norm[p]) == pytest.approx(want, rel=1e-10)
    # Were the tie lost, the gradient would miss one use: far from the tied one.
    untied = copy.deepcopy(net)
    untied.head.weight = nn.Parameter(untied.embed.weight.detach().clone())
    lone = plain_gradient_norm(untied, {**untied.state_dict(), **path.point(1)}, tokens, targets, loss_fn)
    assert abs(lone - float(ds.gradient_norm[1])) > 1e-3


class DictOut(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": x, "logits": self.body(x)}


def test_dict_outputs_are_read_with_output():
    net, (x, y) = mlp(), data()
    wrapped = DictOut(copy.deepcopy(net))
    path = plane_path(net)
    wrapped_path = paths.barycentric(*[{f"body.{k}": v for k, v in a.items()} for a in path.anchors],
                                     path.coords["alpha"], path.coords["beta"])
    plain = measure(net, path, (x, y), [GradientNorm()], device="cpu", progress=False)
    read = measure(wrapped, wrapped_path, (x, y), [GradientNorm()], output="logits", device="cpu",
                   progress=False)
    np.testing.assert_allclose(read.gradient_norm.values, plain.gradient_norm.values, rtol=1e-12)
    with pytest.raises(TypeError, match="output="):
        measure(wrapped, wrapped_path, (x, y), [GradientNorm()], device="cpu", progress=False)


def test_same_seed_same_numbers_whichever_block_evaluates_a_point():
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    run = lambda p, seed=0: measure(net, p, (x, y), [RandomSlopes(probes=3, seed=seed)],  # noqa: E731
                                    device="cpu", progress=False)
    whole = run(path)
    assert whole.slope.dims == (*path.dims, "probe") and list(whole.probe.values) == [0, 1, 2]
    xr.testing.assert_identical(run(path).slope, whole.slope)
    for start in range(path.shape[0]):
        block = run(paths.take(path, start, start + 1))
        np.testing.assert_array_equal(block.slope.values, whole.slope.values[start : start + 1])
    assert not np.allclose(run(path, seed=1).slope.values, whole.slope.values)
    # Every point draws its own directions: the slopes differ across probes and points.
    assert np.unique(whole.slope.values.round(10)).size == whole.slope.size
    # The slopes estimate the gradient: their mean square is ‖∇L‖²/d on average.
    norm = measure(net, path, (x, y), [GradientNorm()], device="cpu", progress=False).gradient_norm
    d = sum(p.numel() for p in net.parameters())
    many = measure(net, paths.take(path, 0, 1), (x, y), [RandomSlopes(probes=400)], device="cpu",
                   progress=False)
    ratio = (many.slope ** 2).mean("probe").values * d / norm.values[:1] ** 2
    assert ((0.75 < ratio) & (ratio < 1.25)).all(), ratio


def test_evaluate_merges_the_measures_into_its_dataset():
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    splits = {"train": (x, y), "test": (x[:10], y[:10])}
    plain = evaluate(net, path, splits, device="cpu", progress=False)
    both = evaluate(net, path, splits, measures=[GradientNorm(), RandomSlopes(seed=3)],
                    device="cpu", progress=False)
    alone = measure(net, path, splits, [GradientNorm(), RandomSlopes(seed=3)], device="cpu",
                    progress=False)
    xr.testing.assert_identical(both.loss, plain.loss)
    xr.testing.assert_identical(both.gradient_norm, alone.gradient_norm)
    xr.testing.assert_identical(both.slope, alone.slope)
    hyper = json_of(both)
    assert hyper["measures"] == [repr(GradientNorm()), repr(RandomSlopes(seed=3))]
    assert hyper["precision"] == "float32"  # the evaluation's own record stays
    import json

    assert json.loads(both.attrs["seeds"])["measures"] == {"slopes": 3}


@dataclass(frozen=True)
class Named:
    """A measure whose one variable is called ``var``, returning ``value``."""

    name: str
    var: str = "loss"
    dims: tuple[str, ...] = ()
    coords_: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    value: Any = 0.0

    def variables(self) -> dict[str, Variable]:
        return {self.var: Variable(self.dims)}

    def coords(self) -> dict[str, Any]:
        return {k: list(v) for k, v in self.coords_}

    def measure(self, point: PointContext) -> dict[str, Any]:
        return {self.var: self.value}


def test_shared_variable_names_take_their_measures_prefix():
    net, (x, y) = mlp(), data()
    path = paths.take(plane_path(net), 0, 1)
    ds = evaluate(net, path, (x, y), measures=[Named("first"), Named("second", "other")],
                  device="cpu", progress=False)
    assert {"loss", "first_loss", "other"} <= set(ds.data_vars)
    ds = measure(net, path, (x, y), [Named("a", "v"), Named("b", "v")], device="cpu", progress=False)
    assert {"a_v", "b_v"} == set(ds.data_vars)


def test_a_dataset_of_measures_round_trips_through_a_file(tmp_path):
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    ds = measure(net, path, {"test": (x, y)}, [RandomSlopes(), GradientNorm()], device="cpu",
                 progress=False)
    back = results.load(results.save(ds, tmp_path / "m.nc"))
    xr.testing.assert_identical(back, ds)
    assert back.slope.attrs["measure"] == "slopes"


def test_dtype_float64_computes_in_float64():
    net32, (x, y) = mlp(torch.float32), data(dtype=torch.float32)
    path = plane_path(net32)
    ds = measure(net32, path, (x, y), [GradientNorm()], dtype=torch.float64, device="cpu",
                 progress=False)
    net64 = copy.deepcopy(net32).double()
    for p in range(len(path)):
        # The point formed from the anchors in float64, as the engine forms it.
        wide = [{k: v.double() for k, v in a.items()} for a in path.anchors]
        state = paths.materialize(wide, path.coefficients[p : p + 1])[0]
        want = plain_gradient_norm(net64, {**net64.state_dict(), **state}, x.double(), y,
                                   nn.CrossEntropyLoss())
        assert float(ds.gradient_norm.values.reshape(-1)[p]) == pytest.approx(want, rel=1e-12)
    assert json_of(ds)["dtype"] == "float64"
    assert next(net32.parameters()).dtype == torch.float32  # the model itself is untouched


@pytest.mark.parametrize(
    "measures, match",
    [
        (GradientNorm(), "must be a list of point measures"),
        ([object()], r"measures\[0\] is a object, not a point measure"),
        ([Named("bad name")], "must be an identifier"),
        ([Named("a"), Named("a", "w")], "two measures are named 'a'"),
        ([Named("a", dims=("eigen",))], "has dimension 'eigen' but coords"),
        ([Named("a", dims=("alpha",), coords_=(("alpha", (0, 1)),))], "one of the result's own"),
        ([Named("a", value=[1.0, 2.0])], r"returned 'loss' of shape \(2,\) at point \(0, 0\)"),
        ([RandomSlopes(seed=-1)], "seed -1"),
        ([Named("a", dims=("k",), coords_=(("k", (0,)),)), Named("b", "w", ("k",), (("k", (1,)),))],
         "different coordinates"),
        ([], "measures is empty"),
    ],
)
def test_bad_input_is_one_clear_line(measures, match):
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    with pytest.raises((TypeError, ValueError), match=match) as caught:
        measure(net, path, (x, y), measures, device="cpu", progress=False)
    assert "\n" not in str(caught.value)


def test_bad_options_are_one_clear_line():
    net, (x, y) = mlp(), data()
    path = plane_path(net)
    for kwargs, match in [({"dtype": torch.int64}, "floating-point torch.dtype"),
                          ({"bn": "train"}, "unknown bn 'train'"),
                          ({"loss_fn": nn.CrossEntropyLoss(reduction="none")}, "reduction='none'")]:
        with pytest.raises(ValueError, match=match) as caught:
            measure(net, path, (x, y), [GradientNorm()], device="cpu", progress=False, **kwargs)
        assert "\n" not in str(caught.value)
    with pytest.raises(TypeError, match="must be a landscapes.paths.Path"):
        measure(net, None, (x, y), [GradientNorm()])
    with pytest.raises(TypeError, match="not a point measure"):
        evaluate(net, path, (x, y), measures=["gradient"], device="cpu", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_gives_the_cpu_numbers():
    net, (x, y) = mlp(bn=True), data(64)
    path = plane_path(net)
    kwargs = dict(bn="recompute", bn_batches=2, batch_size=16, progress=False)
    on = [GradientNorm(), RandomSlopes(seed=2), FullLoss()]
    cpu = measure(net, path, (x, y), on, device="cpu", **kwargs)
    gpu = measure(net, path, (x, y), on, device="cuda", **kwargs)
    for name in cpu.data_vars:
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-9, err_msg=name)
