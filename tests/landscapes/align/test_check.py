from __future__ import annotations

import pytest
import torch
from torch import nn

from landscapes.align import NotFunctionPreserving, check_function


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))


def test_a_half_permuted_unit_is_caught():
    net = _net()
    state = net.state_dict()
    # Rows of the first layer moved but not the columns of the second: a different function.
    wrong = {**state, "0.weight": state["0.weight"][[1, 0, 2, 3, 4, 5]],
             "0.bias": state["0.bias"][[1, 0, 2, 3, 4, 5]]}
    with pytest.raises(NotFunctionPreserving, match="does not compute the original's function"):
        check_function(net, state, wrong, torch.randn(16, 3))
    result = check_function(net, state, wrong, torch.randn(16, 3), strict=False)
    assert not result.passed and "FUNCTION CHANGED" in str(result)


def test_a_full_unit_swap_passes_and_the_model_is_untouched():
    net = _net()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    order = [1, 0, 2, 3, 4, 5]
    right = {**state, "0.weight": state["0.weight"][order], "0.bias": state["0.bias"][order],
             "2.weight": state["2.weight"][:, order]}
    result = check_function(net, state, right, torch.randn(16, 3))
    assert result.passed and result.examples == 16 and result.relative_error < 1e-12
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert net[0].weight.dtype == torch.float32
