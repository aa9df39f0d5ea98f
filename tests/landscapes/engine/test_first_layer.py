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


# ------------------------------------------------------------------ a path in blocks


@pytest.fixture(scope="module")
def mlp():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 5))
    states = []
    for _ in range(4):
        states.append({k: v + 0.3 * torch.randn_like(v) for k, v in net.state_dict().items()})
    x, y = torch.randn(300, 20), torch.randint(0, 5, (300,))
    return net, states, (x, y)


def _blockwise(net, path, data, parts):
    import xarray as xr

    from landscapes import evaluate, paths

    pieces = [evaluate(net, paths.take(path, a, b), data, device="cpu", batch_size=128,
                       progress=False) for a, b in parts]
    return xr.concat(pieces, path.dims[0], combine_attrs="override")


@pytest.mark.parametrize("kind", ["plane", "from_iterations", "line"])
def test_a_path_in_blocks_gives_every_point_the_same_bits(mlp, kind):
    # A cluster evaluates a large path block by block: each block must sum every point
    # as the whole path does (from_iterations: one start's rows have two live anchors
    # of many, which must not switch to the two-anchor shortcut).
    from landscapes import evaluate, paths

    net, s, (x, y) = mlp
    path = {"plane": lambda: paths.plane(s[0], alphas=np.linspace(-1, 1, 9),
                                         betas=np.linspace(-1, 1, 7)),
            "from_iterations": lambda: paths.from_iterations({0: s[0], 3: s[1], 8: s[2]}, s[3],
                                                             np.linspace(0, 1, 6)),
            "line": lambda: paths.linear(s[0], s[3], np.linspace(-0.5, 1.5, 13))}[kind]()
    whole = evaluate(net, path, {"test": (x, y)}, device="cpu", batch_size=128, progress=False)
    for points in (1, 7, 20):
        parts = paths.blocks(path, points)
        got = _blockwise(net, path, {"test": (x, y)}, parts)
        for name in ("loss", "error", "distance"):
            np.testing.assert_array_equal(got[name].values, whole[name].values, err_msg=name)
