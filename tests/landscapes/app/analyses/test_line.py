"""The adaptive α barrier shared by the line analyses (analyses/line.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from landscapes import evaluate, metrics, paths
from landscapes.app.analyses import get_analysis
from landscapes.app.analyses.line import BarrierSettings, adaptive_barrier
from landscapes.app.settings import Budget
from landscapes.app.systems import get_system


def _trained(seed: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    opt = torch.optim.Adam(net.parameters(), 0.03)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net, {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.fixture(scope="module")
def net_curve() -> object:
    """Loss on the line between two small networks trained from different inits."""
    torch.manual_seed(0)
    x = torch.randn(256, 6)
    y = (x[:, :3] ** 2).argmax(1)
    net, a = _trained(1, x, y)
    _, b = _trained(2, x, y)

    def curve(alpha: np.ndarray) -> xr.DataArray:
        return evaluate(net, paths.linear(a, b, alpha), (x, y), device="cpu",
                        progress=False).loss
    return curve


@pytest.mark.parametrize("kind", ["rise", "linear"])
def test_network_line_agrees_with_dense_grid(kind: str, net_curve: object) -> None:
    curve = net_curve
    found = adaptive_barrier(curve, kind, tol=1e-3, max_evaluations=30)
    dense = curve(np.linspace(0, 1, 1001))
    height = float(getattr(metrics, f"{kind}_barrier")(dense).height)
    assert height > 0
    assert abs(float(found[f"{kind}_adaptive"]) - height) <= float(
        found[f"{kind}_adaptive_tolerance"]) + 1e-3 * height
    assert int(found[f"{kind}_adaptive_evaluations"]) <= 30


def test_same_seed_same_numbers(net_curve: object) -> None:
    curve = net_curve
    one = adaptive_barrier(curve, "linear", tol=1e-3, max_evaluations=20)
    two = adaptive_barrier(curve, "linear", tol=1e-3, max_evaluations=20)
    xr.testing.assert_identical(one, two)


def test_closed_form_agrees_with_dense_grid() -> None:
    analysis, system = get_analysis("final_to_final"), get_system("deep_linear")
    budget = Budget(points=21, replicates=2, barrier_tol=1e-4, barrier_evaluations=25)
    ds = analysis.closed_form(system, analysis.view(budget))
    dense = analysis.closed_form(system, analysis.view(Budget(points=1001, replicates=2)))
    exact = metrics.linear_barrier(dense.loss.sel(alpha=slice(0.0, 1.0))).height
    assert (ds.linear_adaptive_evaluations <= 25).all()
    assert np.allclose(ds.linear_adaptive, exact, rtol=0,
                       atol=float(ds.linear_adaptive_tolerance.max()) + 1e-4 * float(exact.max()))
    # The uniform curve stays for the figure.
    assert ds.sizes["alpha"] == analysis.grid(analysis.view(budget)).size


def test_off_by_default_and_priced_at_its_maximum() -> None:
    analysis = get_analysis("final_to_final")
    assert Budget().barrier_tol is None
    off = analysis.view(Budget(points=41))
    on = analysis.view(Budget(points=41, barrier_tol=1e-3, barrier_evaluations=30))
    # Each split's search starts from the line's uniform grid and adds up to 30 points.
    assert analysis.count_points(on, None) - analysis.count_points(off, None) == 30 * len(
        Budget().splits)
    ds = analysis.closed_form(get_system("deep_linear"), off)
    assert "linear_adaptive" not in ds.data_vars


@pytest.mark.parametrize("bad", [0.0, 1.5, -1e-3])
def test_bad_tolerance_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="barrier_tol"):
        BarrierSettings(barrier_tol=bad)
