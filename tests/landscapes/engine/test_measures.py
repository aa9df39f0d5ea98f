"""The per-batch measure rows shared by the engine and the per-point loop."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from landscapes.engine.measures import _cross_entropy


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 50), c=st.integers(2, 12), scale=st.floats(0.01, 50.0), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("loss_fn", [nn.CrossEntropyLoss(), nn.functional.cross_entropy,
                                     nn.CrossEntropyLoss(reduction="sum")])
def test_fast_cross_entropy_equals_pytorchs(loss_fn, n, c, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    outputs = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale
    targets = torch.randint(0, c, (n,), generator=gen)
    got = _cross_entropy(loss_fn, outputs, targets)
    assert got is not None
    torch.testing.assert_close(got, loss_fn(outputs, targets), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss_fn", [
    nn.CrossEntropyLoss(label_smoothing=0.1),
    nn.CrossEntropyLoss(weight=torch.ones(3)),
    nn.NLLLoss(),
    lambda o, t: nn.functional.cross_entropy(o, t),
])
def test_fast_cross_entropy_leaves_other_losses_alone(loss_fn):
    assert _cross_entropy(loss_fn, torch.randn(4, 3), torch.tensor([0, 1, 2, 0])) is None


def test_fast_cross_entropy_leaves_ignored_targets_and_other_shapes_alone():
    ce = nn.CrossEntropyLoss()
    assert _cross_entropy(ce, torch.randn(4, 3), torch.tensor([0, -100, 2, 0])) is None
    assert _cross_entropy(ce, torch.randn(4, 3, 5), torch.zeros(4, 5, dtype=torch.long)) is None
    assert _cross_entropy(ce, torch.randn(4, 3), torch.rand(4, 3)) is None
