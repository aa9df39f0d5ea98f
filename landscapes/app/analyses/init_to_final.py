"""init → final on α ∈ [−0.5, 1.5] (Goodfellow et al. 2015, Figs. 1–3, 9; Frankle 2020, Fig. 1).

The summary reads the segment α ∈ [0, 1] of both splits: whether the loss falls
monotonically, whether it is approximately convex apart from the flattening near the
init (judged from the start of the steepest descent on, see
:func:`landscapes.metrics.convexity`), where half the drop is covered (Frankle's "loss
remains high until close to the optimum"), and whether the solution is a minimum along
the line (the loss rises again past α = 1).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from landscapes import metrics
from landscapes.app.analyses.base import Context, cells, mean_std, per_split, share
from landscapes.app.analyses.line import Line

#: A bump below this share of the curve's range still counts as monotone: rounding and
#: the noise of a finite evaluation set, not an obstacle.
MONOTONE_RTOL = 1e-3


class InitToFinal(Line):
    name = "init_to_final"
    title = "init → final"
    description = ("small random init -> solution on [-0.5, 1.5] (Goodfellow et al. 2015 "
                   "Figs. 1-3, 9; Frankle 2020 Fig. 1; Im et al. 2016 Fig. 10)")
    start, end, window, theory = "init", "final", (-0.5, 1.5), "init_to_final"

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        seg = ds.loss.sel(alpha=slice(0.0, 1.0))
        ends, monotone, convex, half, minimum = [], [], [], [], []
        for split, c in per_split(seg):
            j0, j1 = c.sel(alpha=0.0), c.sel(alpha=1.0)
            ends.append((split, f"{mean_std(j0)} -> {mean_std(j1)}"))
            monotone.append((split, share(metrics.monotonicity(c, rtol=MONOTONE_RTOL).monotone)))
            conv = metrics.convexity(c, skip_flattening=True)
            start = metrics.flattening(c).end
            convex.append((split, f"{share(conv.convex)} from α≈{mean_std(start, '.2f')}"))
            half.append((split, mean_std(metrics.half_drop_alpha(c), ".2f")))
            minimum.append((split, share(_minimum_at_solution(ds.loss, split))))
        return {
            f"J init -> final": cells(ends),
            f"monotone init->final": cells(monotone),
            f"approx. convex past the flattening": cells(convex),
            f"half-drop alpha": cells(half),
            f"solution is a minimum along the line": cells(minimum),
        }


def _minimum_at_solution(loss: xr.DataArray, split: str | None) -> np.ndarray:
    """Whether J(1) is below both grid neighbours of α = 1, per replicate."""
    c = loss if split is None else loss.sel(split=split)
    i = int(np.argmin(np.abs(c.alpha.values - 1.0)))
    if i == 0 or i == c.sizes["alpha"] - 1:
        return np.zeros(c.sizes.get("replicate", 1), dtype=bool)
    at, before, after = (c.isel(alpha=j) for j in (i, i - 1, i + 1))
    return np.asarray((at <= before) & (at <= after))


ANALYSIS = InitToFinal()
