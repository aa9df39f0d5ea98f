"""Spawned children: they start exactly where the parent was, and differ only by their noise."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch

from experiments import train as train_module
from experiments.checkpoints import RunFileError
from experiments.config import experiment
from experiments.remote import receive, train_task
from experiments.replicates import train_replicates
from experiments.spawn import children, epoch_order
from experiments.store import Run
from experiments.train import train

pytestmark = pytest.mark.usefixtures("data_root")

#: 16 iterations (8 per epoch) with momentum and a rate drop at 10: the optimizer's
#: state and the schedule's position both matter after a spawn at 5.
PER_EPOCH, K = 8, 5


def parent_config(**changes):
    base = dict(epochs=2, batch_size=64, train_examples=512, checkpoints=(3, 5),
                optimizer="momentum", momentum=0.9, milestones="10it", gamma=0.5)
    return experiment("mnist_mlp", **{**base, **changes})


def fit(config, root, **kwargs):
    return train(config, runs_dir=root, device="cpu", progress=False, threads=1, **kwargs)


def equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_child_zero_reproduces_the_parent_bit_for_bit(tmp_path):
    parent = fit(parent_config(), tmp_path)
    child = fit(parent_config(spawn_at=K, spawn_child=0), tmp_path)
    assert child.path != parent.path
    assert equal(child.final, parent.final)
    # The child's own checkpoints start at k; the earlier ones are the parent's.
    assert min(p for p in child.iterations if (child.checkpoint_path(p)).exists()) == K
    assert equal(child.state(2), parent.state(2))


def test_children_start_at_the_parents_state_and_differ(tmp_path):
    parent = fit(parent_config(), tmp_path)
    one, two = children(parent.config, K, per_epoch=PER_EPOCH)
    a, b = fit(one, tmp_path), fit(two, tmp_path)
    assert equal(a.state(K), parent.state(K)) and equal(b.state(K), parent.state(K))
    assert not equal(a.final, b.final)
    assert not equal(a.final, parent.final) and not equal(b.final, parent.final)


def test_a_child_spawned_at_the_end_is_the_parent(tmp_path):
    parent = fit(parent_config(), tmp_path)
    one, two = children(parent.config, 16, per_epoch=PER_EPOCH)
    assert equal(fit(one, tmp_path).final, parent.final)
    assert equal(fit(two, tmp_path).final, parent.final)


def test_a_spawn_off_the_schedule_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError) as error:
        fit(parent_config(spawn_at=6, spawn_child=1), tmp_path)
    message = str(error.value)
    assert "\n" not in message and "spawn_at=6" in message and "checkpoints=(3, 5, 6)" in message
    assert not (tmp_path / parent_config().name).exists()  # nothing trained for nothing


def test_children_add_the_spawn_iteration_to_the_parents_schedule():
    config = parent_config()
    assert children(config, K, per_epoch=PER_EPOCH)[0].parent == config  # already there
    late = children(config, 6, per_epoch=PER_EPOCH)[0]
    assert late.parent == config.replace(checkpoints=(3, 5, 6)) and late.spawn_at == 6
    with pytest.raises(ValueError, match="beyond"):
        children(config, 17, per_epoch=PER_EPOCH)


def test_the_spawn_epoch_keeps_what_the_parent_saw_and_reshuffles_the_rest():
    n, size = 512, 64
    config = parent_config(spawn_at=K, spawn_child=1)

    def at(cfg):
        return SimpleNamespace(config=cfg, data=SimpleNamespace(per_epoch=PER_EPOCH),
                               seed=lambda stream, *c: hash((stream, *c)) % 2**62)

    own = epoch_order(at(config.parent), 0, n)
    child = epoch_order(at(config), 0, n)
    cut = K * size
    assert torch.equal(child[:cut], own[:cut])
    assert sorted(child.tolist()) == list(range(n)) and not torch.equal(child, own)
    assert not torch.equal(epoch_order(at(config), 1, n), epoch_order(at(config.parent), 1, n))


def test_an_interrupted_child_resumes_to_the_same_weights(tmp_path, monkeypatch):
    fit(parent_config(), tmp_path)
    config = parent_config(spawn_at=K, spawn_child=1)
    reference = fit(config, tmp_path / "reference")  # trains its own parent there too
    original = train_module._Trainer._train_step

    def interrupted(self, inputs, targets):
        if self.step == 9:
            raise KeyboardInterrupt
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(config, tmp_path)
    monkeypatch.setattr(train_module._Trainer, "_train_step", original)
    saved = torch.load(Run(config, 0, tmp_path).path / "resume.pt", weights_only=True)["step"]
    assert K < saved < 16
    steps = []

    def counted(self, inputs, targets):
        steps.append(self.step)
        return original(self, inputs, targets)

    monkeypatch.setattr(train_module._Trainer, "_train_step", counted)
    run = fit(config, tmp_path)
    assert steps[0] == saved  # from the child's own state, not the parent's again
    assert equal(run.final, reference.final)


def test_a_parent_without_training_states_is_named_with_the_fix(tmp_path):
    parent = fit(parent_config(), tmp_path)
    shutil.rmtree(parent.path / "states")
    with pytest.raises(RunFileError) as error:
        fit(parent_config(spawn_at=K, spawn_child=1), tmp_path)
    assert "\n" not in str(error.value) and "retrain it" in str(error.value)


def test_the_replicate_loop_trains_the_parents_first(tmp_path):
    config = parent_config(spawn_at=K, spawn_child=1)
    runs = train_replicates(config, 2, runs_dir=tmp_path, device="cpu", progress=False,
                            threads=1)
    assert all(run.done and run.parent.done for run in runs)
    assert [run.parent.replicate for run in runs] == [0, 1]


def test_a_child_trained_on_a_worker_without_the_store(tmp_path, monkeypatch):
    from experiments.spawn import inputs

    fit(parent_config(), tmp_path / "client")
    config = parent_config(spawn_at=K, spawn_child=2)
    reference = fit(config, tmp_path / "reference")
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path / "worker-home"))
    needs = inputs(Run(config, 0, tmp_path / "client"))
    assert len(needs) == 3  # the parent's config, weights and training state at k
    trained = train_task(config, 0, store=str(tmp_path / "client"), token=None, data_dir=None,
                         device="cpu", torch_threads=1, inputs=needs)
    run = receive(trained, config, tmp_path / "client")
    assert run.done and equal(run.final, reference.final)


def test_spawn_fields_are_checked():
    with pytest.raises(ValueError, match="go together"):
        parent_config(spawn_at=3)
    with pytest.raises(ValueError, match="≥ 0"):
        parent_config(spawn_at=3, spawn_child=-1)
