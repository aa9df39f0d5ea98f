"""Solution → solution of another replicate (Goodfellow et al. 2015, Figs. 5 left, 10 left).

Each replicate's final weights are joined to the next replicate's, so R replicates give
R pairs. The barrier is the excess of the loss over the chord between the two
solutions (:func:`landscapes.metrics.linear_barrier`, the barrier of linear mode
connectivity): zero when the two minima are linearly connected.
"""

from __future__ import annotations

import xarray as xr

from landscapes import metrics
from landscapes.app.analyses.base import Context, cells, interval_note, mean_std, per_split
from landscapes.app.analyses.line import Line


class FinalToFinal(Line):
    name = "final_to_final"
    title = "final → final"
    description = "solution -> solution of another replicate (Figs. 5 left, 10 left)"
    start, end, window, theory = "final", "other_final", (-0.5, 1.5), "final_to_final"
    min_replicates = 2
    intervals = ("linear",)

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        seg = ds.loss.sel(alpha=slice(0.0, 1.0))
        heights = [(s, mean_std(metrics.linear_barrier(c).height)
                    + interval_note(ds, "linear", s, {})) for s, c in per_split(seg)]
        return {f"barrier final->final": cells(heights)}


ANALYSIS = FinalToFinal()
