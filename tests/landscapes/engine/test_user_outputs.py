"""User losses, errors and metrics receive what the model returns (dict, tuple,
``ModelOutput``); ``output=`` reads the tensor for torch's own loss and the error."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.engine.measures import takes_tensor


class ModelOutput(OrderedDict):
    """Hugging Face's ``ModelOutput`` in miniature: a dict whose keys are attributes,
    indexable by position (``to_tuple``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        return self.to_tuple()[key] if isinstance(key, int) else super().__getitem__(key)

    def to_tuple(self) -> tuple:
        return tuple(self.values())


class Returning(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        self.kind = kind

    def forward(self, x: torch.Tensor):
        logits = self.body(x)
        if self.kind == "dict":
            return {"logits": logits, "hidden": x, "note": "not a tensor"}
        if self.kind == "tuple":
            return logits, x
        if self.kind == "model_output":
            return ModelOutput(logits=logits, hidden=x)
        return logits


def logits_of(out):
    if isinstance(out, torch.Tensor):
        return out
    return out[0] if isinstance(out, tuple) else out["logits"]


def setup(kind: str):
    torch.manual_seed(3)
    model = Returning(kind)
    other = {k: v + 0.5 * torch.randn_like(v) for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(40, 6, generator=gen), torch.randint(0, 3, (40,), generator=gen)
    return model, paths.linear(model, other, [0.0, 0.5, 1.0]), x, y


OPTIONS = {"device": "cpu", "progress": False, "batch_size": 16}
OUTPUT = {"dict": "logits", "tuple": 0, "model_output": "logits"}


@pytest.mark.parametrize("kind", sorted(OUTPUT))
def test_a_users_loss_error_and_metric_receive_the_models_output(kind):
    model, line, x, y = setup(kind)
    seen = []

    def loss(out, t):
        seen.append(type(out))
        return nn.functional.cross_entropy(logits_of(out), t)

    def error(out, t):
        return (logits_of(out).argmax(1) != t).double().mean()

    metrics = {"hidden": lambda out, t: (out[1] if isinstance(out, tuple) else out["hidden"]).pow(2).mean()}
    ds = evaluate(model, line, (x, y), loss_fn=loss, error=error, metrics=metrics, output=OUTPUT[kind], **OPTIONS)
    model.kind = "tensor"
    plain = evaluate(model, line, (x, y), **OPTIONS)
    assert seen and all(t is not torch.Tensor for t in seen)
    np.testing.assert_allclose(ds.loss.values, plain.loss.values, rtol=1e-5)
    np.testing.assert_allclose(ds.error.values, plain.error.values)
    np.testing.assert_allclose(ds.hidden.values, float(x.pow(2).mean()), rtol=1e-5)


def test_without_output_the_users_loss_runs_and_the_auto_error_is_nan_with_a_warning():
    model, line, x, y = setup("dict")
    loss = lambda out, t: nn.functional.cross_entropy(out["logits"], t)
    with pytest.warns(UserWarning, match=r"error='auto' is NaN.*output="):
        ds = evaluate(model, line, (x, y), loss_fn=loss, **OPTIONS)
    model.kind = "tensor"
    plain = evaluate(model, line, (x, y), **OPTIONS)
    np.testing.assert_allclose(ds.loss.values, plain.loss.values, rtol=1e-5)
    assert np.isnan(ds.error.values).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.kind = "dict"
        evaluate(model, line, (x, y), loss_fn=loss, error=None, **OPTIONS)


def test_torchs_own_loss_and_metrics_still_receive_the_tensor_output_reads():
    model, line, x, y = setup("model_output")
    ds = evaluate(model, line, (x, y), loss_fn=nn.CrossEntropyLoss(), output="logits",
                  metrics={"nll": nn.functional.cross_entropy}, per_example=True, **OPTIONS)
    np.testing.assert_allclose(ds.nll.values, ds.loss.values, rtol=1e-6)
    np.testing.assert_allclose(ds.loss_per_example.mean("example").values, ds.loss.values, rtol=1e-5)


def test_a_divergence_without_output_is_the_clear_error():
    model, line, x, y = setup("dict")
    with pytest.raises(TypeError, match=r"returned a dict with keys \['logits'.*output='logits'"):
        evaluate(model, line, (x, y), loss_fn=lambda out, t: out["logits"].mean(), error=None,
                 reference=line.anchors[1], **OPTIONS)


def test_takes_tensor_tells_torchs_callables_from_the_users():
    import functools

    assert takes_tensor(nn.MSELoss()) and takes_tensor(functools.partial(nn.functional.cross_entropy))
    assert not takes_tensor(lambda o, t: o) and not takes_tensor(logits_of)
