"""Weight matching against the ``rebasin`` package, on the same pairs in one run.

Ainsworth, Hayase & Srinivasa (2023) align two solutions by permuting the hidden units
of one to match the other's weights (coordinate descent over the permutation groups,
one linear assignment each). Two implementations are run on each pair here:

- :func:`landscapes.align.weight_matching` (permutation groups derived from the
  module graph, with a function check);
- ``rebasin.PermutationCoordinateDescent`` (PyTorch; it traces the graph with
  torchview), run on a copy of ``b`` that it permutes in place.

The pairs: two LeNet-300-100 (``mnist_mlp``) trained on MNIST from different inits
(the run store's, one epoch by default), and two ResNet-20s with batch norm
(``fashion_resnet20``) trained briefly on Fashion-MNIST-shaped data made in memory
(:func:`benchmarks.adaptive._resnet_pair`). For each: the loss barrier (chord excess,
:func:`landscapes.metrics.linear_barrier`) on the final→final line before alignment
and after each method, on the same evaluation data and α grid; the median seconds of
each alignment (timed alternately, :func:`~benchmarks.measure.paired_median_times`);
and whether each aligned network computes b's function (largest output difference,
relative). The barrier is measured with ``bn="recompute"`` for the ResNet, whose
interpolated batch-norm statistics would otherwise add a barrier of their own.

``python -m benchmarks.rebasin`` prints the table (markdown) and the load average;
``rebasin`` (``pip install --no-deps rebasin torchview graphviz``) is needed, and its
absence is said in one line.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.measure import paired_median_times
from landscapes import evaluate, metrics, paths

__all__ = ["Pair", "mlp_pair", "resnet_pair", "compare", "markdown", "main"]

ALPHA = np.linspace(0.0, 1.0, 21)


@dataclass
class Pair:
    """Two solutions of one architecture, and the data their line is evaluated on."""

    name: str
    model: nn.Module
    a: dict[str, torch.Tensor]
    b: dict[str, torch.Tensor]
    data: tuple[torch.Tensor, torch.Tensor]
    bn: str = "interpolate"

    def network(self, state: dict[str, torch.Tensor]) -> nn.Module:
        net = copy.deepcopy(self.model)
        net.load_state_dict(state)
        return net.eval()


def mlp_pair(epochs: float = 1.0, data_dir: str | None = None, examples: int = 10_000) -> Pair:
    """Two LeNet-300-100s on MNIST (the run store's replicates 0 and 1)."""
    from benchmarks.adaptive import train_lenet
    from experiments.data import load

    runs = train_lenet(epochs, 2, data_dir=data_dir)
    test = load("mnist", "test", data_dir=data_dir)
    x, y = test[0][:examples], test[1][:examples]
    return Pair(f"LeNet-300-100, MNIST, {epochs:g} epoch", runs[0].model(), runs[0].final,
                runs[1].final, (x, y))


def resnet_pair(examples: int = 256, steps: int = 150, seed: int = 0) -> Pair:
    """Two ResNet-20s (batch norm), briefly trained on in-memory data."""
    from benchmarks.adaptive import _resnet_pair

    model, (a, b), data = _resnet_pair(examples, steps, seed)
    return Pair(f"ResNet-20 (BN), {examples} examples, {steps} steps", model, a, b, data,
                bn="recompute")


def _barrier(pair: Pair, b: dict[str, torch.Tensor]) -> float:
    kwargs: dict[str, Any] = {"bn": pair.bn}
    if pair.bn == "recompute":
        kwargs["bn_data"] = pair.data
    ds = evaluate(pair.model, paths.linear(pair.a, b, ALPHA), pair.data, device="cpu",
                  progress=False, **kwargs)
    return float(metrics.linear_barrier(ds.loss).height)


def _outputs_differ(pair: Pair, state: dict[str, torch.Tensor]) -> float:
    """Largest |f_aligned(x) − f_b(x)| over a batch, relative to max |f_b(x)|."""
    x = pair.data[0][:256]
    with torch.no_grad():
        want = pair.network(pair.b)(x)
        got = pair.network(state)(x)
    return float((got - want).abs().max() / want.abs().max())


def _ours(pair: Pair) -> Callable[[], dict[str, torch.Tensor]]:
    from landscapes.align import weight_matching

    def run() -> dict[str, torch.Tensor]:
        return dict(weight_matching(pair.a, pair.b, model=pair.model))
    return run


def _theirs(pair: Pair) -> Callable[[], dict[str, torch.Tensor]]:
    def run() -> dict[str, torch.Tensor]:
        from rebasin import PermutationCoordinateDescent

        net_a, net_b = pair.network(pair.a), pair.network(pair.b)
        pcd = PermutationCoordinateDescent(net_a, net_b, pair.data[0][:8])
        pcd.rebasin()
        return {k: v.detach().clone() for k, v in net_b.state_dict().items()}
    return run


def compare(pair: Pair, repeats: int = 3) -> dict[str, Any]:
    """The row of one pair: barriers before and after each method, times, checks."""
    ours, theirs = _ours(pair), _theirs(pair)
    try:
        theirs_state: dict[str, torch.Tensor] | None = theirs()
        error = ""
    except Exception as why:  # a peer's failure is a finding of the row, not a crash
        theirs_state, error = None, f"{type(why).__name__}: {str(why).splitlines()[0][:120]}"
    start = time.perf_counter()
    ours_state = ours()
    t_ours, t_theirs = time.perf_counter() - start, float("nan")
    if theirs_state is not None:
        t_ours, t_theirs = paired_median_times(ours, theirs, repeats)
    row = {"pair": pair.name, "barrier_before": _barrier(pair, pair.b),
           "barrier_ours": _barrier(pair, ours_state), "ours_s": t_ours,
           "ours_function_error": _outputs_differ(pair, ours_state),
           "barrier_rebasin": float("nan"), "rebasin_s": t_theirs,
           "rebasin_function_error": float("nan"), "rebasin_error": error}
    if theirs_state is not None:
        row.update(barrier_rebasin=_barrier(pair, theirs_state),
                   rebasin_function_error=_outputs_differ(pair, theirs_state))
    return row


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    head = ("| pair | barrier before | after (landscapes) | after (rebasin) | landscapes s | "
            "rebasin s | function error (landscapes / rebasin) |")
    lines = [head, "|" + "---|" * 7]
    for r in rows:
        theirs = (f"{r['barrier_rebasin']:.4f}" if np.isfinite(r["barrier_rebasin"])
                  else f"failed ({r['rebasin_error']})")
        lines.append(f"| {r['pair']} | {r['barrier_before']:.4f} | {r['barrier_ours']:.4f} | "
                     f"{theirs} | {r['ours_s']:.2f} | {r['rebasin_s']:.2f} | "
                     f"{r['ours_function_error']:.1e} / {r['rebasin_function_error']:.1e} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rebasin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=1.0, help="training epochs of each MLP")
    parser.add_argument("--steps", type=int, default=150, help="SGD steps of each ResNet-20")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each alignment")
    parser.add_argument("--data-dir", help="MNIST root (default $LANDSCAPES_DATA)")
    parser.add_argument("--skip-resnet", action="store_true", help="only the MLP pair")
    args = parser.parse_args(argv)
    try:
        import rebasin  # noqa: F401
    except ImportError:
        parser.exit(2, "the peer is not installed: pip install --no-deps rebasin torchview "
                       "graphviz (it would otherwise pull another torch)\n")
    before = os.getloadavg()
    pairs = [mlp_pair(args.epochs, args.data_dir)]
    if not args.skip_resnet:
        pairs.append(resnet_pair(steps=args.steps))
    rows = [compare(p, args.repeats) for p in pairs]
    print(markdown(rows))
    print(json.dumps(rows, indent=1))
    print(f"load average {before} -> {os.getloadavg()}; torch {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
