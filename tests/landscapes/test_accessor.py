"""ds.landscape forwards to the module functions and adds nothing."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

import landscapes  # noqa: E402,F401  (registers the accessor)
from landscapes import metrics, results  # noqa: E402
from landscapes.accessor import LandscapeAccessor  # noqa: E402
from landscapes.trajectory import project  # noqa: E402

METRICS = ["rise_barrier", "linear_barrier", "monotonicity", "convexity", "local_minima",
           "half_drop_alpha"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def ds() -> xr.Dataset:
    a = np.linspace(-0.5, 1.5, 21)
    rng = np.random.default_rng(0)
    loss = (a - 1) ** 2 + np.sin(6 * a)[None, :] * rng.random((3, 1))
    return results.slice_dataset(
        loss, alpha=a, error=np.clip(loss / loss.max(), 0, 1), dims=("replicate", "alpha"),
        coords={"replicate": [0, 1, 2]}, analysis="init_to_final", system="toy",
    )


def test_accessor_is_registered_on_import(ds):
    assert isinstance(ds.landscape, LandscapeAccessor)


@pytest.mark.parametrize("name", METRICS)
@pytest.mark.parametrize("kwargs", [{}, {"var": "error"}])
def test_metric_methods_equal_the_functions(ds, name, kwargs):
    got = getattr(ds.landscape, name)(**kwargs)
    want = getattr(metrics, name)(ds, **kwargs)
    xr.testing.assert_identical(got, want)


def test_options_pass_through(ds):
    xr.testing.assert_identical(ds.landscape.convexity(tol=0.3), metrics.convexity(ds, tol=0.3))
    xr.testing.assert_identical(
        ds.landscape.local_minima("loss", include_endpoints=True),
        metrics.local_minima(ds, "loss", include_endpoints=True),
    )
    with pytest.raises(ValueError, match="'nope'"):
        ds.landscape.rise_barrier(var="nope")


@pytest.mark.parametrize("name", METRICS)
def test_methods_carry_the_function_docs_and_signature(name):
    method, func = getattr(LandscapeAccessor, name), getattr(metrics, name)
    assert method.__doc__ == func.__doc__
    params = list(inspect.signature(method).parameters)
    assert params == ["self"] + list(inspect.signature(func).parameters)[1:]


def test_plot_dispatches_by_kind(ds):
    path_ax = ds.landscape.plot(normalize=True)
    assert len(path_ax.lines) == 1  # replicate → one mean line with a band
    b = np.linspace(-1, 1, 5)
    plane = results.slice_dataset(
        np.add.outer(ds.alpha.values**2, b**2), alpha=ds.alpha.values, beta=b,
        analysis="plane", system="toy",
    )
    surface_ax = plane.landscape.plot(levels=5)
    assert len(surface_ax.figure.axes) == 2  # contour plot and colour bar
    walk = np.cumsum(np.random.default_rng(1).normal(size=(20, 10)), axis=0)
    traj_ax = project(walk).landscape.plot()
    assert traj_ax.get_xlabel() == "projection on the start→end axis"


def test_validate_and_save(ds, tmp_path):
    assert ds.landscape.validate() is ds
    out = ds.landscape.save(tmp_path / "run.nc")
    xr.testing.assert_identical(results.load(out), ds)
    with pytest.raises(results.SchemaError):
        xr.Dataset({"loss": ("alpha", [1.0, 2.0])}).landscape.validate()
