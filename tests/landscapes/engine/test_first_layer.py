"""Combining the anchors' first-layer outputs per point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from landscapes.engine.first_layer import combine

coefficient = st.floats(-3.0, 3.0, allow_nan=False)


@settings(deadline=None, max_examples=60)
@given(alphas=st.lists(coefficient, min_size=1, max_size=6), k=st.integers(2, 4),
       on_a_line=st.booleans(), none_at=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_combine_is_the_coefficient_weighted_sum(alphas, k, on_a_line, none_at, seed):
    gen = np.random.default_rng(seed)
    rows = gen.uniform(-2, 2, (len(alphas), k))
    if on_a_line:  # (1 − α, α) on two anchors, the others off: the one-pass case
        rows[:] = 0.0
        rows[:, 0], rows[:, 1] = 1 - np.array(alphas), alphas
    terms = [torch.as_tensor(gen.normal(size=(5, 3))) for _ in range(k)]
    if not on_a_line or none_at >= 2:
        terms[none_at % k] = None  # an anchor with no weight anywhere is skipped
        rows[:, none_at % k] = 0.0
    coef = torch.as_tensor(rows)
    got = combine(coef, terms)
    want = sum(coef[:, j].reshape(-1, 1, 1) * t for j, t in enumerate(terms) if t is not None)
    scale = sum(coef[:, j].abs().reshape(-1, 1, 1) * t.abs() for j, t in enumerate(terms) if t is not None)
    assert got.shape == (len(alphas), 5, 3)
    # rounding of a few operations on terms of that size
    assert bool(((got - want).abs() <= 8 * torch.finfo(torch.float64).eps * (scale + 1)).all())


def test_combine_needs_one_term():
    with pytest.raises(ValueError, match="no anchor"):
        combine(torch.ones(2, 2), [None, None])
