"""The user-model matrix: :func:`landscapes.evaluate` on the models researchers bring,
each against a plain loop (``copy.deepcopy(model)``, ``load_state_dict`` at each point,
eval mode, the same batches) to rtol 1e-5 in float32.

The suite's numbers are the docs' table: with ``LANDSCAPES_RELIABILITY_OUT`` set to a
folder, the matrix test writes ``user_models.csv`` there. The committed copy,
``docs/reliability/user_models.csv``, is checked against the cases run here, so the two
cannot drift apart. Regenerate it with::

    LANDSCAPES_RELIABILITY_OUT=docs/reliability python -m pytest tests/landscapes/engine/test_user_models.py
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from landscapes import evaluate, paths
from landscapes.results import atomic_write

RTOL = 1e-5
COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "reliability" / "user_models.csv"
COLUMNS = ["case", "model", "exercises", "path", "points", "engine", "largest_rel_diff", "rtol", "passed"]
BATCH = 16


@dataclass
class Setup:
    """One case, ready to run: what evaluate gets, and how the plain loop reads it."""

    model: nn.Module
    path: paths.Path
    x: Any
    y: Any
    options: dict = field(default_factory=dict)
    #: The model's output as the plain loop reads it.
    read: Callable[[Any], torch.Tensor] = lambda out: out
    #: Tensors for the plain loop when ``x``, ``y`` are arrays.
    tensors: Callable[[Any, Any], tuple[torch.Tensor, torch.Tensor]] = lambda x, y: (x, y)
    #: Batch norm recompute data, when ``bn="recompute"``.
    bn_x: torch.Tensor | None = None
    #: Whether the loss, error and metrics are the user's own, written for what the
    #: model returns (they receive it as it is, not ``read`` from it).
    own: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    exercises: str
    build: Callable[[], Setup]


# ------------------------------------------------------------------------ helpers


def moved(model: nn.Module, seed: int, scale: float = 0.3) -> nn.Module:
    """A copy with every parameter moved by seeded noise (ties kept: parameters()
    lists a tied tensor once)."""
    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return other


def trained_bn(model: nn.Module, x: torch.Tensor, steps: int = 3) -> nn.Module:
    """A few forward passes in train mode so the running statistics move off (0, 1)."""
    other = copy.deepcopy(model).train()
    with torch.no_grad():
        for s in range(steps):
            other(x[s * BATCH : (s + 1) * BATCH])
    return other.eval()


def images(n: int, seed: int, channels: int = 2, side: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, side, side, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def tokens(n: int, seed: int, vocab: int = 13, length: int = 6) -> torch.Tensor:
    return torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(seed))


def line(a: nn.Module, b: nn.Module, n: int = 5) -> paths.Path:
    return paths.linear(a, b, np.linspace(-0.5, 1.5, n))


# ------------------------------------------------------------------------- models


class BNConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 6, 3, stride=2), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def dropout_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 16), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(16, 3))


class TinyTransformer(nn.Module):
    """Token and position embeddings, one encoder layer, mean pooling, a class head."""

    def __init__(self, vocab: int = 13, width: int = 8, length: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(0.1 * torch.randn(length, width))
        layer = nn.TransformerEncoderLayer(width, nhead=2, dim_feedforward=16, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(width, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(ids) + self.position).mean(1))


class LSTMLanguageModel(nn.Module):
    """Next-token scores at every position, ``(N, vocab, L)`` as cross entropy takes them."""

    def __init__(self, vocab: int = 13, width: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, batch_first=True)
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(ids))
        return self.head(hidden).transpose(1, 2)


class TiedLM(nn.Module):
    """Bag-of-tokens next-token model with the output layer tied to the embedding."""

    def __init__(self, vocab: int = 13, width: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.mix(self.embed(ids).mean(1))))


class DictOutput(nn.Module):
    """Hugging Face style: a dict with the logits and the hidden states."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 12), nn.GELU())
        self.classifier = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        hidden = self.body(x)
        return {"logits": self.classifier(hidden), "hidden_states": (x, hidden), "loss": None}


class TupleOutput(nn.Module):
    """``(logits, aux)`` from a batch-norm conv net."""

    def __init__(self) -> None:
        super().__init__()
        self.net = BNConvNet()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return logits, logits.pow(2).mean()


def regression_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 12), nn.Tanh(), nn.Linear(12, 2))


def classifier_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 5))


# -------------------------------------------------------------------------- cases


def _bn_cnn(bn: str) -> Setup:
    torch.manual_seed(10)
    x, y = images(48, 11)
    bn_x, _ = images(64, 12)
    a = trained_bn(BNConvNet(), bn_x)
    b = trained_bn(moved(a, 13), bn_x[16:])
    if bn == "interpolate":
        path = paths.plane(b, alphas=[-0.5, 0.0, 0.5], betas=[-0.5, 0.0, 0.5], seed=14)
    else:
        path = line(a, b)
    return Setup(a, path, x, y, {"bn": bn, "bn_batches": 2, "bn_data": (bn_x, torch.zeros(64))}, bn_x=bn_x)


def _dropout() -> Setup:
    torch.manual_seed(20)
    a = dropout_mlp().train()  # left in train mode: evaluate must still run it in eval mode
    gen = torch.Generator().manual_seed(21)
    x, y = torch.randn(48, 8, generator=gen), torch.randint(0, 3, (48,), generator=gen)
    return Setup(a, paths.bilinear(a, moved(a, 22), moved(a, 23), moved(a, 24), [0.0, 0.5, 1.0], [0.0, 1.0]), x, y)


def _transformer() -> Setup:
    torch.manual_seed(30)
    a = TinyTransformer()
    x = tokens(40, 31)
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(32))
    return Setup(a, line(a, moved(a, 33)), x, y)


def _lstm() -> Setup:
    torch.manual_seed(40)
    a = LSTMLanguageModel()
    ids = tokens(40, 41, length=7)
    return Setup(a, line(a, moved(a, 42)), ids[:, :-1], ids[:, 1:])


def _tied() -> Setup:
    torch.manual_seed(50)
    a = TiedLM()
    x = tokens(40, 51)
    y = torch.randint(0, 13, (40,), generator=torch.Generator().manual_seed(52))
    return Setup(a, paths.plane(moved(a, 53), alphas=[-1.0, 0.0, 1.0], betas=[-1.0, 0.0, 1.0], seed=54), x, y)


def _dict() -> Setup:
    torch.manual_seed(60)
    a = DictOutput()
    b = moved(a, 61)
    gen = torch.Generator().manual_seed(62)
    x, y = torch.randn(48, 8, generator=gen), torch.randint(0, 3, (48,), generator=gen)
    return Setup(a, line(a, b), x, y, {"output": "logits", "reference": b.state_dict()},
                 read=lambda out: out["logits"])


def _dict_own_loss() -> Setup:
    torch.manual_seed(65)
    a = DictOutput()
    gen = torch.Generator().manual_seed(66)
    x, y = torch.randn(48, 8, generator=gen), torch.randint(0, 3, (48,), generator=gen)

    def loss(out: dict[str, Any], t: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out["logits"], t, label_smoothing=0.05)

    def error(out: dict[str, Any], t: torch.Tensor) -> torch.Tensor:
        return (out["logits"].argmax(1) != t).double().mean()

    def hidden_norm(out: dict[str, Any], t: torch.Tensor) -> torch.Tensor:
        return out["hidden_states"][-1].pow(2).sum(1).mean()

    return Setup(a, line(a, moved(a, 67)), x, y,
                 {"loss_fn": loss, "error": error, "metrics": {"hidden_norm": hidden_norm}}, own=True)


def _tuple() -> Setup:
    torch.manual_seed(70)
    x, y = images(48, 71)
    bn_x, _ = images(64, 72)
    a = trained_bn(TupleOutput(), bn_x)
    path = paths.bilinear(a, trained_bn(moved(a, 73), bn_x[16:]), moved(a, 74), moved(a, 75),
                          [0.0, 0.5, 1.0], [0.0, 1.0])
    return Setup(a, path, x, y, {"output": 0, "bn": "recompute", "bn_batches": 2,
                                 "bn_data": (bn_x, torch.zeros(64))}, read=lambda out: out[0], bn_x=bn_x)


def _regression() -> Setup:
    torch.manual_seed(80)
    a = regression_mlp()
    gen = torch.Generator().manual_seed(81)
    x = torch.randn(48, 5, generator=gen)
    y = torch.stack([x[:, 0] * x[:, 1], x[:, 2].sin()], 1)
    mae = lambda out, t: (out - t).abs().mean()
    return Setup(a, line(a, moved(a, 82), 7), x, y, {"loss_fn": nn.MSELoss(), "error": None, "metrics": {"mae": mae}})


def _custom_losses() -> Setup:
    torch.manual_seed(90)
    a = classifier_mlp()
    gen = torch.Generator().manual_seed(91)
    x, y = torch.randn(48, 8, generator=gen), torch.randint(0, 5, (48,), generator=gen)

    def top2_error(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (out.topk(2, dim=1).indices != t[:, None]).all(1).double().mean()

    def confidence(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return out.softmax(1).max(1).values.mean()

    def nll(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.nll_loss(out.log_softmax(1), t)

    return Setup(a, line(a, moved(a, 92)), x, y, {
        "loss_fn": nn.CrossEntropyLoss(label_smoothing=0.1), "error": top2_error,
        "metrics": {"confidence": confidence, "nll": nll},
    })


def _summed_loss() -> Setup:
    torch.manual_seed(95)
    a = classifier_mlp()
    gen = torch.Generator().manual_seed(96)
    x, y = torch.randn(40, 8, generator=gen), torch.randint(0, 5, (40,), generator=gen)
    return Setup(a, line(a, moved(a, 97)), x, y, {"loss_fn": nn.CrossEntropyLoss(reduction="sum")})


def _numpy_float64() -> Setup:
    torch.manual_seed(100)
    a = classifier_mlp()
    b = moved(a, 101)
    rng = np.random.default_rng(102)
    x, y = rng.standard_normal((48, 8)), rng.integers(0, 5, 48)
    wide = [{k: v.double().numpy() for k, v in m.state_dict().items()} for m in (a, b)]
    return Setup(a, paths.linear(*wide, np.linspace(-0.5, 1.5, 5)), x, y,
                 tensors=lambda x, y: (torch.from_numpy(x).float(), torch.from_numpy(y)))


def _hf_quiet() -> Any:
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    return transformers


def _hf_gpt2() -> Setup:
    """A Hugging Face causal LM built from a config (no download): ``ModelOutput``,
    the LM head tied to the token embedding, a loss of the user's own over its logits."""
    transformers = _hf_quiet()
    torch.manual_seed(110)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=29,
                                     n_positions=8, attn_implementation="eager")
    a = transformers.GPT2LMHeadModel(config).eval()
    x = tokens(32, 111, vocab=29, length=6)
    y = tokens(32, 112, vocab=29, length=6)

    def loss(out: Any, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out.logits.flatten(0, 1), t.flatten())

    def error(out: Any, t: torch.Tensor) -> torch.Tensor:
        return (out.logits.argmax(-1) != t).double().mean()

    path = paths.plane(moved(a, 113, 0.05), alphas=[-1.0, 0.0, 1.0], betas=[-1.0, 1.0], seed=114)
    return Setup(a, path, x, y, {"loss_fn": loss, "error": error}, own=True)


def _hf_bert() -> Setup:
    """A Hugging Face sequence classifier built from a config: ``output="logits"`` of
    its ``ModelOutput`` with the built-in loss and error."""
    transformers = _hf_quiet()
    torch.manual_seed(120)
    config = transformers.BertConfig(vocab_size=31, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=8, num_labels=3,
                                     attn_implementation="eager")
    a = transformers.BertForSequenceClassification(config).eval()
    x = tokens(32, 121, vocab=31, length=6)
    y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(122))
    return Setup(a, line(a, moved(a, 123, 0.05)), x, y, {"output": "logits"},
                 read=lambda out: out["logits"])


CASES = [
    Case("bn_cnn_interpolate", "conv net with batch norm", "bn='interpolate' (interpolated running statistics); random-direction plane", lambda: _bn_cnn("interpolate")),
    Case("bn_cnn_recompute", "conv net with batch norm", "bn='recompute': statistics re-estimated at every point over 2 batches", lambda: _bn_cnn("recompute")),
    Case("dropout", "MLP with dropout, handed over in train mode", "dropout off in evaluation; bilinear slice", _dropout),
    Case("transformer", "token and position embeddings + TransformerEncoder", "integer token inputs; attention, layer norm, dropout", _transformer),
    Case("lstm_lm", "LSTM language model", "recurrent layers; per-token (N, V, L) scores with cross entropy and error", _lstm),
    Case("tied_weights", "language model with output layer tied to the embedding", "tied parameters interpolated once; random-direction plane", _tied),
    Case("dict_output", "Hugging Face style dict output", "output='logits'; divergence from a reference network", _dict),
    Case("dict_own_loss", "Hugging Face style dict output", "a loss, error and metric of the user's own, reading the dict the model returns (no output=)", _dict_own_loss),
    Case("tuple_output", "(logits, aux) from a batch-norm conv net", "output=0 with bn='recompute'; bilinear slice", _tuple),
    Case("regression", "MLP regression", "MSELoss, error=None, a custom metric (MAE)", _regression),
    Case("custom_losses", "MLP classifier", "label-smoothing loss, custom error (top-2), custom metrics", _custom_losses),
    Case("summed_loss", "MLP classifier", "loss_fn with reduction='sum'", _summed_loss),
    Case("hf_gpt2", "Hugging Face GPT2LMHeadModel (from a config)", "ModelOutput; LM head tied to the embedding; a loss and error of the user's own over out.logits; random-direction plane", _hf_gpt2),
    Case("hf_bert", "Hugging Face BertForSequenceClassification (from a config)", "ModelOutput with output='logits'; built-in loss and error", _hf_bert),
    Case("numpy_float64", "float32 MLP fed numpy float64 data and anchors", "arrays as data; float64 cast to the model's float32", _numpy_float64),
]


# ---------------------------------------------------------------- the plain loop


def plain_loop(setup: Setup) -> dict[str, np.ndarray]:
    """What a researcher writes by hand, measure by measure."""
    net = copy.deepcopy(setup.model)
    x, y = setup.tensors(setup.x, setup.y)
    opts = setup.options
    loss_fn = opts.get("loss_fn", nn.functional.cross_entropy)
    error = opts.get("error", "auto")
    metrics = opts.get("metrics", {})
    reference = opts.get("reference")
    names = ["loss", "error", *metrics, *(["divergence"] if reference is not None else [])]
    ref_net = None
    if reference is not None:
        ref_net = copy.deepcopy(net).eval()
        ref_net.load_state_dict(reference)
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    out: dict[str, list[float]] = {n: [] for n in names}
    for i in range(len(setup.path)):
        net.load_state_dict(setup.path.point(i))
        with torch.no_grad():
            if opts.get("bn") == "recompute":
                net.eval()  # dropout off while estimating
                for m in bns:
                    m.reset_running_stats()
                    m.momentum = None  # a cumulative average over the batches
                    m.train()
                for s in range(0, opts["bn_batches"] * BATCH, BATCH):
                    net(setup.bn_x[s : s + BATCH])
            net.eval()
            sums = dict.fromkeys(names, 0.0)
            for s in range(0, len(y), BATCH):
                xb, yb = x[s : s + BATCH], y[s : s + BATCH]
                returned = net(xb)
                o = setup.read(returned)
                given = returned if setup.own else o
                n = len(yb)
                per = float(loss_fn(given, yb))
                sums["loss"] += per if getattr(loss_fn, "reduction", "mean") == "sum" else per * n
                if error is None:
                    sums["error"] = math.nan
                elif error == "auto":
                    sums["error"] += float((o.argmax(1) != yb).double().mean()) * n
                else:
                    sums["error"] += float(error(given, yb)) * n
                for name, fn in metrics.items():
                    sums[name] += float(fn(given, yb)) * n
                if ref_net is not None:
                    sums["divergence"] += float(((o - setup.read(ref_net(xb))) ** 2).sum())
            for name in names:
                value = sums[name] / len(y)
                out[name].append(math.sqrt(value) if name == "divergence" else value)
    return {n: np.array(v).reshape(setup.path.shape) for n, v in out.items()}


# ---------------------------------------------------------------------- the matrix


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(record.getMessage())


def _engine_path(messages: list[str]) -> str:
    """How the engine ran the model, from its debug messages."""
    text = "\n".join(messages)
    looped = "point by point" in text or "one after another" in text
    how = "per point" if looped else "vmapped"
    if "first-layer reuse on" in text:
        how += " + first-layer reuse"
    return how


def largest_rel_diff(got: np.ndarray, want: np.ndarray) -> float:
    """max |got − want| / |want| over the values (NaN where both are NaN counts as equal)."""
    both_nan = np.isnan(got) & np.isnan(want)
    if (np.isnan(got) != np.isnan(want)).any():
        return math.inf
    diff = np.abs(got - want)[~both_nan]
    scale = np.maximum(np.abs(want), np.finfo(np.float64).tiny)[~both_nan]
    return float((diff / scale).max()) if diff.size else 0.0


def run_case(case: Case) -> dict[str, Any]:
    setup = case.build()
    handler = _Messages()
    logger = logging.getLogger("landscapes.engine")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        ds = evaluate(setup.model, setup.path, (setup.x, setup.y), device="cpu", batch_size=BATCH,
                      progress=False, **setup.options)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    want = plain_loop(setup)
    diff = max(largest_rel_diff(ds[name].values, values) for name, values in want.items())
    return {
        "case": case.name, "model": case.model, "exercises": case.exercises,
        "path": f"{setup.path.kind} {'×'.join(map(str, setup.path.shape))}", "points": len(setup.path),
        "engine": _engine_path(handler.text), "largest_rel_diff": f"{diff:.1e}", "rtol": f"{RTOL:.0e}",
        "passed": "yes" if diff <= RTOL else "no",
    }


def write_table(rows: list[dict[str, Any]], folder: Path) -> Path:
    target = folder / "user_models.csv"

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(target, write)
    return target


def test_user_model_matrix_equals_plain_loops():
    rows = [run_case(case) for case in CASES]
    out = os.environ.get("LANDSCAPES_RELIABILITY_OUT")
    if out:
        write_table(rows, Path(out))
    failed = [f"{r['case']}: {r['largest_rel_diff']}" for r in rows if r["passed"] != "yes"]
    assert not failed, f"differ from the plain loop by more than rtol {RTOL}: {failed}"


def test_committed_table_lists_exactly_the_cases_run_and_all_passed():
    with open(COMMITTED, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    assert [r["case"] for r in rows] == [c.name for c in CASES], "regenerate: see this module's docstring"
    for row, case in zip(rows, CASES):
        assert (row["model"], row["exercises"]) == (case.model, case.exercises)
        assert float(row["rtol"]) == RTOL
        assert row["passed"] == "yes" and float(row["largest_rel_diff"]) <= RTOL
        assert int(row["points"]) >= 2


def test_the_matrix_covers_a_line_and_a_plane():
    kinds = {case.name: case.build().path.dims for case in CASES}
    assert ("alpha",) in kinds.values() and ("alpha", "beta") in kinds.values()


def test_largest_rel_diff_sees_nan_mismatches():
    assert largest_rel_diff(np.array([1.0, np.nan]), np.array([1.0, np.nan])) == 0.0
    assert largest_rel_diff(np.array([1.0, 2.0]), np.array([1.0, np.nan])) == math.inf
    assert largest_rel_diff(np.array([1.1]), np.array([1.0])) == pytest.approx(0.1)
