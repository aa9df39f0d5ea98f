"""landscapes.plots draws the expected artists on the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from landscapes import plots  # noqa: E402
from landscapes.results import slice_dataset  # noqa: E402
from landscapes.trajectory import project  # noqa: E402

ALPHA = np.linspace(-0.5, 1.5, 21)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def path(dims=("alpha",), sizes=(), coords=None, distance=None):
    shape = tuple(sizes) + (ALPHA.size,)
    rng = np.random.default_rng(0)
    loss = (ALPHA - 1) ** 2 + 0.1 * rng.random(shape)
    return slice_dataset(loss, alpha=ALPHA, dims=dims, coords=coords, distance=distance,
                         analysis="init_to_final", system="toy")


def bands(ax) -> int:
    return sum(isinstance(c, PolyCollection) for c in ax.collections)


def test_single_curve_one_line_no_band():
    ax = plots.plot_path(path())
    assert len(ax.lines) == 1 and bands(ax) == 0
    assert ax.get_legend() is None
    np.testing.assert_allclose(ax.lines[0].get_xdata(), ALPHA)


def test_replicates_become_mean_and_band():
    ds = path(("replicate", "alpha"), (4,), {"replicate": range(4)})
    ax = plots.plot_path(ds)
    assert len(ax.lines) == 1 and bands(ax) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ds.loss.mean("replicate"))


def test_other_dims_become_labelled_lines():
    ds = path(("replicate", "split", "alpha"), (3, 2),
              {"replicate": range(3), "split": ["train", "test"]})
    ax = plots.plot_path(ds, label="mlp")
    assert len(ax.lines) == 2 and bands(ax) == 2
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["mlp, split=train", "mlp, split=test"]


def test_normalize_pins_init_and_final_at_one_and_zero():
    ax = plots.plot_path(path(), normalize=True)
    y = ax.lines[0].get_ydata()
    assert y[np.argmin(np.abs(ALPHA))] == pytest.approx(1.0)
    assert y[np.argmin(np.abs(ALPHA - 1))] == pytest.approx(0.0)


def test_normalize_without_unit_interval_uses_first_and_last():
    ax = plots.plot_path(path().sel(alpha=slice(0.2, 0.8)), normalize=True)
    y = ax.lines[0].get_ydata()
    assert (y[0], y[-1]) == pytest.approx((1.0, 0.0))


def test_distance_axis():
    dist = np.abs(ALPHA) * 3.0
    ax = plots.plot_path(path(distance=dist), x="distance")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), dist)


def test_draws_on_given_axes():
    _, ax = plt.subplots()
    assert plots.plot_path(path(), ax=ax) is ax
    assert plots.plot_path(path().loss, ax=ax) is ax  # a DataArray works too
    assert len(ax.lines) == 2


def test_plot_path_errors():
    with pytest.raises(ValueError, match="'los'"):
        plots.plot_path(path(), var="los")
    with pytest.raises(ValueError, match="'beta'"):
        plots.plot_path(path(), x="beta")
    with pytest.raises(ValueError, match="distance"):
        plots.plot_path(path(), x="distance")


def surface(extra=()):
    b = np.linspace(-1, 1, 9)
    loss = np.exp(ALPHA[:, None] ** 2 + b[None, :] ** 2)
    dims = ("alpha", "beta")
    if extra:
        loss = np.stack([loss] * extra[1])
        dims = (extra[0],) + dims
    return slice_dataset(loss, alpha=ALPHA, beta=b, dims=dims, analysis="plane", system="toy")


@pytest.mark.parametrize("log", [False, True])
def test_surface_has_contours_and_colorbar(log):
    ax = plots.plot_surface(surface(), levels=7, log=log)
    assert len(ax.collections) >= 1
    assert len(ax.figure.axes) == 2  # the plot and its colour bar
    assert ax.get_xlim() == (ALPHA[0], ALPHA[-1])


def test_surface_errors():
    with pytest.raises(ValueError, match="replicate"):
        plots.plot_surface(surface(("replicate", 2)))
    plots.plot_surface(surface(("replicate", 1)))  # length-1 dims are dropped
    with pytest.raises(ValueError, match="'beta'"):
        plots.plot_surface(path())
    with pytest.raises(ValueError, match="finite"):
        plots.plot_surface(-surface(), log=True)


def test_trajectory_lines():
    walk = np.cumsum(np.random.default_rng(0).normal(size=(40, 30)), axis=0)
    ds = project(walk, end=30)
    ax = plots.plot_trajectory(ds)
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_xdata(), ds.projection)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ds.residual)
    both = xr.concat([ds, project(walk, end=20)], dim="run")
    assert len(plots.plot_trajectory(both).lines) == 2
    with pytest.raises(ValueError, match="trajectory"):
        plots.plot_trajectory(path())


# ------------------------------------------------------------ barycentric slices (triangles)


def _triangle_slice(points, n=6):
    """The loss ‖θ‖² over the barycentric slice through three 2-D points, with distances."""
    import torch

    from landscapes import paths

    anchors = [{"w": torch.tensor(p, dtype=torch.float64)} for p in points]
    g = np.linspace(0, 1, n)
    path = paths.barycentric(*anchors, g, g)
    values = np.array([[float((path.point((i, j))["w"] ** 2).sum()) for j in range(n)]
                       for i in range(n)])
    return xr.DataArray(values, dims=("alpha", "beta"),
                        coords={"alpha": g, "beta": g,
                                "distance": (("alpha", "beta"), path.distance())})


def test_barycentric_slice_is_drawn_on_its_true_triangle():
    points = [(0.0, 0.0), (3.0, 0.0), (0.0, 4.0)]  # sides 3, 4 and 5
    ax = plots.plot_surface(_triangle_slice(points), shape="triangle",
                            labels=["θ0", "θ1", "θ2"])
    outline = np.asarray(ax.lines[-1].get_xydata())[:3]
    sides = sorted(np.linalg.norm(outline[i] - outline[(i + 1) % 3]) for i in range(3))
    np.testing.assert_allclose(sides, [3.0, 4.0, 5.0], rtol=1e-9)
    # the apex is θ0, 3 from θ1 and 4 from θ2
    np.testing.assert_allclose([np.linalg.norm(outline[0] - outline[1]),
                                np.linalg.norm(outline[0] - outline[2])], [3.0, 4.0])
    assert [t.get_text() for t in ax.texts] == ["θ0", "θ1", "θ2"]


def test_triangle_without_distances_or_asked_is_equilateral():
    da = _triangle_slice([(0.0, 0.0), (1.0, 0.0), (0.0, 9.0)])
    for ax in (plots.plot_surface(da.drop_vars("distance"), shape="triangle"),
               plots.plot_surface(da, shape="triangle", geometry="equilateral")):
        outline = np.asarray(ax.lines[-1].get_xydata())[:3]
        sides = [np.linalg.norm(outline[i] - outline[(i + 1) % 3]) for i in range(3)]
        np.testing.assert_allclose(sides, [1.0, 1.0, 1.0])


def test_auto_shape_follows_the_path_kind_and_bad_shapes_are_refused():
    import json

    ds = _triangle_slice([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]).to_dataset(name="loss")
    ds.attrs["hyperparameters"] = json.dumps({"path": "barycentric"})
    ax = plots.plot_surface(ds)
    assert ax.get_xlabel() != "α" and ax.collections  # drawn as a triangle
    with pytest.raises(ValueError, match="shape must be"):
        plots.plot_surface(ds, shape="circle")
    with pytest.raises(ValueError, match="span"):
        plots.plot_surface(ds.sel(alpha=slice(0, 0.5)), shape="triangle")
