"""A random point of large norm → the solution (Goodfellow et al. 2015, Figs. 5 right, 10 right).

"If we interpolate between a random point in space and an SGD solution, we find no
local minima besides the SGD solution." The summary counts the local minima on the
segment from the random point (α = 0) to just past the solution, and how many of
them sit clearly above the lowest value (more than 1 % of the curve's range): those
would be minima that are not solutions.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from landscapes.app.analyses.base import Context, cells, mean_std, per_split
from landscapes.app.analyses.line import Line


def count_minima(curve: np.ndarray, spurious_above: float) -> tuple[int, int]:
    """Interior local minima of a 1-D curve, and how many sit above ``spurious_above``.

    Examples
    --------
    >>> count_minima(np.array([3.0, 1.0, 2.0, 0.0, 1.0]), 0.5)
    (2, 1)
    """
    y = curve[np.isfinite(curve)]
    inner = (y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:])
    values = y[1:-1][inner]
    return int(inner.sum()), int((values > spurious_above).sum())


class RandomToFinal(Line):
    name = "random_to_final"
    reads = ("random_scale",)
    title = "random → final"
    description = "random large-norm point -> solution (Figs. 5 right, 10 right)"
    start, end, window, theory = "random", "final", (-0.5, 1.5), "random_to_final"

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        step = float(np.diff(ds.alpha.values).min())
        # The search segment from the random point (α = 0) to the solution (α = 1), with
        # one grid step beyond so the solution is an interior point.
        seg = ds.loss.sel(alpha=slice(0.0, 1.0 + 1.5 * step))
        found, spurious = [], []
        for split, c in per_split(seg):
            counts, bad = [], []
            for curve in np.asarray(c.transpose(..., "alpha")).reshape(-1, c.sizes["alpha"]):
                finite = curve[np.isfinite(curve)]
                span = float(finite.max() - finite.min()) if finite.size else 0.0
                floor = float(finite.min()) + 0.01 * span if finite.size else 0.0
                n, above = count_minima(curve, floor)
                counts.append(n)
                bad.append(above)
            found.append((split, mean_std(np.array(counts, dtype=float))))
            spurious.append((split, mean_std(np.array(bad, dtype=float))))
        return {f"minima random->final": cells(found),
                f"non-solution minima random->final": cells(spurious)}


ANALYSIS = RandomToFinal()
