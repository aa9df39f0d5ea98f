"""Runs trained elsewhere: their files come back whole, unfinished runs travel and resume."""

from __future__ import annotations

import pytest
import torch

from experiments import remote
from experiments import train as train_module
from experiments.config import experiment
from experiments.remote import MARKER, Store, Trained, pack, receive, train_task
from experiments.store import Run
from experiments.train import train

pytestmark = pytest.mark.usefixtures("data_root")


def tiny(**changes):
    base = dict(epochs=2, batch_size=64, train_examples=512, checkpoints=(3, 5))
    return experiment("mnist_mlp", **{**base, **changes})


def same_run(a: Run, b: Run) -> bool:
    if a.iterations != b.iterations:
        return False
    return all(all(torch.equal(x, y) for x, y in zip(a.state(t).values(), b.state(t).values()))
               for t in a.iterations)


def test_a_run_trained_without_the_clients_disk_comes_back_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "worker-home"))
    config = tiny()
    trained = train_task(config, 0, store=str(tmp_path / "client"), token=None,
                         data_dir=None, device="cpu")
    assert trained.files and "summary.json" in trained.files
    assert not any(name.startswith("resume") for name in trained.files)
    assert not (tmp_path / "client").exists()  # nothing written on the client's side
    run = receive(trained, config, tmp_path / "client")
    assert run.done and run.summary == Run(config, 0, tmp_path / "worker-home" / "scratch" /
                                           "runs").summary
    assert same_run(run, train(config, runs_dir=tmp_path / "here", device="cpu"))


def test_a_worker_that_sees_the_store_trains_in_place(tmp_path):
    config = tiny()
    with Store(tmp_path / "client") as store:
        assert (store.root / (MARKER + store.token)).exists()
        trained = train_task(config, 1, store=str(store.root), token=store.token,
                             data_dir=None, device="cpu")
    assert not list(store.root.glob(MARKER + "*"))  # the marker goes with the cluster
    assert trained.files is None and trained.nbytes == 0
    assert receive(trained, config, tmp_path / "client").done


def test_an_unfinished_run_travels_and_resumes_to_the_same_weights(tmp_path, monkeypatch):
    config = tiny(optimizer="momentum", momentum=0.9)
    reference = train(config, runs_dir=tmp_path / "reference", device="cpu")
    original = train_module._Trainer._train_step

    def interrupted(self, inputs, targets):
        if self.step == 9:
            raise KeyboardInterrupt
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, runs_dir=tmp_path / "client", device="cpu")
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    partial = Run(config, 0, tmp_path / "client")
    files = pack(partial, resume=True)
    assert "resume.pt" in files and "summary.json" not in files
    saved = torch.load(partial.path / "resume.pt", weights_only=True)["step"]
    assert saved > 0

    steps = []

    def counted(self, inputs, targets):
        steps.append(self.step)
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", counted)
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "worker-home"))
    trained = train_task(config, 0, store=str(tmp_path / "client"), token=None, data_dir=None,
                         device="cpu", partial=files)
    assert steps[0] == saved  # resumed where the client stopped, not from the start
    run = receive(trained, config, tmp_path / "client")
    assert run.done and not (run.path / "resume.pt").exists()
    assert same_run(run, reference)


def test_a_finished_run_is_never_replaced(tmp_path):
    config = tiny()
    run = train(config, runs_dir=tmp_path, device="cpu")
    before = (run.path / "summary.json").read_bytes()
    forged = {name: b"other" for name in pack(run)}
    receive(Trained(config.name, 0, forged, "elsewhere"), config, tmp_path)
    assert (run.path / "summary.json").read_bytes() == before


def test_files_are_written_inside_the_run_and_the_summary_last(tmp_path, monkeypatch):
    config = tiny()
    with pytest.raises(ValueError, match="outside"):
        receive(Trained(config.name, 0, {"../escape": b"x", "summary.json": b"{}"}, "h"),
                config, tmp_path)
    with pytest.raises(ValueError, match="without its summary"):
        receive(Trained(config.name, 0, {"config.json": b"{}"}, "h"), config, tmp_path)
    order = []
    monkeypatch.setattr(remote, "atomic_write", lambda path, write: order.append(path.name))
    receive(Trained(config.name, 0, {"summary.json": b"{}", "checkpoints/it1.pt": b"",
                                     "config.json": b"{}"}, "h"), config, tmp_path)
    assert order[-1] == "summary.json" and len(order) == 3
