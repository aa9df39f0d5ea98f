"""Weight and activation matching: exact recovery of known permutations, and real barriers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.models import build
from landscapes import evaluate, paths
from landscapes.align import (
    apply_permutation,
    activation_matching,
    permutation_spec,
    random_permutation,
    weight_matching,
)



def _same(state: dict, reference: dict) -> bool:
    return all(torch.equal(state[k], v) for k, v in reference.items())


def _shuffled(net: nn.Module, seed: int = 3) -> tuple[dict, dict]:
    spec = permutation_spec(net)
    perm = random_permutation(spec, seed)
    return apply_permutation(spec, perm, net.state_dict()), perm


_MAKERS = {
    "mlp": lambda T: nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                   nn.Linear(32, 3)),
    "vgg_bn": lambda T: T.TinyVGG(),
    "resnet20": lambda T: build("mnist_resnet20"),
    "tied_lm": lambda T: T.TiedLM(),
}


@pytest.mark.parametrize("make", list(_MAKERS))
def test_weight_matching_recovers_a_known_permutation(make, align_tools):
    T = align_tools
    torch.manual_seed(0)
    a = T.busy_batchnorm(_MAKERS[make](T)).eval()
    b, _ = _shuffled(a)
    assert not _same(b, a.state_dict())
    aligned = weight_matching(a, b, model=a)
    assert _same(aligned, a.state_dict())
    assert aligned.check.passed and aligned.check.relative_error < 1e-10
    assert aligned.objective[1] > aligned.objective[0]


def test_the_returned_permutation_is_the_one_applied(align_tools):
    T = align_tools
    torch.manual_seed(0)
    a, b = T.TinyVGG(), T.TinyVGG()
    aligned, perm = weight_matching(a, b, return_permutation=True, seed=5)
    again = apply_permutation(aligned.spec, perm, b.state_dict())
    assert _same(aligned, again)


def test_weight_matching_never_lowers_the_objective_between_different_nets():
    torch.manual_seed(0)
    a, b = build("mnist_resnet20"), build("mnist_resnet20")
    aligned = weight_matching(a, b, max_iter=3)
    assert aligned.objective[1] >= aligned.objective[0] and 1 <= aligned.iterations <= 3


def test_activation_matching_recovers_a_permutation_on_mnist(mnist_train, align_tools):
    T = align_tools
    torch.manual_seed(0)
    x = mnist_train[0][:512]
    a = T.mlp().eval()
    b, _ = _shuffled(a, seed=7)
    aligned = activation_matching(a, b, [x[:256], x[256:]], model=a)
    assert _same(aligned, a.state_dict())
    assert aligned.check.examples == 256 and aligned.method == "activation"


def test_activation_matching_on_a_conv_net_with_batch_norm(align_tools):
    T = align_tools
    torch.manual_seed(0)
    a = T.busy_batchnorm(T.TinyVGG()).eval()
    b, _ = _shuffled(a)
    data = [(torch.randn(32, 1, 28, 28), torch.zeros(32)) for _ in range(2)]
    assert _same(activation_matching(a, b, data, model=a), a.state_dict())


def test_alignment_lowers_the_barrier_between_two_trained_mlps(trained_pair, align_tools):
    T = align_tools
    a, b, (x, _), (xt, yt) = trained_pair
    sa = a.state_dict()
    before = T.barrier(T.line_losses(a, sa, b.state_dict(), xt, yt))
    by_weights = T.barrier(T.line_losses(a, sa, dict(weight_matching(a, b)), xt, yt))
    by_activations = T.barrier(T.line_losses(
        a, sa, dict(activation_matching(a, b, [x[i:i + 500] for i in range(0, 2000, 500)])),
        xt, yt))
    assert before > 0.1  # two SGD solutions of one MLP are separated by a barrier...
    assert by_weights < before / 5 and by_activations < before / 5  # ...that is mostly permutation


def test_state_dicts_need_a_model():
    a = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="pass model="):
        weight_matching(a.state_dict(), a.state_dict())
    aligned = weight_matching(a.state_dict(), a.state_dict(), model=a)
    assert _same(aligned, a.state_dict())


def test_different_architectures_are_refused():
    a = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    b = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 1))
    with pytest.raises(ValueError, match=r"'0.weight' is \(4, 2\) in a and \(5, 2\) in b"):
        weight_matching(a, b)
    with pytest.raises(ValueError, match="max_iter must be a positive int, got 0"):
        weight_matching(a, a, max_iter=0)
    with pytest.raises(TypeError, match="nn.Module or a state dict"):
        weight_matching(a, [1, 2])
    with pytest.raises(ValueError, match="data has no batches"):
        activation_matching(a, a, [])


def test_an_aligned_state_is_an_ordinary_anchor_of_a_path():
    torch.manual_seed(0)
    a, b = (nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)) for _ in range(2))
    aligned = weight_matching(a, b)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    on_line = evaluate(a, paths.linear(a, aligned, [0.0, 0.5, 1.0]), (x, y), device="cpu",
                       progress=False)
    plain = evaluate(a, paths.linear(a, b, [0.0, 0.5, 1.0]), (x, y), device="cpu", progress=False)
    # The far end is b's function either way; the midpoints differ.
    assert float(on_line.loss[-1]) == pytest.approx(float(plain.loss[-1]), rel=1e-5)
    assert float(on_line.loss[1]) != pytest.approx(float(plain.loss[1]), rel=1e-3)


def test_a_spec_of_another_architecture_is_refused():
    small = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    wide = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
    other = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"group '0' moves 4 entries of axis 0 of '0.weight'"):
        weight_matching(wide, wide, spec=permutation_spec(small))
    wrong = r"group '2' moves 4 entries of axis 0 of '2.weight', whose shape is \(1, 4\)"
    with pytest.raises(ValueError, match=wrong):
        activation_matching(small, small, torch.randn(8, 2), spec=permutation_spec(other))
    renamed = {f"net.{k}": v for k, v in small.state_dict().items()}
    with pytest.raises(ValueError, match="spec permutes '0.weight', which the state dicts lack"):
        weight_matching(renamed, renamed, model=small, spec=permutation_spec(small))
