"""init → final on α ∈ [0.99, 1], the end (Goodfellow et al. 2015, Fig. 4d).

Whether the loss behaves more exotically where the parameters encode fully learned
features. The summary gives the descent over this last 1 % as a share of the whole
drop J_init − J_final: near 0 when training reached the bottom of the valley along
the line, larger when the solution is still on the slope (a short training run).
"""

from __future__ import annotations

import xarray as xr

from landscapes.app.analyses.base import Context, cells, mean_std, per_split
from landscapes.app.analyses.line import Line, ZoomSettings


class ZoomFinal(Line):
    name = "zoom_final"
    title = "init → final, zoom α ∈ [0.99, 1]"
    description = "init -> solution on [0.99, 1], the end (Goodfellow et al. Fig. 4d)"
    window, grid_size, theory = (0.99, 1.0), "zoom_points", "init_to_final"
    Settings = ZoomSettings

    def rows(self, ds: xr.Dataset, context: Context) -> dict[str, str]:
        if context.reference is None:
            return {}
        reference = dict(per_split(context.reference.loss))
        parts = []
        for split, z in per_split(ds.loss):
            c = reference.get(split, next(iter(reference.values())))
            drop = c.sel(alpha=0.0) - c.sel(alpha=1.0)
            last = (z.isel(alpha=0) - z.isel(alpha=-1)) / drop
            parts.append((split, mean_std(last, ".2g")))
        return {f"share of the drop in the last 1%": cells(parts)}


ANALYSIS = ZoomFinal()
