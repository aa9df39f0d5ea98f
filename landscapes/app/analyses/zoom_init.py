"""init → final on α ∈ [0, 0.01], the start (Goodfellow et al. 2015, Fig. 4c).

Whether the initial symmetry breaking puts a difficult structure right at the init.
The summary gives the descent rate over this first 1 % of the line as a share of the
steepest descent rate anywhere on [0, 1] of init→final: a share well below 1 is the
"flattening near α = 0" that Goodfellow et al. attribute to the saddle at the origin.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from landscapes.app.analyses.base import Context, cells, mean_std, per_split, share
from landscapes.app.analyses.line import Line, ZoomSettings

#: The start counts as flat when it descends at less than this share of the steepest rate.
FLAT = 1 / 3


class ZoomInit(Line):
    name = "zoom_init"
    title = "init → final, zoom α ∈ [0, 0.01]"
    description = "init -> solution on [0, 0.01], the start (Goodfellow et al. Fig. 4c)"
    window, grid_size, theory = (0.0, 0.01), "zoom_points", "init_to_final"
    Settings = ZoomSettings

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        if context.reference is None:
            return {}
        parts = []
        reference = dict(per_split(context.reference.loss.sel(alpha=slice(0.0, 1.0))))
        for split, z in per_split(ds.loss):
            start = (z.isel(alpha=0) - z.isel(alpha=-1)) / float(z.alpha[-1] - z.alpha[0])
            c = reference.get(split, next(iter(reference.values())))
            steepest = (-c.diff("alpha") / c.alpha.diff("alpha")).max("alpha")
            ratio = np.asarray(start / steepest)
            parts.append((split, f"{share(ratio < FLAT).split()[0]} ({mean_std(ratio, '.2f')})"))
        return {f"flat near init (slope ratio)": cells(parts)}


ANALYSIS = ZoomInit()
