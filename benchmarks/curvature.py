"""``python -m benchmarks.curvature``: :mod:`landscapes.curvature` against PyHessian.

PyHessian (Yao et al. 2020; the ``pyhessian`` package, 0.1) takes Hessian-vector
products by double backward over a DataLoader, the top eigenvalue by power iteration
(stopping when the estimate changes by less than ``tol`` relative) and the trace by
Hutchinson (stopping when the running mean changes by less than ``tol`` relative).
Both run here in one process on the same model, data and objective (eval mode: batch
norm at its running statistics, ``bn="interpolate"``), for each thread setting:

- LeNet-300-100 at its seeded initialisation on ``--mlp-examples`` MNIST test images;
- ResNet-20 with batch norm (MNIST-shaped, one channel) at its initialisation on
  ``--resnet-examples`` MNIST test images.

Rows: the cost of one Hessian-vector product against one gradient on the same data
(medians of ``--repeats`` paired runs, ours and PyHessian's product); the top
eigenvalue (PyHessian at ``tol=1e-3``, ours at ``tol=1e-1``, ``1e-2`` and ``1e-3``), each
with its relative error against a reference (ours at ``tol=1e-6``, computed once per model)
and its time, and the time of our fastest run at least as accurate as PyHessian's; the
trace (PyHessian's Hutchinson, then ours, Hutchinson and Hutch++ run to PyHessian's
standard error), each with its standard error and time. Eigenvalue and trace runs are
one run each per setting (they take tens of Hessian-vector products each). The load
average is printed before and after each model.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from landscapes import curvature
from landscapes.curvature.context import point_context
from landscapes.curvature.hvp import Operator
from landscapes.curvature.objective import Objective

from benchmarks.measure import paired_median_times

__all__ = ["main", "compare"]


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


class _Counting:
    """PyHessian's full-data product, counted."""

    def __init__(self, h) -> None:
        self.h, self.calls = h, 0
        self.inner = h.dataloader_hv_product

    def __call__(self, v):
        self.calls += 1
        return self.inner(v)


def _pyhessian(model: nn.Module, batches: list) -> object:
    from pyhessian import hessian

    h = hessian(model, nn.CrossEntropyLoss(), dataloader=batches, cuda=False)
    counter = _Counting(h)
    h.dataloader_hv_product = counter
    return h, counter


def compare(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, repeats: int,
            threads: list[int], ph_iters: int) -> list[dict]:
    """Every row for one model, at each thread count."""
    torch.manual_seed(0)
    model.eval()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    opts = dict(device="cpu", batch_size=batch_size)
    print(f"\n## {name}: {len(x)} examples, batch {batch_size}, "
          f"{sum(p.numel() for p in model.parameters())} parameters; load {_load()}", flush=True)
    torch.set_num_threads(max(threads))
    ref = curvature.eigenvalues(model, (x, y), tol=1e-6, max_iter=200, **opts)
    lam = float(ref.top_eigenvalue[0])
    print(f"reference λ_max = {lam:.6g} (Lanczos tol 1e-6, {int(ref.lanczos_iterations)} steps, "
          f"residual {float(ref.top_residual[0]):.2g})", flush=True)
    rows = []
    for t in threads:
        torch.set_num_threads(t)
        ctx = point_context(model, (x, y), **opts)
        op = Operator(Objective(ctx))
        v = torch.randn(op.size, generator=torch.Generator().manual_seed(1))
        h, counter = _pyhessian(model, batches)
        vp = [p.detach().clone() for p in h.params]
        off = 0
        for p in vp:
            p.copy_(v[off:off + p.numel()].view_as(p))
            off += p.numel()
        t_grad, t_hvp = paired_median_times(op.gradient, lambda: op.matvec(v), repeats)
        _, t_ph = paired_median_times(op.gradient, lambda: h.dataloader_hv_product(vp), max(1, repeats // 2))
        counter.calls = 0
        rows.append({"model": name, "threads": t, "row": "one HVP / one gradient",
                     "ours": f"{t_hvp / t_grad:.2f}x ({t_hvp:.2f} s / {t_grad:.2f} s)",
                     "pyhessian": f"{t_ph / t_grad:.2f}x ({t_ph:.2f} s)", "speedup": f"{t_ph / t_hvp:.2f}"})
        (ph_vals, _), t_ph_eig = _timed(lambda: h.eigenvalues(maxIter=ph_iters, tol=1e-3, top_n=1))
        ph_calls = counter.calls
        counter.calls = 0
        ours = {}
        for tol in (1e-1, 1e-2, 1e-3):
            ds, sec = _timed(lambda tol=tol: curvature.eigenvalues(model, (x, y), tol=tol, **opts))
            ours[tol] = (float(ds.top_eigenvalue[0]), sec, int(ds.lanczos_iterations) + 1)
        err_ph = abs(ph_vals[0] - lam) / abs(lam)
        for tol, (val, sec, n) in ours.items():
            err = abs(val - lam) / abs(lam)
            rows.append({"model": name, "threads": t, "row": f"λ_max (ours tol {tol:g})",
                         "ours": f"{val:.6g} rel.err {err:.1e}, {n} HVP, {sec:.1f} s",
                         "pyhessian": f"{ph_vals[0]:.6g} rel.err {err_ph:.1e}, {ph_calls} HVP, {t_ph_eig:.1f} s",
                         "speedup": f"{t_ph_eig / sec:.2f}"})
        # at equal accuracy: our fastest run at least as accurate as PyHessian's
        good = [sec for val, sec, _ in ours.values() if abs(val - lam) / abs(lam) <= err_ph]
        rows.append({"model": name, "threads": t, "row": "λ_max at equal accuracy",
                     "ours": f"{min(good):.1f} s" if good else "none as accurate",
                     "pyhessian": f"{t_ph_eig:.1f} s", "speedup": f"{t_ph_eig / min(good):.2f}" if good else "-"})
        samples, t_ph_tr = _timed(lambda: h.trace(maxIter=ph_iters, tol=1e-3))
        tr_ph = float(np.mean(samples))
        se_ph = float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
        rel = max(se_ph / abs(tr_ph), 1e-4)
        for method in ("hutchinson", "hutch++"):
            ds, t_tr = _timed(lambda method=method: curvature.trace(
                model, (x, y), method=method, tol=rel, max_probes=3 * len(samples) + 20, block=5, sketch=5,
                **opts))
            rows.append({"model": name, "threads": t, "row": f"trace (ours: {method} to PyHessian's stderr)",
                         "ours": f"{float(ds.hessian_trace):.5g} ± {float(ds.trace_stderr):.2g}, "
                                 f"{int(ds.trace_products)} HVP, {t_tr:.1f} s",
                         "pyhessian": f"{tr_ph:.5g} ± {se_ph:.2g}, {len(samples)} HVP, {t_ph_tr:.1f} s",
                         "speedup": f"{t_ph_tr / t_tr:.2f}"})
        for r in rows[-7:]:
            print(" | ".join(str(r[k]) for k in ("threads", "row", "ours", "pyhessian", "speedup")), flush=True)
    print(f"load after {name}: {_load()}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the comparison and print the table (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlp-examples", type=int, default=10_000)
    parser.add_argument("--resnet-examples", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pyhessian-iterations", type=int, default=30,
                        help="maxIter of PyHessian's power iteration and Hutchinson")
    parser.add_argument("--skip", choices=["mlp", "resnet"], nargs="*", default=[])
    args = parser.parse_args(argv)
    from experiments.data import load_mnist
    from experiments.models import build

    x, y = load_mnist("test", flatten=True)
    rows = []
    print(f"torch {torch.__version__}; load {_load()}", flush=True)
    if "mlp" not in args.skip:
        torch.manual_seed(0)
        rows += compare("LeNet-300-100", build("mnist_mlp"), x[: args.mlp_examples], y[: args.mlp_examples],
                        1000, args.repeats, args.threads, args.pyhessian_iterations)
    if "resnet" not in args.skip:
        torch.manual_seed(0)
        n = args.resnet_examples
        rows += compare("ResNet-20 (BN)", build("mnist_resnet20"), x[:n].view(-1, 1, 28, 28), y[:n],
                        min(n, 128), args.repeats, args.threads, args.pyhessian_iterations)
    print("\n| model | threads | row | ours | PyHessian | PyHessian time / ours |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['threads']} | {r['row']} | {r['ours']} | {r['pyhessian']} | {r['speedup']} |")
    print(f"\nload average at the end {_load()}")
    return rows


if __name__ == "__main__":
    main()
