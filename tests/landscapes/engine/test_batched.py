"""The batched engine (stacked points, first-layer reuse, memory budget, batch norm
recompute in one pass) against a hand-written per-point loop."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.engine.first_layer import find

LOGGER = "landscapes.engine"


def plain_loop(model, path, x, y, batch_size=16, bn_data=None, bn_batches=2):
    """load_state_dict at each point (and a cumulative batch norm re-estimate), then forward."""
    net = copy.deepcopy(model).eval()
    loss, err = [], []
    for i in range(len(path)):
        net.load_state_dict(path.point(i), strict=False)
        with torch.no_grad():
            if bn_data is not None:
                net.train()
                for m in net.modules():
                    if isinstance(m, nn.Dropout):
                        m.eval()  # dropout off while estimating
                    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.reset_running_stats()
                        m.momentum = None  # cumulative average
                for s in range(0, bn_batches * batch_size, batch_size):
                    net(bn_data[s : s + batch_size])
                net.eval()
            total, wrong = 0.0, 0.0
            for s in range(0, len(x), batch_size):
                out = net(x[s : s + batch_size])
                total += float(nn.functional.cross_entropy(out, y[s : s + batch_size])) * len(out)
                wrong += float((out.argmax(1) != y[s : s + batch_size]).sum())
        loss.append(total / len(x))
        err.append(wrong / len(x))
    return np.array(loss).reshape(path.shape), np.array(err).reshape(path.shape)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3))


def conv():
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(4, 3),
    )


def conv_bn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(4, 4, 1),
        nn.Flatten(), nn.Linear(16, 3),
    )


MODELS = {"mlp": mlp, "conv": conv, "conv_bn": conv_bn}


def anchors(builder, dtype, n, seed=0):
    """A model and ``n`` anchors around its initialisation (batch norm statistics
    perturbed too, variances kept positive)."""
    torch.manual_seed(seed)
    net = builder().to(dtype)
    base = copy.deepcopy(net.state_dict())
    out = []
    for k in range(n):
        gen = torch.Generator().manual_seed(seed + k)
        out.append({
            name: (v + 0.3 * torch.randn(v.shape, generator=gen, dtype=v.dtype)).abs()
            if name.endswith("running_var")
            else v + 0.3 * torch.randn(v.shape, generator=gen, dtype=v.dtype)
            if v.is_floating_point() else v
            for name, v in base.items()
        })
    return net, out


def make_path(kind, points):
    if kind == "linear":
        return paths.linear(*points[:2], np.linspace(-0.5, 1.5, 5))
    if kind == "bilinear":
        return paths.bilinear(*points[:4], [0.0, 0.3, 1.0], [0.0, 1.0])
    if kind == "barycentric":
        return paths.barycentric(*points[:3], [0.0, 0.5, 1.0], [0.0, 0.5, 1.0])
    return paths.plane(points[0], points[1], points[2], [-1.0, 0.0, 1.0], [-0.5, 0.5],
                       normalization=None)


def data(dtype, n=48, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 4, 4, generator=gen).to(dtype), torch.randint(0, 3, (n,), generator=gen)


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("kind", ["linear", "bilinear", "barycentric", "plane"])
def test_batched_engine_equals_per_point_loop(model, kind, dtype, rtol, caplog):
    net, points = anchors(MODELS[model], dtype, 4)
    path = make_path(kind, points)
    x, y = data(dtype)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, progress=False)
    assert "first-layer reuse on" in caplog.text  # the fast path really ran
    loss, err = plain_loop(net, path, x, y)
    np.testing.assert_allclose(ds.loss.values, loss, rtol=rtol)
    np.testing.assert_allclose(ds.error.values, err, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "bilinear"])
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_bn_recompute_in_one_pass_equals_per_point_reestimate(kind, dtype, rtol):
    net, points = anchors(conv_bn, dtype, 4, seed=3)
    path = make_path(kind, points)
    x, y = data(dtype, seed=2)
    train, test = (x[:32], y[:32]), (x[32:], y[32:])
    ds = evaluate(net, path, {"train": train, "test": test}, bn="recompute", bn_batches=2,
                  device="cpu", batch_size=16, chunk_size=3, progress=False)
    loss, err = plain_loop(net, path, *test, bn_data=train[0])
    np.testing.assert_allclose(ds.loss.sel(split="test").values, loss, rtol=rtol)
    np.testing.assert_allclose(ds.error.sel(split="test").values, err, atol=1e-12)


class Scaled(nn.Module):
    """The first layer's input depends on a parameter: reuse would be wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.body = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * self.scale)


class DataDependent(nn.Module):
    """Python control flow on tensor values: vmap cannot run it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out if float(out.sum()) < 1e30 else -out


class Reused(nn.Module):
    """The first layer runs twice per forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(16, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.first(torch.tanh(self.first(x.flatten(1))))))


@pytest.mark.parametrize(
    "builder, reason",
    [
        (lambda: nn.Sequential(nn.Flatten(), nn.LayerNorm(16), mlp()), "is a LayerNorm"),
        (Scaled, "depends on the parameters"),
        (Reused, "runs 2 times"),
        (DataDependent, "point by point"),
    ],
)
def test_fallbacks_give_the_same_numbers_and_say_why(builder, reason, caplog):
    net, points = anchors(builder, torch.float64, 2)
    path = make_path("linear", points)
    x, y = data(torch.float64)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, progress=False)
    assert reason in caplog.text
    loss, err = plain_loop(net, path, x, y)
    np.testing.assert_allclose(ds.loss.values, loss, rtol=1e-10)
    np.testing.assert_allclose(ds.error.values, err, atol=1e-12)


def test_first_layer_found_through_containers_and_flatten():
    net, points = anchors(mlp, torch.float32, 2)
    assert find(net, points, torch.randn(4, 1, 4, 4)) == ("1", "")


def test_memory_budget_and_chunks_do_not_change_results():
    net, points = anchors(mlp, torch.float64, 4)
    path = make_path("bilinear", points)
    x, y = data(torch.float64)
    ref = evaluate(net, path, (x, y), device="cpu", batch_size=16, progress=False)
    # a budget below one point's batch splits batches; tiny chunks run one point each
    for kwargs in ({"memory": 4096}, {"chunk_size": 1}, {"chunk_size": 4, "memory": 10**9}):
        ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, progress=False, **kwargs)
        np.testing.assert_allclose(ds.loss.values, ref.loss.values, rtol=1e-12)
        np.testing.assert_array_equal(ds.error.values, ref.error.values)


def test_bfloat16_is_close_to_float32_and_recorded():
    net, points = anchors(conv, torch.float32, 2)
    path = make_path("linear", points)
    x, y = data(torch.float32)
    full = evaluate(net, path, (x, y), device="cpu", progress=False)
    half = evaluate(net, path, (x, y), device="cpu", precision="bfloat16", progress=False)
    assert half.loss.dtype == np.float64
    np.testing.assert_allclose(half.loss.values, full.loss.values, rtol=5e-2)
    assert '"precision": "bfloat16"' in half.attrs["hyperparameters"]


def test_model_is_restored_even_when_a_loss_raises():
    net, points = anchors(mlp, torch.float32, 2)
    path = make_path("linear", points)
    x, y = data(torch.float32)

    def failing(out, t):
        raise KeyboardInterrupt  # mid-run, while the first layer's forward is replaced

    with pytest.raises(KeyboardInterrupt):
        evaluate(net, path, (x, y), loss_fn=failing, device="cpu", progress=False)
    layer = net[1]
    assert "forward" not in vars(layer)
    assert not layer._forward_hooks and not layer._forward_pre_hooks
    assert net[1](torch.ones(2, 16)).shape == (2, 12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"memory": 0}, "memory must be a positive number of bytes"),
        ({"memory": 1.5}, "memory must be a positive number of bytes"),
        ({"precision": "int8"}, "unknown precision 'int8'"),
    ],
)
def test_invalid_engine_options(kwargs, message):
    net, points = anchors(mlp, torch.float32, 2)
    with pytest.raises(ValueError, match=message):
        evaluate(net, make_path("linear", points), data(torch.float32), device="cpu", **kwargs)


@pytest.mark.parametrize("bn", ["interpolate", "recompute"])
@pytest.mark.parametrize("model", ["conv", "conv_bn"])
def test_vmapped_convolutions_equal_per_point_loop(model, bn, monkeypatch, caplog):
    # On CPU the engine runs conv nets point by point; the vmapped (GPU) way must agree too.
    monkeypatch.setattr("landscapes.engine.sweep._later_convolutions", lambda net, first: False)
    net, points = anchors(MODELS[model], torch.float64, 4, seed=5)
    path = make_path("bilinear", points)
    x, y = data(torch.float64, seed=4)
    train, test = (x[:32], y[:32]), (x[32:], y[32:])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, {"train": train, "test": test}, bn=bn, bn_batches=2,
                      device="cpu", batch_size=16, chunk_size=4, progress=False)
    assert "first-layer reuse on" in caplog.text and "one after another" not in caplog.text
    bn_data = train[0] if bn == "recompute" and model == "conv_bn" else None
    loss, err = plain_loop(net, path, *test, bn_data=bn_data)
    np.testing.assert_allclose(ds.loss.sel(split="test").values, loss, rtol=1e-10)
    np.testing.assert_allclose(ds.error.sel(split="test").values, err, atol=1e-12)


class ViewFlatten(nn.Module):
    """Flattens a 2 × 2 feature map with ``.view``, which channels-last input breaks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.mix = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mix(torch.relu(self.conv(x)))
        return self.head(h.view(h.shape[0], -1))


def conv_bn_rgb():
    # two input channels: with one, channels-last and channels-first are the same layout
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1),
                         nn.Flatten(), nn.Linear(16, 3))


@pytest.mark.parametrize("builder, layout", [(conv_bn_rgb, "images go channels-last"),
                                             (ViewFlatten, "images stay channels-first")])
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_channels_last_only_where_the_outputs_stay_the_same(builder, layout, dtype, rtol, caplog):
    net, points = anchors(builder, dtype, 2, seed=6)
    path = make_path("linear", points)
    gen = torch.Generator().manual_seed(7)
    x, y = torch.randn(48, 2, 4, 4, generator=gen).to(dtype), torch.randint(0, 3, (48,), generator=gen)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, progress=False)
    assert layout in caplog.text
    loss, err = plain_loop(net, path, x, y)
    np.testing.assert_allclose(ds.loss.values, loss, rtol=rtol)
    np.testing.assert_allclose(ds.error.values, err, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_bn_recompute_with_channels_last_images(dtype, rtol, caplog):
    net, points = anchors(conv_bn_rgb, dtype, 4, seed=8)
    path = make_path("bilinear", points)
    gen = torch.Generator().manual_seed(9)
    x, y = torch.randn(48, 2, 4, 4, generator=gen).to(dtype), torch.randint(0, 3, (48,), generator=gen)
    train, test = (x[:32], y[:32]), (x[32:], y[32:])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, {"train": train, "test": test}, bn="recompute", bn_batches=2,
                      device="cpu", batch_size=16, progress=False)
    assert "images go channels-last" in caplog.text
    loss, err = plain_loop(net, path, *test, bn_data=train[0])
    np.testing.assert_allclose(ds.loss.sel(split="test").values, loss, rtol=rtol)
    np.testing.assert_allclose(ds.error.sel(split="test").values, err, atol=1e-12)


class Residual(nn.Module):
    """conv-bn-relu, conv-bn, + shortcut, relu, on two-channel 4 × 4 images."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.conv1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
        self.conv2 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        h = nn.functional.relu(self.conv2(nn.functional.relu(self.conv1(h))) + h)
        return self.head(h.mean(dim=(2, 3)))


def rgb_data(dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(48, 2, 4, 4, generator=gen).to(dtype), torch.randint(0, 3, (48,), generator=gen)


@pytest.mark.parametrize("bn", ["interpolate", "recompute"])
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_batch_norm_folded_into_convolutions_equals_per_point_loop(bn, dtype, rtol, caplog):
    net, points = anchors(Residual, dtype, 4, seed=10)
    path = make_path("bilinear", points)
    x, y = rgb_data(dtype, 11)
    train, test = (x[:32], y[:32]), (x[32:], y[32:])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(net, path, {"train": train, "test": test}, bn=bn, bn_batches=2,
                      device="cpu", batch_size=16, progress=False)
    assert "batch norm folded: 3 convolution" in caplog.text  # the fast path really ran
    assert "images go channels-last" in caplog.text
    loss, err = plain_loop(net, path, *test, bn_data=train[0] if bn == "recompute" else None)
    np.testing.assert_allclose(ds.loss.sel(split="test").values, loss, rtol=rtol)
    np.testing.assert_allclose(ds.error.sel(split="test").values, err, atol=1e-12)


@pytest.mark.parametrize("bn", ["interpolate", "recompute"])
def test_bfloat16_with_folded_batch_norm_is_close_to_float32(bn):
    # bf16 keeps 8 significant bits; the statistics passes run in bf16 too
    net, points = anchors(Residual, torch.float32, 2, seed=12)
    path = make_path("linear", points)
    x, y = rgb_data(torch.float32, 13)
    data = {"train": (x[:32], y[:32]), "test": (x[32:], y[32:])}
    kw = dict(bn=bn, bn_batches=2, device="cpu", batch_size=16, progress=False)
    full = evaluate(net, path, data, **kw)
    half = evaluate(net, path, data, precision="bfloat16", **kw)
    np.testing.assert_allclose(half.loss.values, full.loss.values, rtol=2e-2)
    assert '"precision": "bfloat16"' in half.attrs["hyperparameters"]
    assert '"precision": "float32"' in full.attrs["hyperparameters"]


def test_bn_recompute_runs_its_statistics_passes_in_the_asked_precision(monkeypatch):
    net, points = anchors(Residual, torch.float32, 2, seed=14)
    x, y = rgb_data(torch.float32, 15)
    seen = []
    real = nn.functional.batch_norm

    def spy(input, *args, **kwargs):
        if kwargs.get("training", args[4] if len(args) > 4 else False):
            seen.append(input.dtype)
        return real(input, *args, **kwargs)

    monkeypatch.setattr(nn.functional, "batch_norm", spy)
    evaluate(net, make_path("linear", points), {"train": (x, y), "test": (x, y)}, bn="recompute",
             precision="bfloat16", device="cpu", batch_size=16, progress=False)
    assert seen and set(seen) == {torch.bfloat16}


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_not_a_number_stays_so_with_folded_batch_norm(precision):
    # Beyond the anchors the interpolated running variance turns negative: batch norm
    # gives NaN there, and so must the folded convolution (oneDNN's ReLU would hide it).
    net, (a, b) = anchors(Residual, torch.float32, 2, seed=16)
    a["conv1.1.running_var"].fill_(1.0)
    b["conv1.1.running_var"].fill_(3.0)
    path = paths.linear(a, b, [-1.0, 0.0, 0.5, 1.0])  # variance −1 at α = −1
    x, y = rgb_data(torch.float32, 17)
    ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, precision=precision, progress=False)
    assert np.isnan(ds.loss.values[0]) and np.isfinite(ds.loss.values[1:]).all()
    x[5, 0, 1, 1] = float("nan")  # and a NaN in the data reaches the loss
    ds = evaluate(net, path, (x, y), device="cpu", batch_size=16, precision=precision, progress=False)
    assert np.isnan(ds.loss.values).all()
