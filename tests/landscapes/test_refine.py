"""Adaptive barrier search against exact deep linear curves, and on networks."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from landscapes import evaluate, metrics, paths, results
from landscapes.refine import bootstrap_barrier, bootstrap_intervals, refine, refine_line
from theory import deep_linear as dl

FINE = np.linspace(0.0, 1.0, 4001)


def assert_narrower_than_the_coarse_grid(r, alpha, g):
    """The one miss the module documents: a feature narrower than the coarse spacing.

    Everything the search missed (where the exact excess tops the reported height by
    more than the tolerance) lies inside one coarse interval, in under half of it.
    """
    coarse = r.rounds[0]
    missed = alpha[g > r.height + r.tolerance]
    assert missed.size, "a miss without a place above the tolerance"
    k = min(int(np.searchsorted(coarse, missed.min(), side="right")) - 1, coarse.size - 2)
    assert missed.max() <= coarse[k + 1], "the miss spans more than one coarse interval"
    assert missed.max() - missed.min() < 0.5 * (coarse[k + 1] - coarse[k]), missed


def check_answer(r, curve, kind):
    """The refinement's height is the exact barrier's to within its tolerance, and its
    place is the exact one's to within alpha_tol, unless another place is as high
    (to within the tolerance) -- or the barrier is a feature narrower than the coarse
    grid, which the module says can be missed (then False)."""
    values = curve(FINE)
    ends = curve(np.array([0.0, 1.0]))

    def excess(alpha):
        chord = ends[0] if kind == "rise" else (1 - alpha) * ends[0] + alpha * ends[1]
        return curve(alpha) - chord

    g = excess(FINE)
    # and the maximum to rounding: a dense grid around the fine grid's best point
    near = np.clip(FINE[int(np.argmax(g))] + np.linspace(-1, 1, 2001) * FINE[1], 0, 1)
    exact = max(float(g.max()), float(excess(near).max()), 0.0)
    assert r.evaluations <= 30
    assert r.height <= exact + 1e-9 * max(1.0, abs(values).max())
    if exact - r.tolerance > r.height:
        assert_narrower_than_the_coarse_grid(r, FINE, g)
        return False
    if r.height > r.tolerance:
        star = FINE[int(np.argmax(g))]
        elsewhere = g[np.abs(FINE - star) > r.alpha_tolerance]
        unique = elsewhere.size == 0 or elsewhere.max() < exact - r.tolerance
        if unique:
            assert abs(r.location - star) <= r.alpha_tolerance + FINE[1]
    else:  # a zero barrier counts when reported as zero within the tolerance
        assert exact <= r.tolerance + 1e-12


systems = st.sampled_from(["deep_linear", "deep_linear_L2_w2", "deep_linear_L3_w2", "deep_linear_L2_w3"])


@settings(max_examples=25, deadline=None)
@given(system=systems, seed=st.integers(0, 500), replicate=st.integers(0, 2),
       analysis=st.sampled_from(["init_to_final", "final_to_final", "from_time_to_final"]),
       kind=st.sampled_from(["rise", "linear"]))
def test_refine_finds_the_exact_barrier_of_deep_linear_lines(system, seed, replicate, analysis, kind):
    # tolerance 1e-3 of the init→final loss range, as the issue states it
    ref = dl.init_to_final(system, n_replicates=replicate + 1, seed=seed, alphas=[0.0, 1.0])
    scale = float(ref.loss.values[replicate, 0] - ref.loss.values[replicate, 1])

    def curve(alpha):
        if analysis == "from_time_to_final":
            ds = dl.from_time_to_final([50], system, n_replicates=replicate + 1, seed=seed, alphas=alpha)
            return ds.loss.values[replicate, 0]
        ds = getattr(dl, analysis)(system, n_replicates=replicate + 1, seed=seed, alphas=alpha)
        return ds.loss.values[replicate]

    r = refine(curve, kind=kind, scale=scale)
    found = check_answer(r, curve, kind)
    if found is not False and analysis != "from_time_to_final" and kind == "rise":  # the theory's own exact answer
        exact = getattr(dl, analysis)(system, n_replicates=replicate + 1, seed=seed, alphas=[0.0, 1.0])
        assert abs(r.height - float(exact.barrier_height[replicate])) <= r.tolerance


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(2, 3), width=st.integers(1, 3), samples=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["rise", "linear"]))
def test_refine_on_random_deep_linear_polynomials(depth, width, samples, seed, kind):
    rng = np.random.default_rng(seed)
    wa = [rng.standard_normal((width, width)) for _ in range(depth)]
    wb = [rng.standard_normal((width, width)) for _ in range(depth)]
    X, Y = rng.standard_normal((width, samples)), rng.standard_normal((width, samples))
    coef = dl.line_polynomial(wa, wb, X, Y)

    def curve(alpha):
        return np.polynomial.polynomial.polyval(alpha, coef)

    values = curve(FINE)
    r = refine(curve, kind=kind, scale=float(values.max() - values.min()) or 1.0)
    found = check_answer(r, curve, kind)
    assert r.converged  # smooth, low-degree curves: the budget suffices
    exact = dl.polynomial_barrier(coef, kind)
    if found is not False:
        assert abs(r.height - exact.height) <= r.tolerance


def test_refine_reports_its_rounds_and_agrees_with_metrics():
    def curve(alpha):
        return np.sin(3 * alpha) + 0.2 * alpha

    r = refine(curve, kind="rise", tol=1e-4, scale=1.0, max_evaluations=40)
    assert r.rounds[0].size == 11 and sum(x.size for x in r.rounds) == r.evaluations
    assert np.all(np.diff(r.alpha) > 0)
    da = results.slice_dataset(r.values, alpha=r.alpha, analysis="t", system="t").loss
    assert float(metrics.rise_barrier(da).height) == r.height
    assert r.converged and r.error <= r.tolerance
    star = np.pi / 6 + np.arccos(-0.2 / 3) / 3 - np.pi / 6  # where 3cos(3α) + 0.2 = 0
    assert abs(r.location - star) <= 1e-2


def test_refine_stops_at_its_budget_and_says_so():
    r = refine(lambda a: np.sin(40 * a), kind="max", tol=1e-9, scale=1.0, max_evaluations=15)
    assert r.evaluations == 15 and not r.converged


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "barrier"}, "unknown kind 'barrier'"),
        ({"lo": 1.0, "hi": 0.0}, "hi must be greater than lo"),
        ({"tol": 0}, "tol must be a positive"),
        ({"coarse": 2}, "coarse must be an integer >= 3"),
        ({"coarse": 40}, "exceeds max_evaluations"),
        ({"per_round": 0}, "per_round must be a positive integer"),
    ],
)
def test_refine_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        refine(lambda a: a, **kwargs)


def test_refine_needs_one_value_per_alpha():
    with pytest.raises(ValueError, match="must return one per α"):
        refine(lambda a: a[:2])


# ----------------------------------------------------------------------- networks


@pytest.fixture(scope="module")
def two_nets():
    """Two small MLPs trained from different inits on the same task."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=gen)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 0.5).long()
    ends = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        for _ in range(60):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        ends.append(copy.deepcopy(net.state_dict()))
    return net, ends[0], ends[1], (x, y)


def test_refine_line_matches_a_fine_uniform_grid(two_nets):
    net, a, b, data = two_nets
    fine = evaluate(net, paths.linear(a, b, np.linspace(0, 1, 1001)), data, device="cpu", progress=False)
    exact = metrics.linear_barrier(fine)
    ds = refine_line(net, a, b, data, kind="linear", scale=1.0, device="cpu")
    info = json.loads(ds.attrs["refine"])
    assert info["evaluations"] == ds.sizes["alpha"] <= 30 and info["converged"]
    assert abs(info["height"] - float(exact.height)) <= 1e-3
    assert abs(info["location"] - float(exact.location)) <= 1e-2
    # an ordinary slice dataset: metrics give the same answer on it
    assert float(metrics.linear_barrier(ds).height) == info["height"]
    assert set(np.unique(ds.refine_round.values)) == set(range(len(info["rounds"])))
    assert json.loads(ds.attrs["hyperparameters"])["refine"]["kind"] == "linear"
    results.validate(ds)


def test_refine_line_on_a_subset_reports_a_bootstrap_interval(two_nets):
    net, a, b, data = two_nets
    ds = refine_line(net, a, b, data, kind="linear", subset=200, seed=3, device="cpu")
    info = json.loads(ds.attrs["refine"])
    low, high = info["interval"]
    assert low <= info["height"] <= high and info["subset"] == 200 and info["level"] == 0.95
    assert ds.loss_per_example.sizes["example"] == 200
    iv = bootstrap_barrier(ds, "linear", resamples=200, seed=1)
    assert iv.height == pytest.approx(info["height"], rel=1e-6)  # float32 outputs


def test_bootstrap_interval_covers_the_full_data_barrier_about_as_often_as_it_says():
    # Examples drawn from a known population: the 80% interval from subsets of 100
    # should contain the population barrier in most of 40 draws.
    rng = np.random.default_rng(0)
    alpha = np.linspace(0, 1, 9)
    population = 1 + 0.5 * np.sin(np.pi * alpha)[:, None] + rng.standard_normal((9, 20000))
    truth = float(metrics.rise_barrier(results.slice_dataset(
        population.mean(1), alpha=alpha, analysis="t", system="t")).height)
    hits = 0
    for draw in range(40):
        cols = rng.choice(20000, 100, replace=False)
        ds = results.slice_dataset(population[:, cols].mean(1), alpha=alpha, analysis="t", system="t")
        ds["loss_per_example"] = (("alpha", "example"), population[:, cols])
        iv = bootstrap_barrier(ds, "rise", level=0.8, resamples=300, seed=draw)
        hits += iv.low <= truth <= iv.high
    assert 24 <= hits <= 40  # 80% of 40 is 32; the percentile bootstrap of a max is a bit optimistic


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data": "dict"}, "needs one split"),
        ({"subset": 10_000}, "exceeds the 512 examples"),
        ({"progress": True}, "sets 'progress' itself"),
    ],
)
def test_refine_line_rejects_what_it_cannot_do(two_nets, kwargs, message):
    net, a, b, data = two_nets
    if kwargs.pop("data", None) == "dict":
        data = {"train": data}
    with pytest.raises(ValueError, match=message):
        refine_line(net, a, b, data, device="cpu", **kwargs)


def _noisy_bump(n, seed):
    rng = np.random.default_rng(seed)
    a = np.linspace(0.0, 1.0, 11)
    mean = 1 + 0.4 * np.sin(np.pi * a)
    return a, mean[:, None] + 0.3 * rng.standard_normal((a.size, n))


def test_bootstrap_intervals_leave_out_padding_and_narrow_with_more_examples():
    import xarray as xr

    a, few = _noisy_bump(100, 0)
    _, many = _noisy_bump(1600, 1)
    padded = np.concatenate([few, np.full((a.size, 1500), np.nan)], axis=1)
    each = xr.DataArray(np.stack([padded, many]), dims=("split", "alpha", "example"),
                        coords={"alpha": a, "split": ["few", "many"]})
    iv = bootstrap_intervals(each, "bump", resamples=400)
    assert iv.dims == ("split", "bound")
    alone = bootstrap_intervals(each.isel(split=0, example=slice(0, 100)), "bump",
                                resamples=400)
    np.testing.assert_array_equal(iv.sel(split="few").values, alone.values)  # padding: no effect
    width = iv.sel(bound="high") - iv.sel(bound="low")
    ratio = float(width.sel(split="few") / width.sel(split="many"))
    assert 2.5 < ratio < 6.5  # 1/sqrt(n): 16 times the examples, a quarter of the width
    for split in ("few", "many"):  # the 0.4 bump lies inside both
        lo, hi = iv.sel(split=split).values
        assert lo < 0.4 < hi


def test_bootstrap_intervals_refuse_what_they_cannot_do():
    import xarray as xr

    each = xr.DataArray(np.ones((3, 4)), dims=("alpha", "example"), coords={"alpha": [0, .5, 1]})
    with pytest.raises(ValueError, match="unknown kind 'peak'"):
        bootstrap_intervals(each, "peak")
    with pytest.raises(ValueError, match="dims 'alpha' and 'example'"):
        bootstrap_intervals(each.rename(example="sample"), "rise")
