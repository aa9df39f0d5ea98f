"""Mode-connecting curves: trained through the run store, lower than the line between two MLPs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from experiments import train as train_module
from experiments.checkpoints import RunFileError
from experiments.config import experiment
from experiments.curves import Curve, curve_config, curve_path
from experiments.models import build
from experiments.remote import receive, train_task
from experiments.spawn import inputs
from experiments.store import Run
from experiments.train import train
from landscapes import engine, paths

pytestmark = pytest.mark.usefixtures("data_root")

#: Two LeNet-300-100s from different inits, one epoch on 8192 MNIST examples each.
END = dict(epochs=1, train_examples=8192, optimizer="sgd", lr=0.1)
#: The bend's training: 256 iterations at batch 128.
BEND = dict(epochs=4, train_examples=8192, lr=0.1)


def fit(config, root, **kwargs):
    return train(config, runs_dir=root, device="cpu", progress=False, threads=1, **kwargs)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    ends = [fit(experiment("mnist_mlp", init_seed=s, data_seed=s, **END), root) for s in (0, 1)]
    return root, ends


@pytest.fixture(scope="module")
def bezier_run(store):
    root, ends = store
    return fit(curve_config(*ends, "bezier", **BEND), root)


def barrier(loss: np.ndarray, t: np.ndarray) -> float:
    """Largest excess of the loss over the chord between its ends."""
    return float(np.max(loss - ((1 - t) * loss[0] + t * loss[-1])))


def test_a_trained_curve_has_a_lower_barrier_than_the_line(store, bezier_run, mnist_test):
    _, (a, b) = store
    x, y = mnist_test
    data = (x[:2000], y[:2000])
    t = np.linspace(0, 1, 11)
    net = build("mnist_mlp")
    line = engine.evaluate(net, paths.linear(a.final, b.final, t), data, device="cpu",
                           progress=False).loss.values.ravel()
    curve = engine.evaluate(net, curve_path(bezier_run, t), data, device="cpu",
                            progress=False).loss.values.ravel()
    assert curve[0] == pytest.approx(line[0]) and curve[-1] == pytest.approx(line[-1])
    assert barrier(line, t) > 0.1  # two inits: a real barrier on the line
    assert barrier(curve, t) < 0.5 * barrier(line, t)


def test_the_curve_keeps_its_ends_and_starts_at_their_midpoint(store, bezier_run):
    _, (a, b) = store
    p = curve_path(bezier_run, [0.0, 1.0])
    assert all(torch.equal(p.point(0)[k], a.final[k]) for k in a.final)
    assert all(torch.equal(p.point(1)[k], b.final[k]) for k in b.final)
    start = bezier_run.state(0)
    assert all(torch.allclose(start[k], (a.final[k] + b.final[k]) / 2) for k in start)
    assert bezier_run.summary["curve_t"] == 0.5


def test_an_interrupted_curve_resumes_to_the_same_bend(store, bezier_run, tmp_path, monkeypatch):
    root, ends = store
    config = bezier_run.config
    for end in ends:  # the same endpoints in a second store
        target = tmp_path / end.path.relative_to(root)
        target.mkdir(parents=True)
        for f in ("config.json", f"checkpoints/it{end.summary['iterations']:08d}.pt"):
            (target / f).parent.mkdir(exist_ok=True)
            (target / f).write_bytes((end.path / f).read_bytes())
    original = train_module._Trainer._train_step

    def interrupted(self, inputs_, targets):
        if self.step == 100:
            raise KeyboardInterrupt
        return original(self, inputs_, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(config, tmp_path)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    assert (Run(config, 0, tmp_path).path / "resume.pt").exists()
    again = fit(config, tmp_path)
    assert all(torch.equal(again.final[k], bezier_run.final[k]) for k in bezier_run.final)


def test_a_polychain_trains_on_a_worker_without_the_store(store, tmp_path, monkeypatch):
    root, ends = store
    config = curve_config(*ends, "polychain", epochs=0.25, train_examples=8192, lr=0.1)
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "worker-home"))
    needs = inputs(Run(config, 0, root))
    assert len(needs) == 4  # each endpoint's config and final weights
    trained = train_task(config, 0, store=str(tmp_path / "client"), token=None, data_dir=None,
                         device="cpu", torch_threads=1, inputs=needs)
    assert "summary.json" in trained.files
    here = fit(config, root)
    run = receive(trained, config, tmp_path / "client")
    assert all(torch.equal(run.final[k], here.final[k]) for k in here.final)


def test_a_missing_endpoint_is_named(store, tmp_path):
    _, ends = store
    config = curve_config(*ends, "bezier", epochs=0.1, train_examples=1024)
    with pytest.raises(RunFileError) as error:
        fit(config, tmp_path)
    assert "\n" not in str(error.value) and "train it first" in str(error.value)


def test_curve_configs_are_checked(store):
    _, (a, b) = store
    with pytest.raises(ValueError, match="different networks"):
        curve_config(a, Run(experiment("mnist_relu")), "bezier")
    with pytest.raises(ValueError, match="unknown curve"):
        curve_config(a, b, "spline")
    with pytest.raises(ValueError, match="two runs"):
        experiment("mnist_mlp", curve="bezier", curve_ends=("x",))
    with pytest.raises(ValueError, match="needs a curve kind"):
        experiment("mnist_mlp", curve_ends=(a.path.parent.name + "/replicate_0",) * 2)


def test_any_module_trains_only_its_bend_and_keeps_its_running_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    a, b = ({k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in net.state_dict().items()} for _ in range(2))
    curve = Curve("bezier", a, b, net)
    net.load_state_dict(curve.midpoint())
    stats = net[1].running_mean.clone()
    x = torch.randn(8, 3)
    net.train()
    at_a = curve.forward(net, x, 0.0)
    reference = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    reference.load_state_dict(a)
    assert torch.allclose(at_a, reference.train()(x))
    curve.forward(net, x, 0.5).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert torch.equal(net[1].running_mean, stats)  # the point's buffers, not the bend's


def test_the_engine_recomputes_batch_norm_along_a_curve_and_its_ends_are_the_endpoints():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    a, bend, b = ({k: torch.randn_like(v) if v.is_floating_point() else v
                   for k, v in net.state_dict().items()} for _ in range(3))
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    kwargs = dict(device="cpu", progress=False, bn="recompute", bn_data=(x, y), batch_size=32)
    curve = engine.evaluate(net, paths.bezier(a, bend, b, [0.0, 0.5, 1.0]), (x, y), **kwargs)
    line = engine.evaluate(net, paths.linear(a, b, [0.0, 1.0]), (x, y), **kwargs)
    assert json.loads(curve.attrs["hyperparameters"])["bn"] == "recompute"
    values, ends = curve.loss.values.ravel(), line.loss.values.ravel()
    assert values[0] == pytest.approx(ends[0], rel=1e-6)
    assert values[-1] == pytest.approx(ends[-1], rel=1e-6)
    assert np.isfinite(values).all()
