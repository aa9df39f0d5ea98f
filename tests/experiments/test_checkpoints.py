"""Checkpoint schedule and atomic checkpoint writes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from experiments import checkpoints
from experiments.store import Run, runs_root, seed
from experiments.config import TrainConfig


@given(total=st.integers(0, 50_000), per_epoch=st.integers(1, 5_000),
       extra=st.lists(st.integers(0, 60_000), max_size=5))
def test_schedule_is_frankles_union(total, per_epoch, extra):
    points = checkpoints.schedule(total, per_epoch, extra)
    assert points == sorted(set(points)) and points[0] == 0 and points[-1] == total
    for t in points:
        frankle = t == 0 or t & (t - 1) == 0 or t % 1000 == 0
        assert frankle or t % per_epoch == 0 or t in extra or t == total
    assert all(2**k in points for k in range(total.bit_length()) if 2**k <= total)
    assert all(t in points for t in extra if t <= total)


def test_save_is_atomic_under_interruption(tmp_path, monkeypatch):
    target = tmp_path / "ck.pt"
    checkpoints.save({"w": torch.ones(3)}, target)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save({"w": torch.zeros(3)}, target)
    assert torch.equal(checkpoints.load(target)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_run_paths_and_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDSCAPES_HOME", str(tmp_path))
    assert runs_root() == tmp_path / "runs"
    run = Run(TrainConfig(lr=0.2), 2)
    assert run.path == tmp_path / "runs" / TrainConfig(lr=0.2).name / "replicate_2"
    assert not run.done and run.iterations == []
    with pytest.raises(FileNotFoundError, match="has not finished"):
        run.summary
    with pytest.raises(ValueError, match="replicate must be"):
        Run(TrainConfig(), -1)
    streams = {seed(0, r, s, k) for r in range(3) for s in ("init", "order") for k in range(3)}
    assert len(streams) == 18


@pytest.mark.parametrize("damage, why", [
    (lambda b: b[: len(b) // 2], "truncated, or not a torch checkpoint"),
    (lambda b: b"", "empty"),
    (lambda b: b"\x80\x04garbage" * 10, "truncated, or not a torch checkpoint"),
])
def test_a_damaged_checkpoint_is_named_without_torchs_unsafe_advice(tmp_path, damage, why):
    good = tmp_path / "good.pt"
    checkpoints.save({"w": torch.ones(3)}, good)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(checkpoints.RunFileError) as info:
        checkpoints.load(bad, fix="do this")
    assert str(info.value) == f"checkpoint {str(bad)!r} is damaged ({why}); do this"
    assert checkpoints.damage(bad) == why and checkpoints.damage(good) is None
    with pytest.raises(FileNotFoundError):
        checkpoints.load(tmp_path / "missing.pt")


def test_a_pickled_object_is_refused_as_damage_not_run(tmp_path):
    # weights_only stays on: a file holding code is damage, never executed.
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "f": print}, path)
    with pytest.raises(checkpoints.RunFileError, match="unreadable: UnpicklingError"):
        checkpoints.load(path)
