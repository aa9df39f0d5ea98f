"""The papers' networks: each builds, runs, trains a step and is a pure function of its weights."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

import experiments.models as models
from experiments.models import (
    CONV_DATASETS,
    CONV_FAMILIES,
    DATASETS,
    MODELS,
    TASKS,
    build,
    describe_models,
    lenet_300_100,
    spec,
)
from experiments.models.initialization import reinitialize, uniform_batch_norm_
from experiments.models.layers import GlobalAvgPool2d, Maxout
from experiments.models.lstm import LSTMLanguageModel
from experiments.models.maxout import conv_maxout
from experiments.models.resnet import BasicBlock

NAMES = sorted(MODELS)
BATCH = 2


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one intra-op thread and restore the setting after.

    Batches of two gain nothing from threads, and with pytest-xdist already running a
    worker per core, extra threads only oversubscribe the machine (several times slower).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_batch(name: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two examples of the model's input shape (ImageNet shrunk to 32x32, text to 5 tokens)."""
    entry = spec(name)
    gen = torch.Generator().manual_seed(seed)
    if entry.task == "language_model":
        tokens = torch.randint(0, entry.num_outputs, (BATCH, 6), generator=gen)
        return tokens[:, :-1], tokens[:, 1:]
    shape = (3, 32, 32) if entry.dataset == "imagenet" else entry.input_shape
    x = torch.randn(BATCH, *shape, generator=gen)
    return x, torch.randint(0, entry.num_outputs, (BATCH,), generator=gen)


def seeded(name: str, seed: int = 0, **kwargs: object) -> nn.Module:
    torch.manual_seed(seed)
    return build(name, **kwargs)


def frozen(name: str, seed: int = 0) -> nn.Module:
    """A seeded model whose parameters can be read as plain numbers."""
    return seeded(name, seed).requires_grad_(False)


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in (*model.named_parameters(), *model.named_buffers())}


def loss_of(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --- registry ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_well_formed(name: str) -> None:
    entry = MODELS[name]
    assert entry.name == name
    assert entry.dataset in DATASETS and entry.task in TASKS
    assert all(isinstance(n, int) and n > 0 for n in entry.input_shape)
    assert entry.num_outputs > 0 and entry.description
    assert name.split("_")[0] in {"mnist", "fashion", "cifar", "imagenet", "ptb"}


def test_registry_has_every_network_of_the_issue() -> None:
    wanted = {"mnist_mlp", "fashion_mlp", "cifar_maxout", "cifar_nin", "imagenet_resnet50"}
    wanted |= {"cifar_resnet20", "cifar_resnet20_nobn", "cifar_vgg16", "cifar_vgg16_nobn"}
    wanted |= {"ptb_lstm_medium"}
    # Issue 12: the conv families with and without batch norm on the data we have.
    families = ("resnet20", "vgg16", "vgg16_dropout", "nin")
    wanted |= {f"{data}_{f}{bn}" for data in ("mnist", "fashion") for f in families
               for bn in ("", "_nobn")}
    units = ("relu", "sigmoid", "maxout")
    wanted |= {f"mnist_{unit}{drop}" for unit in units for drop in ("", "_dropout")}
    assert wanted <= set(MODELS)
    assert [name for name, _ in describe_models()] == NAMES


def test_unknown_model_suggests_the_closest_name() -> None:
    hint = r"unknown model 'mnst_mlp' \(did you mean 'mnist_mlp'\?\); choose from \["
    with pytest.raises(ValueError, match=hint):
        build("mnst_mlp")
    with pytest.raises(ValueError, match=r"unknown model 'zzz'; choose from"):
        spec("zzz")
    with pytest.raises(ValueError, match=r"unknown model 'fashon_nin' \(did you mean 'fashion_nin'"):
        build("fashon_nin")


def test_build_rejects_arguments_the_model_does_not_take() -> None:
    with pytest.raises(ValueError, match=r"takes no argument 'batch_norm'; it takes \["):
        build("mnist_mlp", batch_norm=False)
    with pytest.raises(ValueError, match=r"num_classes must be a positive int, got 0"):
        build("cifar_vgg16", num_classes=0)
    with pytest.raises(ValueError, match=r"activation 'tanh'; choose from \['relu', 'sigmoid'\]"):
        build("mnist_relu", activation="tanh")


@pytest.mark.parametrize(
    "name", ["mnist_relu", "cifar_resnet20", "cifar_nin", "fashion_vgg16_dropout", "imagenet_resnet50"]
)
def test_num_classes_sets_the_output_width(name: str) -> None:
    x, _ = tiny_batch(name)
    assert seeded(name, num_classes=7).eval()(x).shape == (BATCH, 7)


# --- every model: forward, one training step, determinism, purity -----------------------------


@pytest.mark.parametrize("name", NAMES)
def test_forward_is_a_pure_function_of_the_parameters(name: str) -> None:
    entry = spec(name)
    model, other = seeded(name, 0).eval(), seeded(name, 1).eval()
    states = [state_of(model), state_of(other)]
    x, _ = tiny_batch(name)
    with torch.no_grad():
        out, out_other = model(x), other(x)
        per_example = () if entry.task == "classification" else x.shape[1:]
        assert out.shape == (BATCH, *per_example, entry.num_outputs)
        assert torch.isfinite(out).all()
        # The evaluation engine swaps parameters in with functional_call ...
        torch.testing.assert_close(functional_call(model, states[0], (x,)), out)
        torch.testing.assert_close(functional_call(model, states[1], (x,)), out_other)
        if entry.task != "classification":
            return
        # ... and batches points of parameter space with vmap.
        stacked = {k: torch.stack([s[k] for s in states]) for k in states[0]}
        batched = torch.vmap(lambda state: functional_call(model, state, (x,)))(stacked)
    for i, single in enumerate((out, out_other)):
        scale = float(single.abs().max())  # the no-batch-norm nets' logits can be large
        torch.testing.assert_close(batched[i], single, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_one_sgd_step_changes_the_parameters(name: str) -> None:
    model = seeded(name).train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    x, y = tiny_batch(name)
    loss = loss_of(model(x), y)
    assert torch.isfinite(loss)
    loss.backward()
    grads = {k: p.grad for k, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    changed = {k for k, p in model.named_parameters() if not torch.equal(p, before[k])}
    # Only parameters with a gradient move, and some always do. (Goodfellow's ReLU and sigmoid
    # nets start with a zero output layer, so their hidden layers only move from step two.)
    assert changed and changed <= {k for k, g in grads.items() if g.abs().sum() > 0}
    assert any(k.endswith("weight") for k in changed)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_parameters(name: str) -> None:
    a, b, c = state_of(seeded(name, 3)), state_of(seeded(name, 3)), state_of(seeded(name, 4))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("name", NAMES)
def test_batch_norm_switch(name: str) -> None:
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in seeded(name).modules())
    normalised = spec(name).family is not None or name.startswith("imagenet")
    assert has_bn == (normalised and not name.endswith("_nobn"))


# --- parameter counts from the layer shapes --------------------------------------------------


def conv(c_in: int, c_out: int, k: int, bias: bool = False) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def bn(c: int) -> int:
    return 2 * c


def basic_block(c_in: int, c_out: int) -> int:
    body = conv(c_in, c_out, 3) + bn(c_out) + conv(c_out, c_out, 3) + bn(c_out)
    return body + (conv(c_in, c_out, 1) + bn(c_out) if c_in != c_out else 0)


def bottleneck(c_in: int, width: int, projection: bool) -> int:
    body = conv(c_in, width, 1) + bn(width) + conv(width, width, 3) + bn(width)
    body += conv(width, 4 * width, 1) + bn(4 * width)
    return body + (conv(c_in, 4 * width, 1) + bn(4 * width) if projection else 0)


def resnet20_count() -> int:
    total, c_in = conv(3, 16, 3) + bn(16), 16
    for width in (16, 32, 64):
        for _ in range(3):
            total, c_in = total + basic_block(c_in, width), width
    return total + linear(64, 10)


def resnet50_count() -> int:
    total, c_in = conv(3, 64, 7) + bn(64), 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for i in range(blocks):
            total, c_in = total + bottleneck(c_in, width, projection=i == 0), 4 * width
    return total + linear(2048, 1000)


def vgg16_count() -> int:
    widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    convs = sum(conv(a, b, 3, bias=True) + bn(b) for a, b in zip([3, *widths], widths))
    return convs + linear(512, 10)


def lstm_medium_count() -> int:
    h, vocab = 650, 10_000
    per_layer = 4 * h * (h + h) + 2 * 4 * h  # input and recurrent weights, two bias vectors
    return vocab * h + 2 * per_layer + linear(h, vocab)


def maxout_mlp_count() -> int:
    return linear(784, 240 * 5) + linear(240, 240 * 5) + linear(240, 10)


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("mnist_mlp", lambda: linear(784, 300) + linear(300, 100) + linear(100, 10)),
        ("mnist_relu", lambda: linear(784, 898) + linear(898, 1532) + linear(1532, 10)),
        ("mnist_maxout", maxout_mlp_count),
        ("cifar_resnet20", resnet20_count),
        ("cifar_vgg16", vgg16_count),
        ("imagenet_resnet50", resnet50_count),
        ("ptb_lstm_medium", lstm_medium_count),
    ],
)
def test_parameter_count(name: str, count) -> None:
    assert sum(p.numel() for p in build(name).parameters()) == count()


def test_parameter_counts_match_the_papers_sizes() -> None:
    assert resnet20_count() == pytest.approx(0.27e6, rel=0.02)  # He et al. 2016, Table 6
    assert vgg16_count() == pytest.approx(14.7e6, rel=0.01)
    assert resnet50_count() == 25_557_032  # torchvision's ResNet-50


# --- the conv families on every dataset (issue 12) -------------------------------------------

FAMILY_MODELS = sorted(name for name, entry in MODELS.items() if entry.family is not None)
PAIRS = [(prefix, family) for prefix in CONV_DATASETS for family in CONV_FAMILIES]
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, GlobalAvgPool2d)


@functools.lru_cache(maxsize=4)  # a few VGG-16s (60 MB each) at most
def reference(name: str) -> nn.Module:
    """A seeded model shared by the read-only tests below (VGG-16 takes a while to build)."""
    return frozen(name).eval()


def is_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm)


def map_sizes(model: nn.Module, size: int, kinds: tuple[type, ...]) -> list[int]:
    """Height of the output of every module of ``kinds``, for one size×size image."""
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-2]))
             for m in model.modules() if isinstance(m, kinds)]
    channels = next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels
    with torch.no_grad():
        model(torch.zeros(1, channels, size, size))
    for hook in hooks:
        hook.remove()
    return sizes


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_conv_family_takes_the_datasets_shape_and_classes(name: str) -> None:
    entry = spec(name)
    shape, classes = models._IMAGES[entry.dataset]
    assert (entry.input_shape, entry.num_outputs) == (shape, classes)
    assert CONV_DATASETS[name.split("_")[0]] == entry.dataset
    first = next(m for m in reference(name).modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == shape[0]


@pytest.mark.parametrize(
    ("family", "size", "pooled"),
    [
        # Pools round up: the last VGG block sees 2x2 maps on 28x28 as on 32x32 (rounding
        # down would leave 28 -> 14, 7, 3, 1), and the classifier gets a global pool.
        ("vgg16", 32, [16, 8, 4, 2, 1]),
        ("vgg16", 28, [14, 7, 4, 2, 1]),
        ("vgg16_dropout", 32, [16, 8, 4, 2, 1]),
        ("vgg16_dropout", 28, [14, 7, 4, 2, 1]),
        ("nin", 32, [16, 8, 1]),
        ("nin", 28, [14, 7, 1]),
    ],
)
def test_pooled_map_sizes(family: str, size: int, pooled: list[int]) -> None:
    prefix = "cifar" if size == 32 else "fashion"
    assert map_sizes(reference(f"{prefix}_{family}"), size, POOLS) == pooled


def test_any_size_pools_are_the_cifar_pools_on_cifar_maps() -> None:
    # Why the CIFAR-10 networks keep their numbers bit for bit: on the even map sizes of a
    # 32x32 image, each pool that accepts any size computes what the fixed one did.
    gen = torch.Generator().manual_seed(0)
    for size in (32, 16, 8, 4, 2):
        x = torch.randn(3, 5, size, size, generator=gen)
        assert torch.equal(nn.MaxPool2d(2, 2, ceil_mode=True)(x), nn.MaxPool2d(2, 2)(x))
    eight, two = torch.randn(3, 5, 8, 8, generator=gen), torch.randn(3, 5, 2, 2, generator=gen)
    assert torch.equal(GlobalAvgPool2d()(eight), nn.AvgPool2d(8, 1, ceil_mode=True)(eight))  # NIN
    assert torch.equal(GlobalAvgPool2d()(two), nn.AvgPool2d(2)(two))  # OpenLTH's VGG head
    assert torch.equal(nn.AdaptiveMaxPool2d(1)(two), nn.MaxPool2d(2, 2)(two))  # Im et al.'s VGG


@pytest.mark.parametrize(("size", "stages"), [(32, [32, 16, 8]), (28, [28, 14, 7])])
def test_resnet_stages_halve_the_map(size: int, stages: list[int]) -> None:
    prefix = "cifar" if size == 32 else "mnist"
    sizes = map_sizes(reference(f"{prefix}_resnet20"), size, (BasicBlock,))
    assert sorted(set(sizes), reverse=True) == stages


@pytest.mark.parametrize(("prefix", "family"), PAIRS)
def test_batch_norm_pairs_differ_only_in_normalisation(prefix: str, family: str) -> None:
    with_bn, without = reference(f"{prefix}_{family}"), reference(f"{prefix}_{family}_nobn")
    kept = [m for m in with_bn.modules() if not is_norm(m)]
    other = list(without.modules())
    assert len(kept) < len(list(with_bn.modules())) and not any(map(is_norm, other))
    assert [type(m) for m in kept] == [type(m) for m in other]
    for a, b in zip(kept, other):
        if isinstance(a, (nn.Conv2d, nn.Linear)):
            assert a.weight.shape == b.weight.shape
            # One seed, one init with and without batch norm (Im et al. compare the two),
            # except in ResNet-20, whose extra conv biases take draws from the generator.
            assert torch.equal(a.weight, b.weight) == (family != "resnet20")
            if isinstance(a, nn.Conv2d):
                geometry = ("kernel_size", "stride", "padding")
                assert [getattr(a, g) for g in geometry] == [getattr(b, g) for g in geometry]
            if a.bias is None:  # ResNet: without batch norm's shift the conv gets a bias
                assert family == "resnet20" and b.bias is not None
            else:
                assert b.bias is not None and a.bias.shape == b.bias.shape
        elif not list(a.children()):
            assert repr(a) == repr(b)  # pools, dropout and activations keep their settings


@pytest.mark.parametrize(("prefix", "family"), [p for p in PAIRS if p[0] != "cifar"])
def test_only_the_first_convolution_depends_on_the_image_channels(prefix: str, family: str) -> None:
    cifar, other = state_of(reference(f"cifar_{family}")), state_of(reference(f"{prefix}_{family}"))
    assert cifar.keys() == other.keys()
    differing = [k for k in cifar if cifar[k].shape != other[k].shape]
    first = next(k for k in cifar if cifar[k].dim() == 4)
    assert differing == [first]
    assert (cifar[first].shape[1], other[first].shape[1]) == (3, 1)


@pytest.mark.parametrize("name", [n for n in FAMILY_MODELS if not n.startswith("cifar_")])
def test_eval_mode_is_a_plain_function_of_each_example(name: str) -> None:
    model = reference(name)
    x, _ = tiny_batch(name)
    with torch.no_grad():
        together, again = model(x), model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(BATCH)])
        swapped = functional_call(model, state_of(model), (x,))
    torch.testing.assert_close(again, together, rtol=0, atol=0)
    torch.testing.assert_close(swapped, together, rtol=0, atol=0)
    # Running statistics, not the batch's, in eval mode: an example's logits do not depend
    # on the rest of the batch.
    torch.testing.assert_close(alone, together)


@pytest.fixture
def toy_dataset(monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[int, ...], int]:
    """A made-up dataset registered the way a real one would be: 2×20×24 images, 7 classes."""
    shape, classes = (2, 20, 24), 7
    monkeypatch.setattr(models, "DATASETS", (*DATASETS, "toy"))
    monkeypatch.setitem(models._IMAGES, "toy", (shape, classes))
    monkeypatch.setitem(CONV_DATASETS, "toy", "toy")
    return shape, classes


def test_a_new_dataset_entry_gives_working_models_of_every_family(toy_dataset) -> None:
    shape, classes = toy_dataset
    new = {entry.name: entry for entry in models._entries() if entry.dataset == "toy"}
    assert set(new) == {f"toy_{f}{bn}" for f in CONV_FAMILIES for bn in ("", "_nobn")}
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(BATCH, *shape, generator=gen), torch.tensor([0, classes - 1])
    for name, entry in new.items():
        assert (entry.input_shape, entry.num_outputs, entry.task) == (shape, classes,
                                                                     "classification")
        torch.manual_seed(0)
        model = entry.builder()
        loss = loss_of(model.train()(x), y)
        loss.backward()
        assert torch.isfinite(loss), name
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        with torch.no_grad():
            out = model.eval()(x)
        assert out.shape == (BATCH, classes) and torch.isfinite(out).all(), name
    assert not any(name.startswith("toy_") for name in MODELS)  # nothing leaked


# --- architecture details --------------------------------------------------------------------


def test_lenet_keeps_its_layout_and_pytorch_default_init() -> None:
    net = lenet_300_100().requires_grad_(False)
    assert isinstance(net[0], nn.Flatten)
    names = [f"{i}.{w}" for i in (1, 3, 5) for w in ("weight", "bias")]
    assert [k for k, _ in net.named_parameters()] == names
    # PyTorch's default Linear init is U(±1/sqrt(fan_in)); OpenLTH's is N(0, 2/fan_in).
    assert float(net[1].weight.detach().abs().max()) <= 1 / math.sqrt(784)
    torch.manual_seed(0)
    he = lenet_300_100(init="kaiming_normal").requires_grad_(False)
    assert float(he[1].weight.detach().std()) == pytest.approx(math.sqrt(2 / 784), rel=0.02)


def test_goodfellow_mlps_use_pylearn2_initialisation() -> None:
    relu = frozen("mnist_relu")
    hidden = [m for m in relu if isinstance(m, nn.Linear)]
    assert float(hidden[0].weight.abs().max()) <= 0.00891030471479
    assert float(hidden[1].weight.abs().max()) <= 0.0575059125935
    assert all(float(m.bias.abs().max()) == 0 for m in hidden)
    assert float(hidden[2].weight.abs().max()) == 0  # sparse_init: 0
    maxout = frozen("mnist_maxout")
    assert all(float(p.abs().max()) <= 0.005 for p in maxout.parameters())


@pytest.mark.parametrize("name", ["mnist_relu", "mnist_sigmoid", "mnist_maxout", "cifar_maxout"])
def test_dropout_variants_drop_each_layer_input(name: str) -> None:
    dropped = name if name == "cifar_maxout" else f"{name}_dropout"
    rates = [m.p for m in frozen(dropped).modules() if isinstance(m, nn.Dropout)]
    layers = sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in frozen(dropped).modules())
    assert rates == [0.2] + [0.5] * (layers - 1)
    if name != "cifar_maxout":
        assert not any(isinstance(m, nn.Dropout) for m in frozen(name).modules())


def test_dropout_is_off_in_eval_mode() -> None:
    model = frozen("mnist_relu_dropout")
    model[-1].weight.data.normal_()  # the zero output layer would hide any difference
    x, _ = tiny_batch("mnist_relu_dropout")
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()
    assert not torch.equal(model(x), model(x))


def test_maxout_takes_the_max_over_consecutive_pieces() -> None:
    x = torch.randn(4, 12, 3, 3)
    expected = torch.stack([x[:, 3 * j : 3 * j + 3].max(dim=1).values for j in range(4)], dim=1)
    torch.testing.assert_close(Maxout(3)(x), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="pieces must be a positive int, got 0"):
        Maxout(0)


def test_conv_maxout_feature_maps_follow_cuda_convnet_pooling() -> None:
    def pooled(size: int, pool: int, stride: int) -> int:
        return math.ceil((size - pool) / stride) + 1  # cuda-convnet's output size

    size, expected = 32, []
    for kernel, pad, pool, stride in ((8, 4, 4, 2), (8, 3, 4, 2), (5, 3, 2, 2)):
        size = pooled(size + 2 * pad - kernel + 1, pool, stride)
        expected.append(size)
    sizes = []
    x = torch.zeros(1, 3, 32, 32)
    for module in conv_maxout(dropout=False):
        x = module(x)
        if isinstance(module, nn.MaxPool2d):
            sizes.append(x.shape[-1])
    assert sizes == expected == [16, 7, 5]


@pytest.mark.parametrize("name", ["cifar_resnet20", "cifar_vgg16", "imagenet_resnet50"])
def test_openlth_initialisation(name: str) -> None:
    model = frozen(name)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(float(m.weight.min()) >= 0 and float(m.weight.max()) < 1 for m in norms)
    assert all(float(m.bias.abs().max()) == 0 for m in norms)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 50_000]
    for m in convs:  # He-normal with fan-in: std sqrt(2 / fan_in)
        fan_in = m.weight[0].numel()
        assert float(m.weight.std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)


def test_nin_and_im_vgg_use_cifar_torch_initialisation() -> None:
    for m in frozen("cifar_nin_nobn").modules():
        if isinstance(m, nn.Conv2d):
            assert float(m.bias.abs().max()) == 0
            if m.weight.numel() > 10_000:
                assert float(m.weight.std()) == pytest.approx(0.05, rel=0.05)
    for m in frozen("cifar_vgg16_dropout").modules():
        if isinstance(m, nn.Conv2d) and m.weight.numel() > 50_000:
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            assert float(m.weight.std()) == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)


# --- the language model ------------------------------------------------------------------------


def test_lstm_parameters_are_uniform_in_zaremba_range() -> None:
    model = frozen("ptb_lstm_medium")
    assert all(float(p.detach().abs().max()) <= 0.05 for p in model.parameters())
    assert float(model.decoder.weight.abs().max()) > 0.049


def test_lstm_state_carries_across_bptt_segments() -> None:
    torch.manual_seed(0)
    model = LSTMLanguageModel(vocab_size=30, hidden_size=8).eval()
    tokens = torch.randint(0, 30, (3, 10))
    with torch.no_grad():
        whole = model(tokens)
        first, state = model(tokens[:, :6], return_state=True)
        second = model(tokens[:, 6:], state=state)
        fresh = model(tokens[:, 6:])
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    assert not torch.allclose(second, fresh)
    assert state[0].shape == state[1].shape == (2, 3, 8)


# --- Im et al.'s exotic initialisations -----------------------------------------------------------


def test_reinitialize_redraws_weights_and_biases_but_not_batch_norm() -> None:
    model = frozen("cifar_nin")
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    scales = [m.weight.detach().clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    rng_before = torch.get_rng_state()
    reinitialize(model, -10.0, 0.01, seed=5)
    assert torch.equal(torch.get_rng_state(), rng_before)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for p in (param for m in convs for param in (m.weight, m.bias)):
        assert float(p.mean()) == pytest.approx(-10.0, abs=0.01)
        if p.numel() >= 1000:
            assert float(p.std()) == pytest.approx(0.01, rel=0.1)
    after = [m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert scales and all(torch.equal(a, b) for a, b in zip(scales, after))
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())
    again = reinitialize(frozen("cifar_nin", 9), -10.0, 0.01, seed=5)
    convs_again = [m for m in again.modules() if isinstance(m, nn.Conv2d)]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(convs, convs_again))


def test_reinitialize_can_include_normalisation_layers() -> None:
    norm = uniform_batch_norm_(nn.BatchNorm2d(1000))
    model = reinitialize(norm, -1.0, 1.0, seed=0, normalization=True)
    assert float(model.weight.detach().mean()) == pytest.approx(-1.0, abs=0.15)
    with pytest.raises(ValueError, match=r"std >= 0, got mean=0.0, std=-1.0"):
        reinitialize(model, 0.0, -1.0, seed=0)
    with pytest.raises(ValueError, match=r"seed must be an int, got 1.5"):
        reinitialize(model, 0.0, 1.0, seed=1.5)  # type: ignore[arg-type]
