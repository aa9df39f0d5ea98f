"""The one replicate loop: what it hands a place, and the order it returns runs in."""

from __future__ import annotations

import pytest

from experiments.config import experiment
from experiments.replicates import InProcess, iter_replicates, train_replicates


class Backwards:
    """A place whose runs finish last first; replicate 1 needs nothing from it."""

    def __init__(self, runs_dir):
        self.runs_dir, self.submitted, self.log = runs_dir, [], []

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, kind, *exc):
        self.log.append("exit" if kind is None else f"exit after {kind.__name__}")

    def submit(self, run):
        self.submitted.append(run.replicate)
        return None if run.replicate == 1 else object()

    def wait(self, handles):
        for handle in reversed(handles):
            self.log.append("finished")
            yield handle


def test_runs_come_back_in_replicate_order_once_those_before_them_are_done(tmp_path):
    config = experiment("mnist_mlp")
    place = Backwards(tmp_path)
    seen = []
    for run in iter_replicates(config, 4, place=place):
        seen.append((run.replicate, place.log.count("finished")))
    # 3 and then 2 finish first, yet 0 comes first, once it has finished too.
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)] and place.submitted == [0, 1, 2, 3]
    assert place.log[0] == "enter" and place.log[-1] == "exit"
    assert all(run.path.parent.parent == tmp_path
               for run in train_replicates(config, 2, place=Backwards(tmp_path)))


def test_an_error_while_waiting_reaches_the_place(tmp_path):
    class Failing(Backwards):
        def wait(self, handles):
            raise KeyboardInterrupt
            yield

    place = Failing(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        train_replicates(experiment("mnist_mlp"), 2, place=place)
    assert place.log == ["enter", "exit after KeyboardInterrupt"]


@pytest.mark.parametrize("replicates", [0, -1, 1.0, True, "2"])
def test_the_count_is_checked_before_anything_starts(replicates, tmp_path):
    place = Backwards(tmp_path)
    with pytest.raises(ValueError, match=f"replicates must be an integer ≥ 1, got {replicates!r}"):
        train_replicates(experiment("mnist_mlp"), replicates, place=place)
    assert place.log == []


def test_train_options_go_to_the_place(tmp_path):
    with pytest.raises(TypeError, match=r"train options \['device'\] go to the place"):
        train_replicates(experiment("mnist_mlp"), 1, place=InProcess(), device="cpu")
