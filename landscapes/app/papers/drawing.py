"""Small plotting pieces the paper figures share: raw loss curves with replicate bands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["figure", "band", "curves", "SPLIT_STYLE"]

#: Line style of each split: the training objective solid, held-out data dashed.
SPLIT_STYLE = {"train": "-", "test": "--", None: "-"}


def figure(ncols: int, nrows: int = 1, width: float = 4.2, height: float = 3.3) -> tuple[Figure, Any]:
    """A figure with a grid of axes (always 2-D), on the non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes


def band(ax: Axes, x: Any, values: xr.DataArray, label: str | None = None, **style: Any) -> None:
    """Mean over ``replicate`` with a ± one standard deviation band."""
    if "replicate" in values.dims:
        mean, std = values.mean("replicate").values, values.std("replicate").values
    else:
        mean, std = values.values, np.zeros(values.shape)
    (line,) = ax.plot(x, mean, label=label, **style)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)


def curves(ax: Axes, ds: xr.Dataset, var: str = "loss", label: str = "",
           splits: tuple[str, ...] | None = None, **style: Any) -> None:
    """``var`` along α of one system, a line per split (train solid, test dashed)."""
    da = ds[var]
    names = [str(s) for s in da.split.values] if "split" in da.dims else [None]
    for split in names:
        if splits is not None and split not in splits:
            continue
        sub = da if split is None else da.sel(split=split)
        text = " ".join(t for t in (label, split or "") if t) or None
        band(ax, sub.alpha.values, sub, label=text, ls=SPLIT_STYLE[split], **style)
    ax.set_xlabel("α")
