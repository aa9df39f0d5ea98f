"""The barrier between solutions against width, before and after alignment.

``python -m landscapes.widths --widths 32,128,512 --out DIR``. Entezari, Sedghi, Saukh &
Neyshabur (2022, Fig. 2) find that the barrier between two SGD solutions of an MLP
falls with width once one is permuted to match the other, and Ainsworth, Hayase &
Srinivasa (2023, Fig. 5) that the barrier after weight matching vanishes for wide
enough networks. This command trains the width family ``mnist_mlp_w<W>`` (784–W–W–10,
:data:`experiments.models.mlp.MLP_WIDTHS`) with LeNet-300-100's recipe, two replicates
(or more) each, runs the :mod:`~landscapes.app.analyses.aligned` analysis on every width
and writes ``widths.nc`` (the analysis, a ``system`` dimension per width, with its
``barrier`` per line), ``widths.csv`` (one row per width, line, split and quantity (loss or error): mean and std over
replicates) and ``widths.png``/``.pdf`` (barrier against width, one curve per line).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from landscapes import results
from landscapes.app.settings import Budget, Runtime, add_flags, budget_from_args

__all__ = ["BUDGET", "system_name", "barrier_table", "run", "main"]

#: The default budget: one epoch, 3 replicates, 5000 examples per split. Three, not two:
#: the analysis joins replicate r to r + 1, so two replicates give one pair measured both
#: ways (equal barriers, a spread of zero), three give three distinct pairs.
BUDGET = Budget(replicates=3, epochs=1.0, points=21, eval_examples=5000, align_examples=2048)


def system_name(width: int) -> str:
    """The registered system of a width.

    Examples
    --------
    >>> system_name(128)
    'mnist_mlp_w128'
    """
    from experiments.models.mlp import MLP_WIDTHS

    if width not in MLP_WIDTHS:
        raise ValueError(f"width {width!r} is not registered; choose from {list(MLP_WIDTHS)}")
    return f"mnist_mlp_w{width}"


def barrier_table(ds: xr.Dataset) -> xr.DataArray:
    """Barrier of every line, split, quantity (loss, error) and replicate, by ``width``.

    ``ds`` is the aligned analysis stacked along ``system`` (width systems).
    """
    from landscapes.app.analyses.aligned import barriers

    parts = xr.concat([barriers(ds, v) for v in ("loss", "error")], dim="quantity")
    parts = parts.assign_coords(quantity=["loss", "error"])
    widths = [int(str(s).rsplit("_w", 1)[1]) for s in ds.system.values]
    return parts.assign_coords(width=("system", widths)).swap_dims(system="width")


def run(widths: Sequence[int], budget: Budget, out: Path, *, runtime: Runtime | None = None,
        reuse: bool = True) -> xr.DataArray:
    """Train and measure every width; write the dataset, the csv and the figure to ``out``."""
    names = [system_name(w) for w in widths]
    from landscapes.app.study import Study

    study = Study(names, ["aligned"], budget, runtime or Runtime(), reuse).run()
    ds = study.stacked("aligned")
    table = barrier_table(ds)
    out.mkdir(parents=True, exist_ok=True)
    _csv(table, out / "widths.csv")
    _figure(table, out / "widths.png")
    stored = table.copy(deep=True).swap_dims(width="system").drop_vars("width")
    stored.attrs["long_name"] = "linear barrier on [0, 1] of each line (metrics.linear_barrier)"
    results.save({"aligned": ds.assign(barrier=stored)}, out / "widths.nc")
    return table


def _csv(table: xr.DataArray, path: Path) -> None:
    lines = ["width,line,split,quantity,mean,std,replicates"]
    for w in table.width.values:
        for line in table.line.values:
            for split in table.split.values:
                for var in table.quantity.values:
                    v = np.asarray(table.sel(width=w, line=line, split=split, quantity=var))
                    lines.append(f"{int(w)},{line},{split},{var},{np.nanmean(v):.6g},"
                                 f"{np.nanstd(v):.3g},{np.isfinite(v).sum()}")
    results.atomic_write(path, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))


def _figure(table: xr.DataArray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [str(s) for s in table.split.values]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.4), squeeze=False)
    for ax, split in zip(axes.flat, splits):
        for line in table.line.values:
            c = table.sel(split=split, quantity="loss", line=line)
            ax.errorbar(c.width, c.mean("replicate"), c.std("replicate"), marker="o",
                        capsize=3, label=str(line))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden width W (784–W–W–10)")
        ax.set_ylabel(f"{split} loss barrier")
        ax.set_title(f"MNIST MLPs, {split}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        results.atomic_write(target, lambda tmp, s=suffix: fig.savefig(tmp, dpi=110, format=s[1:]))
    plt.close(fig)


def _widths(text: str) -> list[int]:
    try:
        return [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--widths takes integers like 32,128,512, got "
                                         f"{text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a user error, with no traceback)."""
    from experiments.models.mlp import MLP_WIDTHS

    p = argparse.ArgumentParser(prog="python -m landscapes.widths", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=_widths, default=list(MLP_WIDTHS),
                   help=f"hidden widths (default {','.join(map(str, MLP_WIDTHS))})")
    p.add_argument("--out", type=Path, default=Path("widths"), help="output folder")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--data-dir", help="data root (default $LANDSCAPES_DATA)")
    p.add_argument("--runs-dir", help="run store of the trained networks")
    p.add_argument("--fresh", action="store_true", help="recompute instead of reading the cache")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_flags(p, BUDGET)
    args = p.parse_args(argv)
    try:
        budget = budget_from_args(BUDGET, args)
        for w in args.widths:
            system_name(w)
        from landscapes.devices import resolve_device

        runtime = Runtime(device=str(resolve_device(args.device)), data_dir=args.data_dir,
                          runs_dir=args.runs_dir, progress=False if args.quiet else None)
    except ValueError as exc:
        p.error(str(exc))
    start = time.perf_counter()
    table = run(args.widths, budget, args.out, runtime=runtime, reuse=not args.fresh)
    print((args.out / "widths.csv").read_text())
    print(f"wrote {args.out / 'widths.nc'}, {args.out / 'widths.csv'}, "
          f"{args.out / 'widths.png'} in {time.perf_counter() - start:.0f} s "
          f"({table.sizes['width']} widths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
