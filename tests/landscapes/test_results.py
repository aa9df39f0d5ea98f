"""The results schema: construction, validation, netCDF and DataTree round trips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from landscapes import results
from landscapes.results import SchemaError

values = arrays(np.float64, st.integers(2, 20), elements=st.floats(-1e6, 1e6, allow_nan=False) | st.just(np.inf))


def make(n: int = 5, **kw) -> xr.Dataset:
    a = np.linspace(0, 1, n)
    base = dict(alpha=a, analysis="init_to_final", system="toy", seeds={"init": 1},
                hyperparameters={"lr": 0.1, "widths": (3, 4)})
    base.update(kw)
    return results.slice_dataset((1 - a) ** 2, error=a / 2, **base)


@settings(max_examples=20)
@given(loss=values)
def test_netcdf_round_trip_is_identical(tmp_path_factory, loss):
    n = len(loss)
    ds = results.slice_dataset(loss, alpha=np.linspace(-0.5, 1.5, n), error=np.full(n, np.nan),
                               distance=np.linspace(-1, 3, n), analysis="a", system="s")
    path = results.save(ds, tmp_path_factory.mktemp("nc") / "x.nc")
    back = results.load(path)
    xr.testing.assert_identical(back, ds)


def test_stacked_dimensions_round_trip(tmp_path):
    parts = [make(seeds={"init": r}) for r in range(3)]
    stacked = results.combine(parts, "replicate")
    both = results.combine([stacked, stacked], "split", ["train", "test"])
    assert both.loss.dims == ("split", "replicate", "alpha")
    assert json.loads(stacked.attrs["seeds"]) == {"replicate": [{"init": 0}, {"init": 1}, {"init": 2}]}
    back = results.load(results.save(both, tmp_path / "b.nc"))
    xr.testing.assert_identical(back, both)


def test_datatree_round_trip_is_identical(tmp_path):
    traj = results.trajectory_dataset([0.0, 1.0, 2.0], [0.0, 0.5, 0.0], [1.0, 2.0, 3.0],
                                      step=[0, 10, 20], system="toy")
    plane = results.slice_dataset(np.ones((2, 3)), alpha=[0.0, 1.0], beta=[0.0, 0.5, 1.0],
                                  analysis="plane", system="toy")
    tree_in = {"init_to_final": make(), "trajectory": traj, "plane": plane}
    path = results.save(tree_in, tmp_path / "tree.nc")
    tree = results.load_tree(path)
    assert set(tree.children) == set(tree_in)
    for name, ds in tree_in.items():
        xr.testing.assert_identical(tree[name].to_dataset(), ds)
    # a DataTree object saves the same way
    again = results.load_tree(results.save(tree, tmp_path / "tree2.nc"))
    for name in tree_in:
        xr.testing.assert_identical(again[name].to_dataset(), tree[name].to_dataset())
    with pytest.raises(SchemaError, match="load_tree"):
        results.load(path)


def test_provenance_is_recorded():
    ds = make()
    for key in results.REQUIRED_ATTRS:
        assert key in ds.attrs
    assert json.loads(ds.attrs["hyperparameters"]) == {"lr": 0.1, "widths": [3, 4]}
    assert ds.attrs["landscapes_version"]
    assert ds.attrs["created"].endswith("+00:00")


def test_foreign_and_corrupted_files_are_refused(tmp_path):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(foreign)
    with pytest.raises(SchemaError, match="not a landscapes dataset"):
        results.load(foreign)
    good = results.save(make(), tmp_path / "good.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SchemaError, match="truncated or not netCDF"):
        results.load(truncated)
    text = tmp_path / "text.nc"
    text.write_text("loss,alpha\n1,0\n")
    with pytest.raises(SchemaError, match="cannot read"):
        results.load_tree(text)
    with pytest.raises(FileNotFoundError, match="no results file"):
        results.load(tmp_path / "missing.nc")


def test_writes_are_atomic(tmp_path, monkeypatch):
    target = tmp_path / "r.nc"
    results.save(make(), target)
    before = target.read_bytes()

    def explode(self, *args, **kwargs):
        # write half a file, then die, like a Ctrl-C mid-write
        with open(args[0], "wb") as fh:
            fh.write(b"\x89HDF partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    with pytest.raises(KeyboardInterrupt):
        results.save(make(7), target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["r.nc"]  # no temp file left behind


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.attrs.pop("schema"), "attribute 'schema' is missing"),
        (lambda d: d.attrs.update(schema="landscapes/0"), "unsupported schema 'landscapes/0'"),
        (lambda d: d.attrs.pop("device"), "attribute 'device' is missing"),
        (lambda d: d.attrs.update(seeds="not json"), "'seeds' is not a JSON object"),
        (lambda d: d.attrs.update(hyperparameters="[1]"), "must be a JSON object"),
        (lambda d: d.__setitem__("error", d.error * 3), "fraction in \\[0, 1\\]"),
        (lambda d: d.__delitem__("loss"), "variable 'loss' is missing"),
    ],
)
def test_validate_names_the_problem(mutate, message):
    ds = make().copy(deep=True)
    mutate(ds)
    with pytest.raises(SchemaError, match=message):
        results.validate(ds)


def test_constructor_errors():
    with pytest.raises(SchemaError, match="analysis must be a non-empty string"):
        results.slice_dataset([1.0], alpha=[0.0], analysis="", system="s")
    with pytest.raises(SchemaError, match="loss has 1 dimensions"):
        results.slice_dataset([1.0], alpha=[0.0], dims=("replicate", "alpha"), analysis="a", system="s")
    with pytest.raises(SchemaError, match="must contain 'beta'"):
        results.slice_dataset([[1.0]], alpha=[0.0], beta=[0.0], dims=("alpha", "x"), analysis="a", system="s")
    with pytest.raises(SchemaError, match="would overwrite"):
        results.slice_dataset([1.0], alpha=[0.0], extra={"loss": [2.0]}, analysis="a", system="s")
    with pytest.raises(SchemaError, match="must contain 'step'"):
        results.trajectory_dataset([0], [0], [0], step=[0], dims=("t",), system="s")
    with pytest.raises(TypeError, match="save takes"):
        results.save([1, 2], "x.nc")
    with pytest.raises(ValueError, match="2 values for 1 datasets"):
        results.combine([make()], "replicate", [0, 1])


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_usual_mode(tmp_path, umask):
    # mkstemp's 0600 must not leak into outputs others are meant to read.
    old = os.umask(umask)
    try:
        results.save(make(), tmp_path / "r.nc")
        results.atomic_write(tmp_path / "t.txt", lambda tmp: Path(tmp).write_text("x"))
    finally:
        os.umask(old)
    for name in ("r.nc", "t.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_names_the_target_not_the_temp_file(tmp_path, monkeypatch):
    import errno

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left") as info:
        results.atomic_write(tmp_path / "out.nc", full)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "out.nc")
    assert os.listdir(tmp_path) == []
    # A read-only folder, as mkstemp meets it (simulated: tests may run as root).
    def denied(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x" + suffix))

    monkeypatch.setattr(results.tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError) as info:
        results.atomic_write(tmp_path / "out.nc", lambda tmp: None)
    assert info.value.filename == str(tmp_path / "out.nc")


def measured(n: int = 4, **kw) -> xr.Dataset:
    """A dataset of point measures: no loss or error, a variable with a dimension of its own."""
    a = np.linspace(0, 1, n)
    top = np.stack([a + 2, a + 1], axis=1)
    base = dict(alpha=a, coords={"eigen": [0, 1]}, analysis="curvature", system="toy",
                extra={"eigenvalue": (("alpha", "eigen"), top, {"measure": "hessian"}),
                       "trace": (("alpha",), a * 3, {"measure": "hessian", "units": "1"})},
                hyperparameters={"measures": ["Hessian(k=2)"]})
    base.update(kw)
    return results.slice_dataset(None, **base)


def test_a_dataset_of_point_measures_needs_no_loss_and_round_trips(tmp_path):
    ds = measured()
    assert "loss" not in ds and "error" not in ds
    assert ds.eigenvalue.dims == ("alpha", "eigen") and ds.trace.attrs["units"] == "1"
    back = results.load(results.save(ds, tmp_path / "m.nc"))
    xr.testing.assert_identical(back, ds)
    # Replicates stack as any slice dataset does, and stay valid.
    both = results.combine([ds, measured()], "replicate")
    assert both.eigenvalue.dims == ("replicate", "alpha", "eigen")
    tree = results.load_tree(results.save({"curvature": ds, "line": make()}, tmp_path / "t.nc"))
    xr.testing.assert_identical(tree["curvature"].to_dataset(), ds)


@pytest.mark.parametrize(
    "mutate, message",
    [
        # Only a measure's variables may stand without loss and error.
        (lambda d: d.__setitem__("gap", ("alpha", np.zeros(d.sizes["alpha"]))), r"\['gap'\] do not"),
        (lambda d: d.__setitem__("trace", d.trace.drop_attrs()), r"\['trace'\] do not"),
        (lambda d: d.__setitem__("error", d.trace), "variable 'loss' is missing"),
        (lambda d: d.__setitem__("loss", d.trace), "variable 'error' is missing"),
        (lambda d: d.attrs.pop("hyperparameters"), "attribute 'hyperparameters' is missing"),
    ],
)
def test_validate_checks_what_a_dataset_of_point_measures_holds(mutate, message):
    ds = measured().copy(deep=True)
    mutate(ds)
    with pytest.raises(SchemaError, match=message):
        results.validate(ds)


def test_a_slice_without_loss_and_without_measures_is_refused():
    ds = make().drop_vars(["loss", "error"])
    with pytest.raises(SchemaError, match="needs variables \\['loss', 'error'\\], or the variables of a point measure"):
        results.validate(ds)
    with pytest.raises(SchemaError, match="error was given without a loss"):
        results.slice_dataset(None, error=[0.0], alpha=[0.0], analysis="a", system="s")
