"""landscapes.evaluate against plain per-point loops, closed forms and bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from landscapes import evaluate, paths, results
from experiments.models import lenet_300_100


def plain_loop(model, path, x, y, loss_fn=nn.functional.cross_entropy, batch_size=1000):
    """The reference: load_state_dict at each point, then forward over batches."""
    net = copy.deepcopy(model).eval()
    loss, err = [], []
    for i in range(len(path)):
        net.load_state_dict(path.point(i), strict=False)
        total, wrong = 0.0, 0.0
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                out = net(x[s : s + batch_size])
                total += float(loss_fn(out, y[s : s + batch_size])) * len(out)
                wrong += float((out.argmax(1) != y[s : s + batch_size]).sum())
        loss.append(total / len(x))
        err.append(wrong / len(x))
    return np.array(loss).reshape(path.shape), np.array(err).reshape(path.shape)


def train_briefly(model, x, y, steps=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (128,), generator=gen)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def mnist_pair(mnist_train):
    torch.manual_seed(0)
    net = lenet_300_100()
    init = copy.deepcopy(net.state_dict())
    train_briefly(net, *mnist_train)
    return net, init, copy.deepcopy(net.state_dict())


def test_evaluate_equals_plain_loop_on_mnist(mnist_pair, mnist_test):
    net, init, final = mnist_pair
    x, y = mnist_test
    path = paths.linear(init, final, np.linspace(-0.25, 1.25, 7))
    ds = evaluate(net, path, (x, y), device="cpu", batch_size=2500, progress=False)
    loss, err = plain_loop(net, path, x, y)
    np.testing.assert_allclose(ds.loss.values, loss, rtol=1e-5)
    np.testing.assert_allclose(ds.error.values, err, rtol=0, atol=1e-12)
    # training worked, so the path really goes somewhere
    assert ds.loss.sel(alpha=1.0) < ds.loss.sel(alpha=0.0)
    assert ds.error.sel(alpha=1.0) < 0.5 < ds.error.sel(alpha=0.0)


def test_plane_on_mnist_equals_plain_loop(mnist_pair, mnist_test):
    net, _, final = mnist_pair
    x, y = mnist_test[0][:2000], mnist_test[1][:2000]
    path = paths.plane(final, alphas=[-0.5, 0.0, 0.5], betas=[-0.5, 0.5], seed=1)
    ds = evaluate(net, path, (x, y), device="cpu", chunk_size=4, progress=False)
    loss, err = plain_loop(net, path, x, y)
    assert ds.loss.dims == ("alpha", "beta")
    np.testing.assert_allclose(ds.loss.values, loss, rtol=1e-5)
    np.testing.assert_allclose(ds.error.values, err, atol=1e-12)


class LinearInParameters(nn.Module):
    """f(x) = x·w + c: the loss along a line is an exact quadratic in α."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d, dtype=torch.float64))
        self.c = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w + self.c


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**31 - 1),
    d=st.integers(1, 6),
    alphas=st.lists(st.floats(-2, 3, allow_nan=False), min_size=1, max_size=6),
)
def test_loss_on_model_linear_in_parameters_equals_closed_form(seed, d, alphas):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(40, d, generator=gen, dtype=torch.float64)
    y = torch.randn(40, generator=gen, dtype=torch.float64)
    a = {"w": torch.randn(d, generator=gen, dtype=torch.float64), "c": torch.randn((), generator=gen, dtype=torch.float64)}
    b = {"w": torch.randn(d, generator=gen, dtype=torch.float64), "c": torch.randn((), generator=gen, dtype=torch.float64)}
    ds = evaluate(LinearInParameters(d), paths.linear(a, b, alphas), (x, y),
                  loss_fn=nn.MSELoss(), device="cpu", batch_size=16, progress=False)
    # residuals are affine in α: r(α) = (1 − α)·r_a + α·r_b, so
    # J(α) = (1 − α)²·mean(r_a²) + 2α(1 − α)·mean(r_a r_b) + α²·mean(r_b²)
    ra, rb = (x @ a["w"] + a["c"] - y), (x @ b["w"] + b["c"] - y)
    al = np.asarray(alphas)
    closed = ((1 - al) ** 2 * float((ra**2).mean()) + 2 * al * (1 - al) * float((ra * rb).mean())
              + al**2 * float((rb**2).mean()))
    np.testing.assert_allclose(ds.loss.values, closed, rtol=1e-10, atol=1e-12)
    assert ds.error.isnull().all()  # regression: error is undefined


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), alphas=st.lists(st.floats(-1, 2, allow_nan=False), min_size=1, max_size=5))
def test_reversing_a_path_reverses_the_values(seed, alphas):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    a = copy.deepcopy(net.state_dict())
    b = {k: v + torch.randn_like(v) for k, v in a.items()}
    x, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 3, (30,))
    al = np.asarray(alphas)
    fwd = evaluate(net, paths.linear(a, b, al), (x, y), device="cpu", progress=False)
    rev = evaluate(net, paths.linear(b, a, 1 - al), (x, y), device="cpu", progress=False)
    np.testing.assert_allclose(fwd.loss.values, rev.loss.values, rtol=1e-12)
    np.testing.assert_array_equal(fwd.error.values, rev.error.values)


@pytest.fixture()
def small():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    a = copy.deepcopy(net.state_dict())
    b = {k: v + 0.5 * torch.randn_like(v) for k, v in a.items()}
    x, y = torch.randn(100, 6), torch.randint(0, 4, (100,))
    return net, a, b, x, y


def test_data_forms_and_chunk_sizes_give_identical_results(small):
    net, a, b, x, y = small
    path = paths.linear(a, b, np.linspace(0, 1, 5))
    ref = evaluate(net, path, (x, y), device="cpu", batch_size=32, progress=False)
    for data in (
        TensorDataset(x, y),
        DataLoader(TensorDataset(x, y), batch_size=32),
        [(x[i : i + 32], y[i : i + 32]) for i in range(0, 100, 32)],
    ):
        ds = evaluate(net, path, data, device="cpu", batch_size=32, progress=False)
        np.testing.assert_array_equal(ds.loss.values, ref.loss.values)
    for chunk in (1, 2, 5):
        ds = evaluate(net, path, (x, y), device="cpu", batch_size=32, chunk_size=chunk, progress=False)
        np.testing.assert_array_equal(ds.loss.values, ref.loss.values)
    again = evaluate(net, path, (x, y), device="cpu", batch_size=32, progress=False)
    np.testing.assert_array_equal(again.loss.values, ref.loss.values)  # same input, same numbers


def test_splits_metrics_and_divergence(small):
    net, a, b, x, y = small
    path = paths.linear(a, b, [0.0, 0.5, 1.0])
    mae = lambda out, t: (out.softmax(1).max(1).values).mean()  # noqa: E731
    ds = evaluate(net, path, {"train": (x[:60], y[:60]), "test": (x[60:], y[60:])},
                  metrics={"confidence": mae}, reference=b, device="cpu", progress=False)
    assert ds.loss.dims == ("split", "alpha")
    assert list(ds.split.values) == ["train", "test"]
    assert {"loss", "error", "confidence", "divergence"} <= set(ds.data_vars)
    assert (ds.divergence.sel(alpha=1.0) == 0).all()
    assert (ds.divergence.sel(alpha=0.0) > 0).all()
    results.validate(ds)
    only_test = evaluate(net, path, (x[60:], y[60:]), device="cpu", progress=False)
    np.testing.assert_allclose(ds.loss.sel(split="test").values, only_test.loss.values, rtol=1e-6)
    probs = evaluate(net, path, (x, y), reference=b, divergence="probabilities", device="cpu", progress=False)
    assert (probs.divergence <= np.sqrt(2) + 1e-6).all()


def test_divergence_is_rms_output_distance(small):
    net, a, b, x, y = small
    ds = evaluate(net, paths.linear(a, b, [0.0]), (x, y), reference=b, device="cpu", progress=False)
    na, nb = copy.deepcopy(net).eval(), copy.deepcopy(net).eval()
    na.load_state_dict(a)
    nb.load_state_dict(b)
    with torch.no_grad():
        expected = float(((na(x) - nb(x)) ** 2).sum(1).mean().sqrt())
    assert float(ds.divergence[0]) == pytest.approx(expected, rel=1e-5)


def test_non_finite_losses_are_recorded_and_do_not_stop_the_run(small):
    net, a, b, x, y = small
    ds = evaluate(net, paths.linear(a, b, [0.0, 1e38, 1.0]), (x, y), device="cpu", progress=False)
    assert np.isfinite(ds.loss.values[[0, 2]]).all()
    assert not np.isfinite(ds.loss.values[1])


def test_model_and_anchors_are_not_modified(small):
    net, a, b, x, y = small
    net.train()
    before = copy.deepcopy(net.state_dict())
    a_before = copy.deepcopy(a)
    evaluate(net, paths.linear(a, b, [0.3]), (x, y), device="cpu", progress=False)
    assert net.training and net[2].training
    for k in before:
        assert torch.equal(net.state_dict()[k], before[k])
        assert torch.equal(a[k], a_before[k])


def bn_net():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                        nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x, y = torch.randn(96, 1, 8, 8), torch.randint(0, 3, (96,))
    a = copy.deepcopy(net.state_dict())
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net, a, copy.deepcopy(net.state_dict()), x, y


def test_bn_interpolate_equals_plain_loop_with_interpolated_statistics():
    net, a, b, x, y = bn_net()
    path = paths.linear(a, b, [0.0, 0.4, 1.0])
    ds = evaluate(net, path, (x, y), device="cpu", batch_size=32, progress=False)
    loss, _ = plain_loop(net, path, x, y, batch_size=32)
    np.testing.assert_allclose(ds.loss.values, loss, rtol=1e-5)


def test_bn_recompute_equals_cumulative_reestimate():
    net, a, b, x, y = bn_net()
    path = paths.linear(a, b, [0.0, 0.4, 1.0])
    train, test = (x[:64], y[:64]), (x[64:], y[64:])
    ds = evaluate(net, path, {"train": train, "test": test}, bn="recompute", bn_batches=2,
                  device="cpu", batch_size=16, progress=False)
    ref = copy.deepcopy(net)
    for i in range(len(path)):
        ref.load_state_dict(path.point(i))
        ref[1].reset_running_stats()
        ref[1].momentum = None
        ref.train()
        ref[3].eval()  # dropout off while estimating
        with torch.no_grad():
            for s in (0, 16):
                ref(train[0][s : s + 16])
            ref.eval()
            expected = float(nn.functional.cross_entropy(ref(test[0]), test[1]))
        assert float(ds.loss.sel(split="test")[i]) == pytest.approx(expected, rel=1e-5)
    assert net[1].momentum == 0.1  # restored
    hyper = ds.attrs["hyperparameters"]
    assert '"bn": "recompute"' in hyper and '"bn_batches": 2' in hyper


def test_progress_is_quiet_when_asked(small, capsys):
    net, a, b, x, y = small
    evaluate(net, paths.linear(a, b, [0.0, 1.0]), (x, y), device="cpu", progress=False)
    assert capsys.readouterr().err == ""
    evaluate(net, paths.linear(a, b, [0.0, 1.0]), (x, y), device="cpu", progress=True)
    assert "point" in capsys.readouterr().err


def test_result_is_labelled_and_saves(small, tmp_path):
    net, a, b, x, y = small
    ds = evaluate(net, paths.linear(a, b, [-0.5, 0.0, 1.0]), (x, y), device="cpu",
                  analysis="init_to_final", system="small_mlp", progress=False)
    assert ds.attrs["analysis"] == "init_to_final" and ds.attrs["system"] == "small_mlp"
    assert ds.attrs["device"] == "cpu"
    dist = np.sqrt(sum(float(((b[k] - a[k]) ** 2).sum()) for k in a))
    np.testing.assert_allclose(ds.distance.values, [-0.5 * dist, 0.0, dist], rtol=1e-6)
    out = results.save(ds, tmp_path / "r.nc")
    assert results.load(out).identical(ds)


def test_linear_slice_needs_finite_and_matching_model(small):
    net, a, b, x, y = small
    other = nn.Linear(6, 4)
    with pytest.raises(ValueError, match="not in the model's state_dict"):
        evaluate(other, paths.linear(a, b, [0.0]), (x, y), device="cpu")


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"bn": "fixed"}, ValueError, "unknown bn 'fixed'"),
        ({"bn_batches": 0}, ValueError, "bn_batches must be a positive integer"),
        ({"device": "tpu"}, ValueError, "unknown device 'tpu'"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"chunk_size": -1}, ValueError, "chunk_size must be"),
        ({"loss_fn": nn.CrossEntropyLoss(reduction="none")}, ValueError, "reduction='none'"),
        ({"loss_fn": lambda o, t: o.sum(1)}, ValueError, "one number per batch"),
        ({"loss_fn": 3}, TypeError, "loss_fn must be callable"),
        ({"error": "top5"}, ValueError, "unknown error 'top5'"),
        ({"metrics": {"loss": lambda o, t: o.mean()}}, ValueError, "reserved"),
        ({"metrics": {"my metric": lambda o, t: o.mean()}}, ValueError, "identifiers"),
        ({"divergence": "kl"}, ValueError, "unknown divergence 'kl'"),
    ],
)
def test_invalid_options_get_clear_errors(small, kwargs, exc, message):
    net, a, b, x, y = small
    with pytest.raises(exc, match=message):
        evaluate(net, paths.linear(a, b, [0.0]), (x, y), **{"device": "cpu", **kwargs})


@pytest.mark.parametrize(
    "data, exc, message",
    [
        (42, TypeError, "must be an \\(inputs, targets\\) pair"),
        ((torch.zeros(3, 6), torch.zeros(4, dtype=torch.long)), ValueError, "3 examples but targets 4"),
        ((torch.zeros(0, 6), torch.zeros(0, dtype=torch.long)), ValueError, "no examples"),
        (iter([(torch.zeros(2, 6), torch.zeros(2, dtype=torch.long))]), ValueError, "iterator"),
        ([{"x": torch.zeros(2, 6)}], TypeError, "batch 0 is a dict"),
        ({}, ValueError, "empty dict"),
        ([], ValueError, "no batches"),
    ],
)
def test_invalid_data_gets_clear_errors(small, data, exc, message):
    net, a, b, _, _ = small
    with pytest.raises(exc, match=message):
        evaluate(net, paths.linear(a, b, [0.0]), data, device="cpu", progress=False)


def test_wrong_model_or_path_types(small):
    net, a, b, x, y = small
    with pytest.raises(TypeError, match="torch.nn.Module"):
        evaluate(lambda t: t, paths.linear(a, b, [0.0]), (x, y))
    with pytest.raises(TypeError, match="landscapes.paths.Path"):
        evaluate(net, [a, b], (x, y))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_request_without_gpu_is_a_clear_error(small):
    net, a, b, x, y = small
    with pytest.raises(ValueError, match="CUDA is not available"):
        evaluate(net, paths.linear(a, b, [0.0]), (x, y), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_matches_cpu(small):
    net, a, b, x, y = small
    path = paths.linear(a, b, [0.0, 0.5, 1.0])
    cpu = evaluate(net, path, (x, y), device="cpu", progress=False)
    gpu = evaluate(net, path, (x, y), device="cuda", progress=False)
    np.testing.assert_allclose(gpu.loss.values, cpu.loss.values, rtol=1e-4)


# ------------------------------------------------------------------ dtypes and arrays


def test_float64_data_and_anchors_on_a_float32_model_take_the_models_dtype(small):
    net, a, b, x, y = small
    path = paths.linear(a, b, [-0.5, 0.0, 0.5, 1.0])
    seen = []

    def loss(out, t):
        seen.append(out.dtype)
        return nn.functional.cross_entropy(out, t)

    ref = evaluate(net, path, (x, y), loss_fn=loss, device="cpu", progress=False)
    ds = evaluate(net, path, (x.double(), y), loss_fn=loss, device="cpu", progress=False)
    np.testing.assert_array_equal(ds.loss.values, ref.loss.values)  # the same float32 inputs
    assert set(seen) == {torch.float32}
    wide = paths.linear({k: v.double() for k, v in a.items()}, {k: v.double() for k, v in b.items()},
                        [-0.5, 0.0, 0.5, 1.0])
    ds = evaluate(net, wide, (x.double(), y), device="cpu", progress=False)
    loss_ref, _ = plain_loop(net, wide, x, y)  # load_state_dict casts the anchors the same way
    np.testing.assert_allclose(ds.loss.values, loss_ref, rtol=1e-5)


def test_a_float64_model_keeps_float64_whatever_the_data():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4)).double()
    a = copy.deepcopy(net.state_dict())
    b = {k: v + 0.5 * torch.randn_like(v) for k, v in a.items()}
    x, y = torch.randn(50, 6, dtype=torch.float64), torch.randint(0, 4, (50,))
    path = paths.linear(a, b, [0.0, 0.3, 1.0])
    seen = []

    def loss(out, t):
        seen.append(out.dtype)
        return nn.functional.cross_entropy(out, t)

    exact = evaluate(net, path, (x, y), device="cpu", progress=False)
    ds = evaluate(net, path, (x.float(), y), loss_fn=loss, device="cpu", progress=False)
    assert set(seen) == {torch.float64}
    loss_ref, _ = plain_loop(net, path, x.float().double(), y)
    np.testing.assert_allclose(ds.loss.values, loss_ref, rtol=1e-12)  # float64 all the way
    # float32 anchors on the float64 model are widened first, then combined in float64
    narrow = [{k: v.float() for k, v in anchor.items()} for anchor in (a, b)]
    ds = evaluate(net, paths.linear(*narrow, [0.0, 0.3, 1.0]), (x, y), device="cpu", progress=False)
    widened = paths.linear(*[{k: v.double() for k, v in anchor.items()} for anchor in narrow], [0.0, 0.3, 1.0])
    loss_ref, _ = plain_loop(net, widened, x, y)
    np.testing.assert_allclose(ds.loss.values, loss_ref, rtol=1e-12)
    assert not np.array_equal(ds.loss.values, exact.loss.values)  # the anchors really were rounded


def test_numpy_pairs_are_data():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    a = copy.deepcopy(net.state_dict())
    b = {k: v + 0.5 * torch.randn_like(v) for k, v in a.items()}
    x = np.random.default_rng(0).standard_normal((40, 6))  # float64, as numpy makes them
    y = np.random.default_rng(1).integers(0, 3, 40)
    path = paths.linear(a, b, [0.0, 0.5, 1.0])
    ref = evaluate(net, path, (torch.from_numpy(x).float(), torch.from_numpy(y)), device="cpu",
                   batch_size=16, progress=False)
    x.setflags(write=False)  # read-only arrays too, without torch's warning
    for data in ((x, y), [x, y], {"test": (x, y)}, [(x[:16], y[:16]), (x[16:], y[16:])]):
        ds = evaluate(net, path, data, device="cpu", batch_size=16, progress=False)
        np.testing.assert_array_equal(np.squeeze(ds.loss.values), ref.loss.values)


@pytest.mark.parametrize(
    "data, exc, message",
    [
        ((torch.zeros(3, 6), "labels"), TypeError, r"data 'data' is a tuple of \(Tensor, str\); an \(inputs, targets\) pair needs two tensors or arrays"),
        ((np.zeros(3, dtype=object), np.zeros(3)), TypeError, r"data 'data': the inputs are a ndarray that torch cannot convert"),
        ((np.zeros(()), np.zeros(())), ValueError, r"both need a leading dimension of examples"),
        (42, TypeError, r"must be an \(inputs, targets\) pair of tensors or arrays, a torch Dataset, or a re-iterable .*; got int 42"),
        ("data.npz", TypeError, r"; got str 'data.npz'"),
        ([(np.zeros((2, 6)), "y")], TypeError, r"batch 0 holds ndarray and str; inputs and targets must be tensors or arrays"),
    ],
)
def test_wrong_data_names_what_was_given_and_the_accepted_forms(small, data, exc, message):
    net, a, b, _, _ = small
    with pytest.raises(exc, match=message):
        evaluate(net, paths.linear(a, b, [0.0]), data, device="cpu", progress=False)


def test_a_floating_anchor_for_an_integer_entry_is_an_error():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    a = dict(net.state_dict())
    a["1.num_batches_tracked"] = a["1.num_batches_tracked"].double()
    with pytest.raises(ValueError, match=r"'1.num_batches_tracked' has dtype torch.float64 but the model's has torch.int64"):
        evaluate(net, paths.linear(a, a, [0.0]), (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)), device="cpu")
# --------------------------------------------------- functional distance and disagreement


def _by_hand(anchor_a, anchor_b, ref, x, alphas, probabilities):
    """RMS output distance and label disagreement of a linear layer, in numpy float64."""
    W = lambda s: (s["weight"].double().numpy(), s["bias"].double().numpy())  # noqa: E731
    (wa, ba), (wb, bb), (wr, br) = W(anchor_a), W(anchor_b), W(ref)
    xs = x.double().numpy()

    def form(z):
        if not probabilities:
            return z
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    ref_out = xs @ wr.T + br
    dist, agree = [], []
    for a in alphas:
        out = xs @ ((1 - a) * wa + a * wb).T + ((1 - a) * ba + a * bb)
        dist.append(np.sqrt(((form(out) - form(ref_out)) ** 2).sum(1).mean()))
        agree.append((out.argmax(1) != ref_out.argmax(1)).mean())
    return np.array(dist), np.array(agree)


@pytest.mark.parametrize("divergence", ["outputs", "probabilities"])
def test_functional_distance_and_label_disagreement_equal_a_hand_computation(divergence):
    # Im et al. (2016) §4.1 on a 3 -> 4 linear layer: 11 examples in uneven batches of 4,
    # so the per-batch weighting is exercised too.
    gen = torch.Generator().manual_seed(5)
    net = nn.Linear(3, 4)
    a, b, ref = ({k: torch.randn(v.shape, generator=gen) for k, v in net.state_dict().items()}
                 for _ in range(3))
    x, y = torch.randn(11, 3, generator=gen), torch.randint(0, 4, (11,), generator=gen)
    alphas = [0.0, 0.3, 0.7, 1.0]
    ds = evaluate(net, paths.linear(a, b, alphas), (x, y), reference=ref, divergence=divergence,
                  batch_size=4, device="cpu", progress=False)
    dist, agree = _by_hand(a, b, ref, x, alphas, divergence == "probabilities")
    np.testing.assert_allclose(ds.divergence.values, dist, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ds.disagreement.values, agree, rtol=0, atol=1e-12)
    # the hand numbers are not degenerate: labels change along the path and differ from ref
    assert len(set(np.round(agree * 11).astype(int))) > 1 and agree.max() > 0
    # the network disagrees with itself nowhere and lies at distance 0 from itself
    same = evaluate(net, paths.linear(ref, b, [0.0]), (x, y), reference=ref,
                    divergence=divergence, device="cpu", progress=False)
    assert float(same.disagreement[0]) == 0.0 and float(same.divergence[0]) < 1e-6


def test_disagreement_is_nan_where_outputs_are_not_class_scores():
    net = nn.Linear(3, 2)
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: 2 * v for k, v in a.items()}
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    ds = evaluate(net, paths.linear(a, b, [0.0, 1.0]), (x, y), loss_fn=nn.MSELoss(),
                  reference=a, device="cpu", progress=False)
    assert ds.disagreement.isnull().all() and np.isfinite(ds.divergence.values).all()
