"""init → final at high resolution on [0, 1] (Goodfellow et al. 2015, Fig. 4a–b).

Goodfellow et al. tile [0, 1] with 200 values of α to check that a coarse grid hides
no small non-convex structure; the summary counts the interior local minima the fine
grid finds on each split (none, for the paper's networks).
"""

from __future__ import annotations

import xarray as xr

from landscapes import metrics
from landscapes.app.analyses.base import Context, cells, mean_std, per_split
from landscapes.app.analyses.line import Line, ZoomSettings


class Zoom(Line):
    name = "zoom"
    title = "init → final, zoom α ∈ [0, 1]"
    description = "init -> solution at high resolution on [0, 1] (Goodfellow et al. Fig. 4a-b)"
    window, grid_size, theory = (0.0, 1.0), "zoom_points", "init_to_final"
    Settings = ZoomSettings

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        counts = [(s, mean_std(metrics.local_minima(c), ".2g")) for s, c in per_split(ds.loss)]
        return {f"interior minima at high resolution": cells(counts)}


ANALYSIS = Zoom()
