"""The surfaces analysis: bilinear and barycentric slices, and the pass between solutions."""

from __future__ import annotations

import numpy as np
import pytest

from landscapes import paths, results
from landscapes.app.analyses import get_analysis, zoo
from landscapes.app.analyses.base import Context
from landscapes.app.analyses.surfaces import (
    chosen,
    is_barycentric,
    pass_height,
    surface_names,
    vertices,
)
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("surfaces")


@pytest.fixture(scope="module")
def measured(tiny, runtime):
    system = get_system("mnist_mlp")
    return system, system.analyze(ANALYSIS, tiny, runtime)


def test_surface_names_follow_the_zoo():
    names = ["sgd", "rk2", "adam", "rmsprop"]
    found = surface_names(names)
    assert found[:3] == ["inits:sgd", "solutions:sgd,adam,rmsprop,rk2",
                         "solutions:sgd,adam,rmsprop"]
    assert [s for s in found if s.startswith("init:")] == [
        f"init:{a},{b}" for a, b in zoo.pairs(names)]
    assert surface_names(["adam", "sgd"]) == ["inits:sgd", "init:adam,sgd"]
    assert chosen(["rk2", "adagrad"], 2) == ["rk2", "adagrad"]
    assert is_barycentric("init:a,b") and is_barycentric("solutions:a,b,c")
    assert not is_barycentric("inits:sgd") and not is_barycentric("solutions:a,b,c,d")


def test_pass_height_is_the_lowest_way_round():
    ridge = np.array([[0.0, 5.0, 0.0], [0.0, 2.0, 0.0], [0.0, 9.0, 0.0]])
    assert pass_height(ridge, (0, 0), (0, 2)) == 2.0
    ridge[1, 1] = 7.0
    assert pass_height(ridge, (0, 0), (0, 2)) == 5.0
    # measured above the higher end; a NaN wall cannot be crossed
    assert pass_height(np.array([[1.0, 3.0, 2.0]]), (0, 0), (0, 2)) == 1.0
    assert np.isnan(pass_height(np.array([[0.0, np.nan, 0.0]]), (0, 0), (0, 2)))


def test_surfaces_pass_through_their_points(measured, tiny, runtime):
    system, ds = measured
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "surface", "alpha", "beta")
    assert list(ds.surface.values) == surface_names(list(tiny.optimizers))
    reps = system.replicates(tiny, runtime)
    runs = {n: reps.variant(**zoo.changes(n)) for n in tiny.optimizers}
    r = 1
    points = {"init": reps.init(r), **{n: runs[n].final(r) for n in tiny.optimizers},
              "init r+1": reps.init(0), "sgd r+1": runs["sgd"].final(0)}
    for surface in ds.surface.values:
        for vertex, (a, b) in vertices(str(surface)).items():
            state = points["init" if vertex == "init r" else vertex]
            alone = runs["sgd"].evaluate(paths.linear(state, state, [0.0]), "x", r)
            np.testing.assert_allclose(
                ds.loss.sel(surface=surface, replicate=r, alpha=a, beta=b),
                alone.loss.isel(alpha=0), rtol=1e-4, err_msg=f"{surface} at {vertex}")
    assert list(ds.barycentric.isel(replicate=0).values) == [
        float(is_barycentric(str(s))) for s in ds.surface.values]


def test_rows_and_panel(measured):
    import matplotlib.pyplot as plt

    _, ds = measured
    rows = ANALYSIS.rows(ds, Context())
    assert set(rows) >= {"2-D pass between two solutions, init triangles (train)"}
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds, Context())
    assert [t.get_text() for t in ax.texts] == ["init", "SGD", "Adam"]
    plt.close(fig)
