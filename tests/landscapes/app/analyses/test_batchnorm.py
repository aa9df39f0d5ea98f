"""The batch-norm analysis: a family with and without batch norm, and the exotic inits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landscapes import results
from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.base import Context, Declined
from landscapes.app.analyses.batchnorm import EXOTIC, line_names, pair_peaks, peaks, twin
from landscapes.app.systems import get_system

ANALYSIS = get_analysis("batchnorm")


def test_twins_peaks_and_lines():
    assert twin("fashion_nin") == ("fashion_nin", "fashion_nin_nobn")
    assert twin("mnist_resnet20_nobn") == ("mnist_resnet20", "mnist_resnet20_nobn")
    assert twin("fashion_mlp") is None
    a = np.linspace(0, 1, 201)
    assert peaks(np.sin(np.pi * a)) == 1 and peaks(np.sin(4 * np.pi * a) ** 2) == 4
    # wiggles below the prominence do not count as peaks
    assert peaks(np.sin(np.pi * a) + 0.001 * np.sin(60 * np.pi * a)) == 1
    assert np.isnan(peaks(np.array([0.0, np.nan, 1.0])))
    assert line_names(["sgd", "adam"]) == ["init>sgd", "init>adam", "sgd>adam",
                                           *(f"{i}: init>sgd" for i in EXOTIC)]


def test_a_network_without_a_twin_declines(tiny, runtime):
    with pytest.raises(Declined, match="no twin without batch norm"):
        get_system("mnist_mlp").analyze(ANALYSIS, tiny, runtime)
    assert ANALYSIS.variants(get_system("mnist_mlp").config, 10, tiny) == []


def test_with_and_without_batch_norm(tiny_conv, tiny, runtime):
    import matplotlib.pyplot as plt

    system = get_system(tiny_conv)
    ds = system.analyze(ANALYSIS, tiny, runtime)
    results.validate(ds)
    assert ds.loss.dims == ("replicate", "split", "batch_norm", "line", "alpha")
    assert list(ds.batch_norm.values) == ["with", "without"]
    reps = system.replicates(tiny, runtime)
    nobn = reps.variant(model=f"{tiny_conv}_nobn", init="default", optimizer="sgd", lr=0.1,
                        momentum=None, switch_at=None, switch_optimizer=None, switch_lr=None)
    assert not any("running_mean" in k for k in nobn.init(0))
    # the exotic inits really are N(-10, 0.01) and N(-1, 1) on the weights
    exotic = reps.variant(model=tiny_conv, init=EXOTIC[0], optimizer="sgd", lr=0.1,
                          momentum=None, switch_at=None, switch_optimizer=None, switch_lr=None)
    w = exotic.init(0)["0.weight"]
    assert abs(float(w.mean()) + 10) < 0.05 and float(w.std()) < 0.05
    curves = ds.curve_loss.sel(split="train")
    assert curves.sizes["step"] >= 3 and bool(np.isfinite(curves.sel(batch_norm="with")).all())
    # rows read every line, flags and exotic curves
    rows = ANALYSIS.rows(ds, Context())
    assert rows["peaks per final->final line (train)"].startswith("with ")
    assert "normal(-10,0.01)" in rows["final train loss from the exotic inits"]
    assert pair_peaks(ds.sel(batch_norm="with")).shape == (tiny.replicates,)
    fig, ax = plt.subplots()
    ANALYSIS.panel(ax, ds, Context())
    assert len(ax.lines) == 2
    plt.close(fig)
    assert torch.is_tensor(w)
