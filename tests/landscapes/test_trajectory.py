"""Properties of the start→end projection in landscapes.trajectory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from landscapes import results
from landscapes.trajectory import project, project_array

FAST = settings(max_examples=30, deadline=None)


@st.composite
def trajectories(draw) -> np.ndarray:
    """T × D arrays whose first and last rows differ, so the axis exists."""
    T = draw(st.integers(2, 12))
    D = draw(st.integers(1, 8))
    X = draw(hnp.arrays(np.float64, (T, D), elements=st.floats(-100, 100)))
    if np.linalg.norm(X[-1] - X[0]) < 1e-3:
        X[-1, 0] = X[0, 0] + 1.0
    return X


@FAST
@given(trajectories())
def test_projection_and_residual_decompose_the_displacement(X):
    ds = project(X)
    squared = ds.projection.values**2 + ds.residual.values**2
    np.testing.assert_allclose(squared, np.sum((X - X[0]) ** 2, axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ds.norm.values, np.linalg.norm(X, axis=1), rtol=1e-12)
    assert (ds.residual.values >= 0).all()


@FAST
@given(trajectories())
def test_start_at_origin_end_on_the_axis(X):
    ds = project(X)
    length = np.linalg.norm(X[-1] - X[0])
    assert ds.projection.values[0] == 0 and ds.residual.values[0] == 0
    assert ds.projection.values[-1] == pytest.approx(length, rel=1e-12)
    assert ds.residual.values[-1] == pytest.approx(0, abs=1e-9 * max(length, 1.0))
    assert ds.attrs["axis_length"] == pytest.approx(length, rel=1e-12)


@FAST
@given(trajectories(), st.randoms(use_true_random=False))
def test_invariant_to_permuting_coordinates(X, rnd):
    order = list(range(X.shape[1]))
    rnd.shuffle(order)
    a, b = project(X), project(X[:, order])
    for var in ("projection", "residual", "norm"):
        np.testing.assert_allclose(a[var], b[var], rtol=1e-9, atol=1e-9)


@FAST
@given(trajectories())
def test_sequence_of_rows_equals_array_path(X):
    streamed = project(list(X))
    stacked = project(X)
    p, r, n = project_array(X)
    for var, direct in (("projection", p), ("residual", r), ("norm", n)):
        np.testing.assert_allclose(streamed[var], stacked[var], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(streamed[var], direct, rtol=1e-12, atol=1e-12)


def test_mappings_equal_flat_vectors_and_skip_integer_entries():
    rng = np.random.default_rng(1)
    flat = rng.normal(size=(6, 2 + 6 + 3))
    dicts = [
        {"w": row[2:8].reshape(2, 3).astype(np.float32), "b": row[:2], "c": row[8:],
         "count": np.array(i)}
        for i, row in enumerate(flat)
    ]
    # Sorted key order is b, c, w: reorder the flat columns to match.
    as_flat = np.concatenate([flat[:, :2], flat[:, 8:], flat[:, 2:8].astype(np.float32)], 1)
    a, b = project(dicts), project(list(as_flat))
    for var in ("projection", "residual", "norm", "residual_ratio"):
        np.testing.assert_allclose(a[var], b[var], rtol=1e-12)


def test_end_index_inside_the_trajectory_like_goodfellow_fig11():
    rng = np.random.default_rng(2)
    walk = np.cumsum(rng.normal(size=(30, 50)), axis=0)
    ds = project(walk, end=20, step=np.arange(0, 300, 10))
    assert ds.projection.sel(step=200).item() == pytest.approx(
        np.linalg.norm(walk[20] - walk[0]), rel=1e-12
    )
    assert ds.residual.sel(step=200).item() == pytest.approx(0, abs=1e-9)
    assert ds.residual.isel(step=slice(21, None)).min().item() > 0
    assert ds.attrs["end"] == "index 20"
    results.validate(ds)


def test_endpoints_given_as_vectors_or_negative_indices():
    X = np.random.default_rng(3).normal(size=(5, 4))
    a = project(X, start=X[1], end=X[3])
    b = project(list(X), start=1, end=-2)
    np.testing.assert_allclose(a.projection, b.projection, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        project_array(X, X[1], X[3]).residual, b.residual, rtol=1e-12, atol=1e-12
    )
    assert a.attrs["start"] == "given vector" and b.attrs["start"] == "index 1"


def test_iterator_is_collected():
    X = np.random.default_rng(4).normal(size=(4, 3))
    np.testing.assert_allclose(
        project(iter(list(X))).residual, project(X).residual, rtol=1e-12, atol=1e-12
    )


def test_residual_ratio_and_dataset_schema():
    X = np.array([[3.0, 4.0], [3.0, 6.0], [6.0, 4.0]])
    ds = project(X, system="toy", seeds={"init": 0})
    np.testing.assert_allclose(ds.residual_ratio, ds.residual / ds.norm)
    assert ds.attrs["system"] == "toy" and ds.attrs["analysis"] == "trajectory"
    assert ds.projection.dims == ("step",)
    results.validate(ds)


class FakeTensor:
    """Enough of the torch.Tensor interface for duck typing, without torch."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array)

    def detach(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def double(self) -> FakeTensor:
        return FakeTensor(self.array.astype(np.float64))

    def numpy(self) -> np.ndarray:
        return self.array


def test_tensor_like_items_are_converted():
    X = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    tensors = [{"p": FakeTensor(row), "n": FakeTensor(np.array(1))} for row in X]
    np.testing.assert_allclose(project(tensors).projection, project(X).projection, rtol=1e-12)


# ------------------------------------------------------------------------------ errors


def test_same_start_and_end_is_an_error():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="same item"):
        project(list(X), start=1, end=1)
    with pytest.raises(ValueError, match="same row"):
        project_array(X, 1, -2)
    with pytest.raises(ValueError, match="same point"):
        project(list(X))  # different items, identical vectors


@pytest.mark.parametrize("bad, match", [
    ([np.zeros(3), np.ones(4)], "4 parameters"),
    ([{"a": np.zeros(2)}, {"a": np.ones(2), "b": np.ones(1)}], r"unexpected \['b'\]"),
    ([{"a": np.zeros(2)}, {"a": np.ones(3)}], r"shape \(3,\)"),
    ([np.zeros(2), np.array([1.0, np.inf])], "non-finite"),
    ([{"a": np.zeros(2)}, {"a": np.array([np.nan, 1.0])}], "'a' has non-finite"),
    ([np.zeros((2, 2)), np.ones((2, 2))], "1-D"),
    ([np.zeros(2), {"a": np.ones(2)}], "mapping"),
    ([], "empty"),
])
def test_malformed_inputs_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        project(bad)


def test_other_argument_errors():
    X = np.random.default_rng(6).normal(size=(3, 2))
    with pytest.raises(ValueError, match="single mapping"):
        project({"a": X[0]})
    with pytest.raises(ValueError, match="end=7"):
        project(list(X), end=7)
    with pytest.raises(ValueError, match="step"):
        project(list(X), step=[0, 1])
    with pytest.raises(ValueError, match="2-D"):
        project_array(X[0])
    with pytest.raises(ValueError, match="row 1"):
        project_array(np.array([[0.0, 1.0], [np.nan, 0.0], [2.0, 2.0]]))


def test_torch_state_dicts_match_their_numpy_copies():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    states = []
    for _ in range(4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        states.append({k: v.clone() for k, v in net.state_dict().items()})
    as_numpy = [{k: v.numpy() for k, v in s.items()} for s in states]
    a, b = project(states), project(as_numpy)
    np.testing.assert_allclose(a.projection, b.projection, rtol=1e-12)
    half = [{k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in s.items()}
            for s in states]
    assert np.isfinite(project(half).residual).all()
