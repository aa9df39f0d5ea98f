"""The optimizer zoo's shared pieces: recipes, switches, paths and the NaN-filled frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from experiments.config import experiment
from landscapes import results
from landscapes.app.analyses import zoo


def test_every_recipe_is_a_valid_config_of_its_own_optimizer():
    base = experiment("mnist_mlp", momentum=0.5, optimizer="momentum")
    for name in zoo.ZOO:
        config = base.replace(**zoo.changes(name))
        assert config.optimizer == zoo.RECIPES[name].optimizer
        assert config.lr == zoo.RECIPES[name].lr
        # a base config's momentum never leaks into an optimizer that has none
        assert (config.momentum is None) == (name != "momentum")
    # the paper's grids: adaptive methods at 1e-3, Runge-Kutta versions at twice the rate
    assert zoo.recipe("rk2").lr == 2 * zoo.recipe("sgd").lr
    assert zoo.recipe("adam_rk2").lr == 2 * zoo.recipe("adam").lr


def test_switch_changes_train_the_first_then_the_second():
    config = experiment("mnist_mlp").replace(**zoo.switch_changes("adam", "sgd", 100))
    assert (config.optimizer, config.switch_optimizer, config.switch_at) == ("adam", "sgd", 100)
    assert config.lr == zoo.recipe("adam").lr and config.switch_lr == zoo.recipe("sgd").lr


@pytest.mark.parametrize("text, message", [
    ("adam-sgd", "must read first>second"),
    ("adam>adam", "to itself"),
    ("adma>sgd", "did you mean 'adam'"),
])
def test_bad_switches_get_one_clear_line(text, message):
    with pytest.raises(ValueError, match=message):
        zoo.parse_switch(text)


def test_optimizers_need_two_distinct_names():
    with pytest.raises(ValueError, match="at least two distinct"):
        zoo.check_optimizers(["sgd", "sgd"])


def _state(value: float) -> dict[str, torch.Tensor]:
    return {"w": torch.full((3,), value), "steps": torch.tensor(7)}


def test_fan_joins_one_start_to_every_end():
    path = zoo.fan(_state(0.0), {"a": _state(2.0), "b": _state(-4.0)}, [0.0, 0.5, 1.0], "end")
    assert path.dims == ("end", "alpha") and list(path.coords["end"]) == ["a", "b"]
    assert float(path.point((0, 1))["w"][0]) == 1.0
    assert float(path.point((1, 2))["w"][0]) == -4.0
    # distances are measured from the start, exactly
    np.testing.assert_allclose(path.distance(), [[0, 1 * 3 ** 0.5, 2 * 3 ** 0.5],
                                                 [0, 2 * 3 ** 0.5, 4 * 3 ** 0.5]], rtol=1e-12)


def test_points_are_each_their_own_origin():
    path = zoo.points({0: _state(1.0), 10: _state(3.0)}, "step")
    assert path.shape == (2, 1) and list(path.coords["step"]) == [0, 10]
    assert float(path.point(1)["w"][0]) == 3.0
    assert (path.distance() == 0).all()


def test_finite_and_distance_see_diverged_weights():
    assert zoo.finite(_state(1.0)) and not zoo.finite(_state(float("nan")))
    assert zoo.distance(_state(0.0), _state(1.0)) == pytest.approx(3 ** 0.5)
    assert np.isnan(zoo.distance(_state(0.0), _state(float("inf"))))


def _engine_result(ends, value):
    """An engine-like result on (split, end, alpha) filled with ``value``."""
    alpha = np.array([0.0, 1.0])
    shape = (2, len(ends), 2)
    return results.slice_dataset(
        np.full(shape, value), error=np.full(shape, 0.1), alpha=alpha,
        dims=("split", "optimizer_b", "alpha"),
        coords={"split": ["train", "test"], "optimizer_b": ends},
        distance=(("optimizer_b", "alpha"), np.full((len(ends), 2), value)),
        extra={"divergence": np.full(shape, value)}, analysis="x", system="s",
        hyperparameters={"batch_size": 7})


def test_frame_places_results_by_label_and_leaves_the_rest_nan():
    names = ["sgd", "adam", "rk2"]
    frame = zoo.Frame({"optimizer_a": names, "optimizer_b": names}, [0.0, 1.0],
                      splits=["train", "test"])
    frame.put(_engine_result(["rk2"], 2.0), optimizer_a="sgd")  # sgd -> adam diverged
    frame.put(_engine_result(["rk2"], 5.0), optimizer_a="adam")
    ds = frame.dataset("optimizers", "toy", {"note": 1})
    results.validate(ds)
    assert ds.loss.dims == ("split", "optimizer_a", "optimizer_b", "alpha")
    assert float(ds.loss.sel(split="test", optimizer_a="sgd", optimizer_b="rk2", alpha=1)) == 2
    assert float(ds.divergence.sel(split="train", optimizer_a="adam", optimizer_b="rk2",
                                   alpha=0)) == 5
    assert bool(ds.loss.sel(optimizer_a="sgd", optimizer_b="adam").isnull().all())
    assert int(ds.loss.notnull().sum()) == 2 * 2 * 2  # two cells, two splits, two alphas
    assert float(ds.distance.sel(optimizer_a="adam", optimizer_b="rk2", alpha=1)) == 5
    assert '"batch_size": 7' in ds.attrs["hyperparameters"]


def test_an_empty_frame_is_all_nan_not_an_error():
    frame = zoo.Frame({"optimizer": ["sgd"]}, [0.0, 1.0], splits=["test"])
    ds = frame.dataset("basin", "toy")
    assert ds.loss.isnull().all() and ds.loss.dims == ("split", "optimizer", "alpha")


def test_a_frame_round_trips_through_netcdf(tmp_path):
    frame = zoo.Frame({"fraction": [1.0, 0.5]}, [0.0, 1.0], splits=["train"])
    ds = frame.dataset("switching", "toy").assign(flag=("fraction", [0.0, 1.0]))
    back = results.load(results.save(ds, tmp_path / "f.nc"))
    xr.testing.assert_identical(back, ds)
