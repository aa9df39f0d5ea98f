"""Models whose forward returns a dict or a tuple: ``output=`` on every engine path."""

from __future__ import annotations

import copy
import logging
from collections import namedtuple

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.engine.outputs import describe, reader

LOGGER = "landscapes.engine"
Pair = namedtuple("Pair", ["logits", "aux"])


class Wrapped(nn.Module):
    """``body``'s output, returned as ``kind`` with an auxiliary entry next to it."""

    def __init__(self, body: nn.Module, kind: str) -> None:
        super().__init__()
        self.body, self.kind = body, kind

    def forward(self, x: torch.Tensor):
        logits = self.body(x)
        aux = logits.detach().abs().mean()
        if self.kind == "dict":
            return {"aux": aux, "logits": logits, "note": "not a tensor"}
        if self.kind == "tuple":
            return logits, aux, None
        if self.kind == "namedtuple":
            return Pair(logits, aux)
        return logits


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3))


def conv_bn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3))


def conv_bn_conv():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1),
                         nn.Flatten(), nn.Linear(16, 3))


class DataDependent(nn.Module):
    """Python control flow on tensor values: vmap cannot run it, the loop must."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out if float(out.sum()) < 1e30 else -out


READ = {"dict": "logits", "tuple": 0, "namedtuple": "logits", "callable": lambda out: out["logits"]}
KIND = {"dict": "dict", "tuple": "tuple", "namedtuple": "namedtuple", "callable": "dict"}


def setup(builder, kind, seed=0):
    torch.manual_seed(seed)
    body = builder().double()
    anchors = []
    for k in range(4):
        gen = torch.Generator().manual_seed(seed + k)
        anchors.append({
            n: (v + 0.3 * torch.randn(v.shape, generator=gen, dtype=v.dtype)).abs() if n.endswith("running_var")
            else v + 0.3 * torch.randn(v.shape, generator=gen, dtype=v.dtype) if v.is_floating_point() else v
            for n, v in body.state_dict().items()
        })
    gen = torch.Generator().manual_seed(seed + 10)
    x = torch.randn(48, 1, 4, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (48,), generator=gen)
    wrapped = Wrapped(copy.deepcopy(body), kind)
    prefixed = [{f"body.{n}": v for n, v in a.items()} for a in anchors]
    return body, anchors, wrapped, prefixed, x, y


@pytest.mark.parametrize("read", sorted(READ))
@pytest.mark.parametrize(
    "builder, bn, how",
    [
        (mlp, "interpolate", ["first-layer reuse on"]),  # vmapped, with reuse
        (conv_bn, "recompute", ["first-layer reuse on"]),  # vmapped, BN statistics in one pass
        (conv_bn_conv, "recompute", ["first-layer reuse on", "one after another"]),  # looped, reuse
        (DataDependent, "interpolate", ["torch.vmap failed"]),  # the plain loop
    ],
)
def test_reading_the_output_gives_the_numbers_of_the_plain_tensor_model(builder, bn, how, read, caplog):
    body, anchors, wrapped, prefixed, x, y = setup(builder, KIND[read])
    wrapped.kind = KIND[read]
    train, test = (x[:32], y[:32]), (x[32:], y[32:])
    options = {"bn": bn, "bn_batches": 2, "device": "cpu", "batch_size": 16, "chunk_size": 3,
               "progress": False}
    plain = evaluate(body, paths.bilinear(*anchors, [0.0, 0.5, 1.0], [0.0, 1.0]),
                     {"train": train, "test": test}, reference=anchors[1],
                     metrics={"mean_logit": lambda o, t: o.mean()}, **options)
    # A user's metric receives what the model returns, and reads the logits itself.
    own = reader(READ[read])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        ds = evaluate(wrapped, paths.bilinear(*prefixed, [0.0, 0.5, 1.0], [0.0, 1.0]),
                      {"train": train, "test": test}, reference=prefixed[1], output=READ[read],
                      metrics={"mean_logit": lambda o, t: own(o).mean()}, **options)
    for message in how:  # the engine path this case is meant to exercise really ran
        assert message in caplog.text
    for name in ("loss", "error", "mean_logit", "divergence"):
        np.testing.assert_allclose(ds[name].values, plain[name].values, rtol=1e-12, atol=1e-15)
    assert np.isfinite(ds.divergence.values).all() and (ds.divergence.values > 0).any()


def test_output_is_recorded_in_the_hyperparameters():
    _, _, wrapped, prefixed, x, y = setup(mlp, "dict")

    def logits(out):
        return out["logits"]

    for output, recorded in (("logits", '"output": "logits"'), (logits, '"output": "logits"')):
        ds = evaluate(wrapped, paths.linear(*prefixed[:2], [0.0, 1.0]), (x, y), output=output,
                      device="cpu", progress=False)
        assert recorded in ds.attrs["hyperparameters"]
    wrapped.kind = "tuple"
    ds = evaluate(wrapped, paths.linear(*prefixed[:2], [0.0, 1.0]), (x, y), output=0, device="cpu", progress=False)
    assert '"output": 0' in ds.attrs["hyperparameters"]
    body, anchors, *_ = setup(mlp, "dict")
    ds = evaluate(body, paths.linear(*anchors[:2], [0.0]), (x, y), device="cpu", progress=False)
    assert '"output"' not in ds.attrs["hyperparameters"]  # nothing to record for a tensor


def test_a_dict_without_output_is_one_clear_error_for_the_built_in_loss():
    _, _, wrapped, prefixed, x, y = setup(mlp, "dict")
    with pytest.raises(TypeError) as info:
        evaluate(wrapped, paths.linear(*prefixed[:2], [0.0, 1.0]), (x, y), device="cpu", progress=False)
    message = str(info.value)
    assert "returned a dict with keys ['aux' (Tensor () float64), 'logits' (Tensor (8, 3) float64)" in message
    assert "evaluate(..., output='logits')" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "kind, output, exc, message",
    [
        ("tuple", None, TypeError, r"returned a tuple of 3: \(Tensor \(8, 3\) float64, Tensor \(\) float64, NoneType\).*output=0\)"),
        ("dict", "scores", ValueError, r"output='scores': the model returned a dict with keys \['aux'"),
        ("dict", 0, TypeError, r"output=0 reads an index, but the model returned a dict.*pass a key"),
        ("tuple", 5, ValueError, r"output=5: the model returned a tuple of 3.*no such index"),
        ("tuple", 2, TypeError, r"output=2 gave a NoneType; it must give a tensor"),
        ("tensor", "logits", TypeError, r"output='logits' reads a key, but the model returned a Tensor.*output=None"),
        ("tensor", 0, TypeError, r"output=0 reads an index, but the model returned a Tensor"),
        ("dict", lambda out: out["note"], TypeError, r"output=<lambda> gave a str; it must give a tensor"),
        ("dict", "note", TypeError, r"output='note' gave a str"),
    ],
)
def test_output_that_does_not_fit_the_model_is_one_clear_error(kind, output, exc, message):
    _, _, wrapped, prefixed, x, y = setup(mlp, kind)
    with pytest.raises(exc, match=message):
        evaluate(wrapped, paths.linear(*prefixed[:2], [0.0, 1.0]), (x, y), output=output,
                 device="cpu", progress=False)


@pytest.mark.parametrize("output", [1.5, True, ["logits"], b"logits"])
def test_invalid_output_values_are_refused_before_any_work(output):
    _, _, wrapped, prefixed, x, y = setup(mlp, "dict")
    with pytest.raises(TypeError, match=r"output must be a key \(str\), an index \(int\), a callable"):
        evaluate(wrapped, paths.linear(*prefixed[:2], [0.0]), (x, y), output=output, device="cpu")


def test_describe_names_the_structure():
    assert describe(Pair(torch.zeros(2, 3), 1)) == "a Pair of 2: (Tensor (2, 3) float32, int)"
    assert describe(torch.zeros(2, dtype=torch.long)) == "a Tensor (2,) int64"
    assert describe({str(i): i for i in range(10)}).endswith("'7' (int), ...]")
