"""Hessian eigenvectors as directions for lines and planes."""

from __future__ import annotations

import pytest
import torch

from landscapes import curvature, evaluate


def test_unit_directions_shaped_like_the_state(bn_net):
    net, x, y = bn_net
    d1, d2 = curvature.directions(net, (x, y), k=2, tol=1e-8, device="cpu")
    assert set(d1) == set(net.state_dict())
    assert torch.equal(d1["1.running_mean"], torch.zeros(4, dtype=torch.float64))
    assert d1["1.num_batches_tracked"].dtype == torch.long
    flat = [torch.cat([d[n].reshape(-1) for n, _ in net.named_parameters()]) for d in (d1, d2)]
    assert float(flat[0].norm()) == pytest.approx(1.0) and abs(float(flat[0] @ flat[1])) < 1e-8


def test_filter_normalised_directions(mlp):
    net, x, y = mlp
    [d] = curvature.directions(net, (x, y), k=1, normalization="filter", device="cpu")
    torch.testing.assert_close(d["0.weight"].norm(dim=1), net[0].weight.detach().norm(dim=1))
    assert torch.equal(d["0.bias"], torch.zeros_like(d["0.bias"]))
    [kept] = curvature.directions(net, (x, y), k=1, normalization="layer", bias_bn="keep", device="cpu")
    assert float(kept["2.weight"].norm()) == pytest.approx(float(net[2].weight.detach().norm()))
    assert float(kept["0.bias"].abs().sum()) > 0


def test_the_line_along_the_top_eigenvector_curves_by_its_eigenvalue(mlp):
    net, x, y = mlp
    ds = curvature.eigenvalues(net, (x, y), tol=1e-10, device="cpu")
    lam = float(ds.top_eigenvalue[0])
    h = 1e-3
    path = curvature.line(net, (x, y), [-h, 0.0, h], tol=1e-10, device="cpu")
    loss = evaluate(net, path, (x, y), device="cpu").loss.values
    second = (loss[0] - 2 * loss[1] + loss[2]) / h**2
    assert second == pytest.approx(lam, rel=1e-3)
    assert path.point(1)["0.weight"].equal(net[0].weight.detach())


def test_plane_along_the_top_two(mlp):
    net, x, y = mlp
    path = curvature.plane(net, (x, y), [-1.0, 0.0, 1.0], [0.0, 1.0], device="cpu")
    assert path.shape == (3, 2) and path.names == ("center", "d1", "d2")
    d1, d2 = curvature.directions(net, (x, y), k=2, device="cpu")
    assert torch.equal(path.anchors[1]["0.weight"], d1["0.weight"])


def test_tied_directions_stay_tied(exact):
    torch.manual_seed(0)
    net = exact.Tied().double()
    tokens, targets = torch.randint(0, 5, (30,)), torch.randint(0, 5, (30,))
    [d] = curvature.directions(net, (tokens, targets), k=1, device="cpu")
    assert torch.equal(d["head.weight"], d["embed.weight"])


def test_bad_direction_settings(mlp):
    net, x, y = mlp
    with pytest.raises(ValueError, match="unknown normalization 'filters'"):
        curvature.directions(net, (x, y), normalization="filters", device="cpu")
    with pytest.raises(ValueError, match="unknown which 'both'"):
        curvature.directions(net, (x, y), which="both", device="cpu")
    with pytest.raises(ValueError, match="index must be a non-negative integer"):
        curvature.line(net, (x, y), [0.0], index=-1, device="cpu")
