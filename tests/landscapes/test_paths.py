"""Property tests of the interpolation math in landscapes.paths."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from landscapes import grids, paths
from landscapes.anchors import gram

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
coef = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
alpha_lists = st.lists(coef, min_size=1, max_size=12)


@st.composite
def anchor_sets(draw, k: int = 2, dtype=np.float64):
    """k parameter dicts with the same keys and shapes, plus an integer buffer."""
    n_keys = draw(st.integers(1, 3))
    shapes = [draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)) for _ in range(n_keys)]
    out = []
    for _ in range(k):
        d = {
            f"layer{i}.weight": torch.from_numpy(draw(arrays(dtype, tuple(s), elements=finite)))
            for i, s in enumerate(shapes)
        }
        d["bn.num_batches_tracked"] = torch.tensor(draw(st.integers(0, 100)))
        out.append(d)
    return out


def flat(p: dict) -> torch.Tensor:
    return torch.cat([v.reshape(-1).double() for v in p.values() if v.is_floating_point()])


@given(anchor_sets(), alpha_lists)
def test_linear_endpoints_reproduce_anchors_exactly(anchors, alphas):
    a, b = anchors
    p = paths.linear(a, b, [0.0, *alphas, 1.0])
    first, last = p.point(0), p.point(len(p) - 1)
    for key in a:
        assert torch.equal(first[key], a[key])
        if b[key].is_floating_point():
            assert torch.equal(last[key], b[key])
        else:  # integer entries are not interpolated: they come from the first anchor
            assert torch.equal(last[key], a[key])


@given(alpha_lists, alpha_lists)
def test_coefficients_sum_to_one(alphas, betas):
    one = {"w": torch.zeros(2)}
    for p in (
        paths.linear(one, one, alphas),
        paths.bilinear(one, one, one, one, alphas, betas),
        paths.barycentric(one, one, one, alphas, betas),
    ):
        np.testing.assert_allclose(p.coefficients.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(anchor_sets(k=4))
def test_bilinear_corners_and_barycentric_vertices(anchors):
    t00, t10, t01, t11 = anchors
    p = paths.bilinear(t00, t10, t01, t11, [0.0, 1.0], [0.0, 1.0])
    for (i, j), t in {(0, 0): t00, (1, 0): t10, (0, 1): t01, (1, 1): t11}.items():
        assert torch.equal(flat(p.point((i, j))), flat(t))
    q = paths.barycentric(t00, t10, t01, [0.0, 1.0], [0.0, 1.0])
    assert torch.equal(flat(q.point((0, 0))), flat(t00))
    assert torch.equal(flat(q.point((0, 1))), flat(t00))  # α = 0 is θ₀ whatever β
    assert torch.equal(flat(q.point((1, 1))), flat(t10))
    assert torch.equal(flat(q.point((1, 0))), flat(t01))


@given(anchor_sets(), alpha_lists)
def test_points_are_the_stated_combination(anchors, alphas):
    a, b = anchors
    p = paths.linear(a, b, alphas)
    for i, alpha in enumerate(alphas):
        expected = (1 - alpha) * flat(a) + alpha * flat(b)
        torch.testing.assert_close(flat(p.point(i)), expected, rtol=1e-12, atol=1e-9)


@given(anchor_sets(), alpha_lists)
def test_distance_coordinate_equals_direct_norm(anchors, alphas):
    a, b = anchors
    p = paths.linear(a, b, alphas)
    d = p.distance()
    for i, alpha in enumerate(alphas):
        direct = float((flat(p.point(i)) - flat(a)).norm())
        assert abs(abs(d[i]) - direct) <= 1e-9 * max(1.0, direct)
        assert np.sign(d[i]) in (0.0, np.sign(alpha))


@given(anchor_sets(), st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=8))
def test_ray_points_sit_at_the_stated_distance(anchors, lams):
    a, b = anchors
    if torch.equal(flat(a), flat(b)):
        with pytest.raises(ValueError, match="coincide"):
            paths.ray(a, b, lams)
        return
    p = paths.ray(a, b, lams)
    for i, lam in enumerate(lams):
        direct = float((flat(p.point(i)) - flat(a)).norm())
        assert direct == pytest.approx(abs(lam), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(p.distance(), lams, rtol=1e-9, atol=1e-9)


def test_ray_heads_towards_b():
    a, b = {"w": torch.tensor([0.0, 0.0])}, {"w": torch.tensor([3.0, 4.0])}
    p = paths.ray(a, b, [5.0, -5.0])
    torch.testing.assert_close(p.point(0)["w"], b["w"])
    torch.testing.assert_close(p.point(1)["w"], -b["w"])


def test_paths_copy_and_never_modify_inputs():
    net = torch.nn.Linear(3, 2)
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: v + 1 for k, v in a.items()}
    before = {k: v.clone() for k, v in a.items()}
    p = paths.linear(a, b, [0.0, 0.5, 1.0])
    for key in a:
        assert torch.equal(a[key], before[key])
    a["weight"].add_(100.0)  # later changes to the source do not reach the path
    torch.testing.assert_close(p.point(0)["weight"], before["weight"])
    m = paths.linear(net, b, [0.0])  # a module is read through state_dict()
    torch.testing.assert_close(m.point(0)["bias"], net.bias.detach())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("bias"), "lacks tensor 'bias'"),
        (lambda d: d.update(extra=torch.zeros(1)), "has tensor 'extra'"),
        (lambda d: d.update(weight=torch.zeros(5, 5)), "'weight' has shape"),
        (lambda d: d.update(weight=d["weight"].double()), "'weight' has dtype"),
        (lambda d: d["bias"].__setitem__(0, float("nan")), "'bias' of anchor 'b' has 1 non-finite"),
        (lambda d: d["weight"].__setitem__((0, 0), float("inf")), "'weight' of anchor 'b'"),
    ],
)
def test_invalid_anchors_name_the_first_offending_tensor(change, message):
    a = {"weight": torch.ones(2, 3), "bias": torch.zeros(2)}
    b = {k: v.clone() for k, v in a.items()}
    change(b)
    with pytest.raises(ValueError, match=message):
        paths.linear(a, b, [0.0, 1.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alphas": []}, "non-empty"),
        ({"alphas": [0.0, float("nan")]}, "finite"),
        ({"alphas": "wide"}, "unknown grid 'wide'"),
        ({"alphas": [[0.0, 1.0]]}, "1-D"),
        ({"names": ("x",)}, "names must be 2"),
    ],
)
def test_invalid_grids_and_names(kwargs, message):
    a = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match=message):
        paths.linear(a, a, **kwargs)


def test_non_dict_anchor_is_a_type_error():
    with pytest.raises(TypeError, match="dict of tensors"):
        paths.linear([1, 2], {"w": torch.zeros(1)})


def _cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 4, 3)
    )


def test_plane_filter_normalisation_matches_filter_norms():
    net = _cnn()
    p = paths.plane(net, alphas=[0.0, 1.0], betas=[0.0], seed=3)
    d1 = p.anchors[1]
    for key in ("0.weight", "3.weight"):
        w = net.state_dict()[key]
        torch.testing.assert_close(
            d1[key].reshape(w.shape[0], -1).norm(dim=1), w.reshape(w.shape[0], -1).norm(dim=1)
        )
    for key in ("0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "3.bias"):
        assert torch.count_nonzero(d1[key]) == 0
    assert torch.count_nonzero(d1["1.num_batches_tracked"]) == 0
    # the centre sits at (0, 0) exactly and α = 1, β = 0 is centre + d1
    torch.testing.assert_close(p.point((1, 0))["0.weight"], net[0].weight.detach() + d1["0.weight"])


@pytest.mark.parametrize("normalization", ["layer", None])
def test_plane_other_normalisations(normalization):
    net = _cnn()
    d = paths.plane(net, alphas=[0.0], betas=[0.0], normalization=normalization, bias_bn="copy").anchors[1]
    w = net.state_dict()["0.weight"]
    if normalization == "layer":
        assert float(d["0.weight"].norm()) == pytest.approx(float(w.norm()), rel=1e-5)
    torch.testing.assert_close(d["0.bias"], net.state_dict()["0.bias"])


def test_plane_directions_are_seeded_and_orthogonalised_on_request():
    net = _cnn()
    p1 = paths.plane(net, alphas=[0.0], betas=[0.0], seed=7)
    p2 = paths.plane(net, alphas=[0.0], betas=[0.0], seed=7)
    p3 = paths.plane(net, alphas=[0.0], betas=[0.0], seed=8)
    assert torch.equal(flat(p1.anchors[1]), flat(p2.anchors[1]))
    assert not torch.equal(flat(p1.anchors[1]), flat(p3.anchors[1]))
    po = paths.plane(net, alphas=[0.0], betas=[0.0], seed=7, orthogonalize=True)
    g = gram(po.anchors)
    assert abs(g[1, 2]) <= 1e-5 * np.sqrt(g[1, 1] * g[2, 2])
    assert g[2, 2] == pytest.approx(gram(p1.anchors)[2, 2], rel=1e-5)


def test_plane_rejects_unknown_options():
    net = _cnn()
    with pytest.raises(ValueError, match="unknown normalization 'filterwise'"):
        paths.plane(net, normalization="filterwise")
    with pytest.raises(ValueError, match="unknown bias_bn 'drop'"):
        paths.plane(net, bias_bn="drop")


def test_from_iterations_rows_start_at_each_checkpoint():
    ck = {t: {"w": torch.tensor([float(t), 0.0])} for t in (0, 2, 16)}
    final = {"w": torch.tensor([20.0, 0.0])}
    p = paths.from_iterations(ck, final, [0.0, 0.5, 1.0])
    assert p.shape == (3, 3)
    for i, t in enumerate((0, 2, 16)):
        torch.testing.assert_close(p.point((i, 0))["w"], ck[t]["w"])
        torch.testing.assert_close(p.point((i, 2))["w"], final["w"])
        np.testing.assert_allclose(p.distance()[i], [0.0, (20 - t) / 2, 20 - t])
    with pytest.raises(ValueError, match="non-negative iterations"):
        paths.from_iterations({-1: final}, final)


def test_named_grids_are_the_papers():
    assert len(grids.grid("uniform")) == 100
    assert (grids.grid("fine")[[0, -1]] == [0.0, 1.0]).all() and len(grids.grid("fine")) == 200
    z = grids.grid("zoom_init")
    assert len(z) == 200 and z[0] == 0.0 and z[-1] == pytest.approx(0.01)
    assert grids.grid("zoom_final")[0] == pytest.approx(0.99)
    e = grids.grid("extended")
    assert e[0] == -0.5 and e[-1] == 1.5
    with pytest.raises(ValueError, match="choose from"):
        grids.grid("zoom")
    with pytest.raises(ValueError, match="integer >= 2"):
        grids.uniform(1)


@settings(max_examples=25)
@given(anchor_sets(k=3))
def test_gram_gives_norms_of_combinations(anchors):
    g = gram(anchors)
    c = np.array([0.3, -1.2, 2.0])
    direct = sum(ci * flat(a) for ci, a in zip(c, anchors))
    assert c @ g @ c == pytest.approx(float(direct.pow(2).sum()), rel=1e-9, abs=1e-6)


def test_distance_between_nearly_equal_anchors_of_large_norm_is_exact():
    # A late checkpoint and the final weights: norm ~1e3 apart from the init, 1e-12
    # from each other. Forming ‖a‖² − 2⟨a, b⟩ + ‖b‖² would leave ~1e-5 of rounding.
    init = {"w": torch.zeros(1000, dtype=torch.float64)}
    late = {"w": torch.full((1000,), 30.0, dtype=torch.float64)}
    final = {"w": late["w"] + 1e-12}
    p = paths.from_iterations({0: init, 9: late}, final, [0.0, 0.5, 1.0])
    d = p.distance()
    gap = float(torch.linalg.vector_norm(final["w"] - late["w"]))  # 30 + 1e-12, as rounded
    assert 3e-11 < gap < 3.3e-11
    np.testing.assert_allclose(d[1], [0.0, gap / 2, gap], rtol=1e-9)
    np.testing.assert_allclose(d[0, -1], float(torch.linalg.vector_norm(final["w"])), rtol=1e-12)


def test_plane_draws_one_direction_for_a_tied_tensor():
    model = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.Linear(4, 7))
    model[1].weight = model[0].weight
    for center in (model, model.state_dict(), copy.deepcopy(model.state_dict())):
        p = paths.plane(center, alphas=[0.0, 1.0], betas=[0.0, 1.0], seed=2)
        for d in p.anchors[1:]:
            assert torch.equal(d["0.weight"], d["1.weight"]) and d["0.weight"].abs().sum() > 0
    untied = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.Linear(4, 7))
    untied.load_state_dict(model.state_dict())
    q = paths.plane(untied, alphas=[0.0, 1.0], betas=[0.0, 1.0], seed=2)
    assert not torch.equal(q.anchors[1]["0.weight"], q.anchors[1]["1.weight"])
    # the tensor's first name keeps its draw: the tie changes no other entry
    assert torch.equal(q.anchors[1]["0.weight"], p.anchors[1]["0.weight"])


# ------------------------------------------------------------------ blocks of a path


def _state(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, 2, generator=gen), "b": torch.randn(3, generator=gen),
            "n": torch.tensor(seed)}


def test_take_keeps_anchors_and_the_rows_of_a_block():
    p = paths.plane(_state(0), alphas=np.linspace(-1, 1, 5), betas=np.linspace(-1, 1, 3))
    q = paths.take(p, 1, 3)
    assert q.anchors is p.anchors and q.dims == p.dims and q.shape == (2, 3)
    np.testing.assert_array_equal(q.coefficients, p.coefficients[3:9])
    np.testing.assert_array_equal(q.coords["alpha"], p.coords["alpha"][1:3])
    np.testing.assert_array_equal(q.coords["beta"], p.coords["beta"])
    np.testing.assert_array_equal(q.distance(), p.distance()[1:3])
    for bad in ((2, 2), (-1, 2), (0, 6)):
        with pytest.raises(ValueError, match="need 0 <= start < stop"):
            paths.take(p, *bad)


def test_take_keeps_each_start_iterations_own_origin():
    p = paths.from_iterations({0: _state(0), 4: _state(1), 9: _state(2)}, _state(3),
                               np.linspace(0, 1, 4))
    q = paths.take(p, 2, 3)
    np.testing.assert_array_equal(q.coords["start_iteration"], [9])
    np.testing.assert_array_equal(q.distance(), p.distance()[2:3])
    assert q.affine == p.affine


@given(length=st.integers(1, 40), inner=st.integers(1, 7), points=st.integers(1, 60))
def test_blocks_cover_the_first_dimension_in_order(length, inner, points):
    p = paths.from_iterations({t: _state(t) for t in range(length)}, _state(99),
                               np.linspace(0, 1, inner))
    found = paths.blocks(p, points)
    assert found[0][0] == 0 and found[-1][1] == length
    assert all(a < b for a, b in found)
    assert all(b1 == a2 for (_, b1), (a2, _) in zip(found, found[1:]))
    sizes = [(b - a) * inner for a, b in found]
    # at most `points` each, unless one index alone holds more; as even as that allows
    assert all(s <= max(points, inner) for s in sizes)
    assert max(b - a for a, b in found) - min(b - a for a, b in found) <= 1


def test_distances_do_not_depend_on_the_thread_count():
    # A path evaluated on one-thread workers must label its points as it does here.
    from landscapes.anchors import gram, squared_distances
    from landscapes.devices import using_threads

    g = torch.Generator().manual_seed(0)
    anchors = [{"w": torch.randn(400_000, generator=g), "b": torch.randn(7, generator=g)}
               for _ in range(4)]
    found = []
    for threads in (1, 2):
        with using_threads(threads):
            found.append((gram(anchors, shifted=True), squared_distances(anchors)))
    for a, b in zip(*found):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ mode-connecting curves

ts_lists = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12)


@pytest.mark.parametrize("kind", paths.CURVES)
@given(ts=ts_lists)
def test_curve_rows_are_affine_weights_with_the_papers_form(kind, ts):
    t = np.asarray(ts)
    rows = paths.curve_coefficients(kind, ts)
    assert rows.shape == (len(ts), 3)
    assert np.allclose(rows.sum(axis=1), 1.0, atol=1e-12) and (rows >= 0).all()
    if kind == "bezier":
        expected = np.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], axis=1)
    else:  # the chord a→bend on [0, ½], bend→b on [½, 1]
        expected = np.stack([np.clip(1 - 2 * t, 0, None), 1 - np.abs(2 * t - 1),
                             np.clip(2 * t - 1, 0, None)], axis=1)
    assert np.allclose(rows, expected, atol=1e-12)


@pytest.mark.parametrize("make", [paths.bezier, paths.polychain])
@given(anchors=anchor_sets(k=3), ts=ts_lists)
def test_curves_pass_through_their_ends_exactly(make, anchors, ts):
    a, bend, b = anchors
    p = make(a, bend, b, [0.0, *ts, 1.0])
    assert p.dims == ("alpha",) and p.names == ("a", "bend", "b") and p.affine
    for key in a:
        assert torch.equal(p.point(0)[key], a[key])
        # integer entries are not interpolated: they come from the first anchor
        end = b[key] if b[key].is_floating_point() else a[key]
        assert torch.equal(p.point(len(p) - 1)[key], end)


@given(anchors=anchor_sets(k=2), ts=ts_lists)
def test_a_bezier_curve_with_a_zero_bend_is_the_line(anchors, ts):
    a, b = anchors
    mid = {k: (v + b[k]) / 2 if v.is_floating_point() else v for k, v in a.items()}
    curve, line = paths.bezier(a, mid, b, ts), paths.linear(a, b, ts)
    for i in range(len(ts)):
        for key in a:
            assert torch.allclose(curve.point(i)[key], line.point(i)[key], rtol=1e-9, atol=1e-9)


def test_the_polychain_reaches_its_bend_at_one_half():
    w = [{"w": torch.tensor([float(v)])} for v in (0, 5, 1)]
    assert float(paths.polychain(*w, [0.5]).point(0)["w"]) == 5.0


def test_curve_parameters_outside_the_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        paths.curve_coefficients("bezier", [0.5, 1.5])
    with pytest.raises(ValueError, match="unknown curve"):
        paths.curve_coefficients("spline", [0.5])
