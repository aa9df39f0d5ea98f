from __future__ import annotations

import pytest
import torch
from torch import nn

from landscapes.align import apply_permutation, identity_permutation, permutation_spec
from landscapes.align.spec import expand


def _spec():
    return permutation_spec(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)))


def test_expand_moves_whole_blocks():
    index = expand(torch.tensor([2, 0, 1]), 2)
    assert index.tolist() == [4, 5, 0, 1, 2, 3]


def test_identity_changes_nothing_and_leaves_the_input_alone():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    spec = permutation_spec(net)
    state = net.state_dict()
    kept = {k: v.clone() for k, v in state.items()}
    out = apply_permutation(spec, identity_permutation(spec), state)
    assert all(torch.equal(out[k], v) for k, v in kept.items())
    apply_permutation(spec, {"0": torch.tensor([2, 1, 0])}, state)
    assert all(torch.equal(state[k], v) for k, v in kept.items())


@pytest.mark.parametrize("perm, match", [
    ({"nope": torch.arange(3)}, "unknown permutation group 'nope'"),
    ({"0": torch.tensor([0, 0, 1])}, "must be a permutation of range"),
    ({"0": torch.arange(4)}, "must be a permutation of range"),
])
def test_bad_permutations_are_refused(perm, match):
    spec = _spec()
    with pytest.raises(ValueError, match=match):
        net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        apply_permutation(spec, perm, net.state_dict())


def test_a_state_of_another_architecture_is_refused():
    with pytest.raises(ValueError, match="state has no entry '0.weight'"):
        apply_permutation(_spec(), {}, {"w": torch.zeros(1)})


def test_groups_by_name():
    spec = _spec()
    assert spec.names == ("0",) and spec["0"].size == 3
    with pytest.raises(KeyError, match="no permutation group 'x'"):
        spec["x"]
